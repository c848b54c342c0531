"""One worker process: I model instances, warm-up, a timed closed loop, raw integer timestamps.

`worker_main` is a top-level function so it works under the `spawn` start method; sessions are
created inside the child. Each instance is driven by its own thread (ONNX Runtime releases the
GIL inside `run`), pulling work from a source shared by the instances of this process (and, in
datalist mode, by every process), and serving each request with request.timed_request. Nothing is
formatted or printed here: the parent gets raw arrays and computes statistics afterwards.

The clock is injected (worker_main's `clock`, the local pool's own): every stamp, the sources'
deadlines and the open-loop waits read it, so tests can drive time.
"""
from __future__ import annotations

import functools
import itertools
import math
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vampy.engines.base import EngineOptions, build_pending
from vampy.execution.datalist_task import DatalistInputs, NpzSink, NpzWriter
from vampy.execution.job import DatalistTask, RunJob
from vampy.execution.request import NO_OUTPUTS, Clock, Failure, Instance, Ledger, OutputSink, SyntheticInputs, timed_request
from vampy.execution.shared import die_with_parent
from vampy.measure.records import COLUMNS, Recorder, WorkerResult

# Messages on the result queue: (kind, worker_index, payload)
MSG_READY = "ready"
MSG_DONE = "done"
MSG_ERROR = "error"


@dataclass(frozen=True)
class WorkerSpec:
    """One worker's share of a job: the job itself, and which worker this is."""

    job: RunJob
    worker_index: int
    allow_spinning: bool = True
    max_npz_bytes: int = 1 << 30


def worker_main(spec: WorkerSpec, results: Any, start_event: Any, stop_event: Any, progress: Any, task_counter: Any, inflight: Any,
                clock: Clock = time.perf_counter_ns, parent_pid: int | None = None) -> None:
    """Process entry point. Reports READY, waits for the common start, runs, reports DONE or ERROR.

    `clock` stamps every request; the parent's watchdog compares its own clock with the in-flight
    stamps, so both must be the same monotonic clock (perf_counter_ns is one clock for all processes).
    `parent_pid`: the worker ends when that process dies (execution/shared.die_with_parent)."""
    if parent_pid is not None:
        die_with_parent(parent_pid)
    # Ctrl-C reaches the whole process group; the parent decides how to stop (via stop_event),
    # so that the child always gets to send what it measured.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        shared = SharedCounters(progress, inflight, stop_event)
        result = _run_worker(spec, results, start_event, shared, task_counter, clock)
        results.put((MSG_DONE, spec.worker_index, result))
    except BaseException:  # noqa: BLE001 - everything goes back to the parent as text
        results.put((MSG_ERROR, spec.worker_index, traceback.format_exc()))


@dataclass(frozen=True)
class SharedCounters:
    """What the parent watches: samples done and the start of the request in flight, per instance."""

    progress: Any  # int64 per instance slot: samples finished
    inflight: Any  # int64 per instance slot: start ns of the request in flight, 0 when idle
    stop_event: Any



def _run_worker(spec: WorkerSpec, results: Any, start_event: Any, shared: SharedCounters, task_counter: Any, clock: Clock) -> WorkerResult:
    sessions, drivers = open_instances(spec, clock, shared)
    slowest_warmup_ns = warm_up_all(drivers)
    results.put((MSG_READY, spec.worker_index, slowest_warmup_ns))
    stop_event = shared.stop_event
    while not start_event.wait(0.1):
        if stop_event.is_set():
            break
    source = _make_source(spec, task_counter, clock)
    _threaded([functools.partial(d.loop, source) for d in drivers])
    result = _collect(spec, drivers, stop_event.is_set())
    if spec.job.profile_dir is not None:
        result.profile_files = [f for f in (s.end_profiling() for s in sessions) if f is not None]
    result.engine = sessions[0].info.to_dict() if sessions else None
    return result


def open_instances(spec: WorkerSpec, clock: Clock, shared: SharedCounters) -> tuple[list[Any], list[_Driver]]:
    """The worker's I sessions, through its engine, each with the driver that runs it."""
    from vampy.engines.base import get_engine

    engine = get_engine(spec.job.engine)
    sessions = [engine.open(Path(spec.job.model_path), _engine_options(spec, k)) for k in range(spec.job.instances)]
    rng = np.random.default_rng(spec.job.seed + 7919 * spec.worker_index)
    return sessions, [_Driver(spec, k, session, rng, clock, shared) for k, session in enumerate(sessions)]


def warm_up_all(drivers: list[_Driver]) -> int:
    """Warm every instance up at once; the slowest warm-up request in ns (the watchdog's base)."""
    _threaded([d.warm_up for d in drivers])
    return max((v for d in drivers for v in d.warm_e2e_ns), default=0)


def _engine_options(spec: WorkerSpec, instance: int) -> EngineOptions:
    profile = None if spec.job.profile_dir is None else str(Path(spec.job.profile_dir) / f"worker{spec.worker_index}_instance{instance}")
    job = spec.job
    return EngineOptions(device=job.device, device_id=job.device_id, intra_threads=job.intra_threads, allow_spinning=spec.allow_spinning,
                         profile_prefix=profile, precision=job.infer_precision, streams=job.instances,
                         null_compute_us=job.null_compute_us)


def _threaded(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run jobs on one thread each; re-raise the first failure in the caller's thread."""
    out: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def call(i: int) -> None:
        try:
            out[i] = jobs[i]()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,), daemon=True) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return out


class _PerfSource:
    """Closed loop: request numbers 0..requests-1, or unbounded until the deadline, each
    started as soon as an instance is free (arrival None). Shared by the threads."""

    def __init__(self, requests: int | None, deadline_ns: int | None, clock: Clock) -> None:
        self._counter = itertools.count()  # next() on it is atomic under the GIL
        self._requests = requests
        self._deadline_ns = deadline_ns
        self._clock = clock

    def next(self) -> tuple[int, int | None] | None:
        if self._deadline_ns is not None and self._clock() >= self._deadline_ns:
            return None
        i = next(self._counter)
        return (i, None) if self._requests is None or i < self._requests else None


class _OpenLoopSource:
    """Open loop: request i is due at start + offsets[i], whether or not earlier ones finished."""

    def __init__(self, offsets_ns: np.ndarray, start_ns: int, deadline_ns: int | None, clock: Clock) -> None:
        self._counter = itertools.count()
        self._due_ns = offsets_ns + start_ns
        self._deadline_ns = deadline_ns  # with -t, what is still queued at the end is not served
        self._clock = clock

    def next(self) -> tuple[int, int | None] | None:
        if self._deadline_ns is not None and self._clock() >= self._deadline_ns:
            return None
        i = next(self._counter)
        return (i, int(self._due_ns[i])) if i < self._due_ns.size else None


class _TaskSource:
    """Datalist tasks handed out across all processes through one shared counter."""

    def __init__(self, tasks: tuple[DatalistTask, ...], counter: Any) -> None:
        self._tasks = tasks
        self._counter = counter

    def next(self) -> DatalistTask | None:
        with self._counter.get_lock():
            i = self._counter.value
            self._counter.value = i + 1
        return self._tasks[i] if i < len(self._tasks) else None


def _make_source(spec: WorkerSpec, task_counter: Any, clock: Clock) -> _PerfSource | _OpenLoopSource | _TaskSource:
    if spec.job.shards:
        return _TaskSource(spec.job.shards, task_counter)
    if spec.job.request_rate_per_s is not None:
        from vampy.measure.schedule import arrivals_for

        rng = np.random.default_rng(spec.job.seed * 1_000_003 + spec.worker_index)
        stop = spec.job.stop
        offsets = arrivals_for(spec.job.request_rate_per_s, spec.job.arrival, rng, stop.requests_per_process, stop.duration_s)
        start = clock()
        deadline = start + int(spec.job.stop.duration_s * 1e9) if spec.job.stop.duration_s is not None else None
        return _OpenLoopSource(offsets, start, deadline, clock)
    deadline = clock() + int(spec.job.stop.duration_s * 1e9) if spec.job.stop.duration_s is not None else None
    return _PerfSource(spec.job.stop.requests_per_process, deadline, clock)


class _Driver:
    """One model instance and the thread that drives it: each request from the worker's source goes
    through request.timed_request with this instance's inputs and output sink."""

    def __init__(self, spec: WorkerSpec, index: int, session: Any, rng: np.random.Generator, clock: Clock, shared: SharedCounters) -> None:
        self.spec = spec
        self.index = index
        self.session = session
        self.clock = clock
        self.progress = shared.progress
        self.slot = spec.worker_index * spec.job.instances + index
        self.stop_event = shared.stop_event
        self.instance = Instance(session, clock, shared.inflight, self.slot)
        job = spec.job
        self.synthetic = SyntheticInputs(job.plan, rng)
        # Datalist lines come from npz files on this machine and their outputs go into --path_output
        # here; a cluster executor hands run_task its own strategies instead (ray_executor.py).
        self.lines = DatalistInputs(job.plan.datalist_keys, spec.max_npz_bytes, plan=job.plan)
        self.writer = NpzWriter(job.output_dir) if job.output_dir is not None else None
        self.sink: OutputSink = NpzSink(self.writer, job.output_dtype, self.stop_event.set) if self.writer else NO_OUTPUTS
        capacity = math.ceil(job.stop.requests_per_process / job.instances) * 2 if job.stop.requests_per_process else 1024
        self.ledger = Ledger(Recorder(capacity if not job.shards else max(1, len(job.shards))))
        self.warm_e2e_ns: list[int] = []
        self.warm_model_ns: list[int] = []

    @property
    def record(self) -> Recorder:
        return self.ledger.record

    @property
    def failures(self) -> list[Failure]:
        return self.ledger.failures

    def warm_up(self) -> None:
        if build_pending(self.session):
            # TensorRT's engine build (dynamic shapes: on the first request) goes into build_s only: not
            # a warm-up figure, nor the base of the automatic --timeout, even with --warmup 0.
            timed_request(self.instance, self.spec.job.plan, self.synthetic.samples, NO_OUTPUTS, Ledger(Recorder(1)))
        warm = Ledger(Recorder(self.spec.job.warmup_requests))
        for _ in range(self.spec.job.warmup_requests):
            timed_request(self.instance, self.spec.job.plan, self.synthetic.samples, NO_OUTPUTS, warm)
        rows = warm.record.arrays()
        self.warm_e2e_ns = (rows["end_ns"] - rows["start_ns"]).tolist()
        self.warm_model_ns = (rows["model_end_ns"] - rows["model_start_ns"]).tolist()

    def loop(self, source: _PerfSource | _OpenLoopSource | _TaskSource) -> None:
        plan = self.spec.job.plan
        while not self.stop_event.is_set():
            task = source.next()
            if task is None:
                return
            if isinstance(task, DatalistTask):
                self.run_task(task, self.lines, self.sink, self.ledger)
                continue
            due_ns = task[1]
            if due_ns is not None and not self._wait_until(due_ns):
                return
            timed_request(self.instance, plan, self.synthetic.samples, NO_OUTPUTS, self.ledger, due_ns)
            self.progress[self.slot] += plan.batch_size

    def run_task(self, task: DatalistTask, lines: DatalistInputs, sink: OutputSink, ledger: Ledger) -> None:
        """One shard of datalist lines: read them, then one timed request (a row per batch of one shape)."""
        samples = lines.read(task.items, ledger.failures)
        timed_request(self.instance, self.spec.job.plan, samples, sink, ledger)
        self.progress[self.slot] += len(task.items)

    def _wait_until(self, due_ns: int) -> bool:
        """Sleep until a scheduled arrival; False when the run is being stopped meanwhile."""
        delay_ns = due_ns - self.clock()
        if delay_ns > 0:
            return not self.stop_event.wait(delay_ns / 1e9)
        return True


def _collect(spec: WorkerSpec, drivers: list[_Driver], stopped_early: bool) -> WorkerResult:
    parts = [d.record.arrays() for d in drivers]
    instance = np.concatenate([np.full(p["end_ns"].size, d.index, np.int64) for p, d in zip(parts, drivers)])
    return WorkerResult(
        worker_index=spec.worker_index,
        pid=os.getpid(),
        columns={name: np.concatenate([p[name] for p in parts]) for name in COLUMNS},
        instance=instance,
        warmup_e2e_ns=np.array([v for d in drivers for v in d.warm_e2e_ns], np.int64),
        warmup_model_ns=np.array([v for d in drivers for v in d.warm_model_ns], np.int64),
        failures=[f for d in drivers for f in d.failures],
        outputs_written=sum(d.writer.written for d in drivers if d.writer),
        fatal_output_error=next((d.writer.fatal for d in drivers if d.writer and d.writer.fatal), None),
        stopped_early=stopped_early,
    )
