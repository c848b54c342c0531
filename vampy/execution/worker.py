"""One worker process: I model instances, warm-up, a timed closed loop, raw integer timestamps.

`worker_main` is a top-level function so it works under the `spawn` start method; sessions are
created inside the child. Each instance is driven by its own thread (ONNX Runtime releases the
GIL inside `run`), pulling work from a source shared by the instances of this process (and, in
datalist mode, by every process). Nothing is formatted or printed here: the parent gets raw
arrays and computes statistics afterwards.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from vampy.engines.base import EngineOptions, build_pending, has_split
from vampy.execution.datalist_task import run_datalist_task
from vampy.execution.job import DatalistTask, RunJob
from vampy.formats.npz import load_input_npz
from vampy.measure.records import COLUMNS, Recorder, WorkerResult
from vampy.data.inputs import batch_feed, sample_tensor, synthetic_raw

Clock = Callable[[], int]

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


def worker_main(spec: WorkerSpec, results: Any, start_event: Any, stop_event: Any, progress: Any, task_counter: Any, inflight: Any) -> None:
    """Process entry point. Reports READY, waits for the common start, runs, reports DONE or ERROR."""
    # Ctrl-C reaches the whole process group; the parent decides how to stop (via stop_event),
    # so that the child always gets to send what it measured.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        shared = SharedCounters(progress, inflight, stop_event)
        result = _run_worker(spec, results, start_event, shared, task_counter, time.perf_counter_ns)
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
                         profile_prefix=profile, precision=job.infer_precision, streams=job.instances)


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
        offsets = arrivals_for(spec.job.request_rate_per_s, spec.job.arrival, rng, spec.job.stop.requests_per_process, spec.job.stop.duration_s)
        start = clock()
        deadline = start + int(spec.job.stop.duration_s * 1e9) if spec.job.stop.duration_s is not None else None
        return _OpenLoopSource(offsets, start, deadline, clock)
    deadline = clock() + int(spec.job.stop.duration_s * 1e9) if spec.job.stop.duration_s is not None else None
    return _PerfSource(spec.job.stop.requests_per_process, deadline, clock)


class _Driver:
    """One model instance and the thread that drives it."""

    def __init__(self, spec: WorkerSpec, index: int, session: Any, rng: np.random.Generator, clock: Clock, shared: SharedCounters) -> None:
        self.spec = spec
        self.index = index
        self.session = session
        self.clock = clock
        self.progress = shared.progress
        self.inflight = shared.inflight
        self.slot = spec.worker_index * spec.job.instances + index
        self.stop_event = shared.stop_event
        plan = spec.job.plan
        # One batch of raw inputs per instance: preprocessing runs on it for every request,
        # as the device would for fresh frames.
        self.raw = [[synthetic_raw(s, plan.spec, rng) for s in plan.slots] for _ in range(plan.batch_size)]
        capacity = math.ceil(spec.job.stop.requests_per_process / spec.job.instances) * 2 if spec.job.stop.requests_per_process else 1024
        self.record = Recorder(capacity if not spec.job.shards else max(1, len(spec.job.shards)))
        self.warm_e2e_ns: list[int] = []
        self.warm_model_ns: list[int] = []
        self.failures: list[tuple[int, str, str]] = []
        self.outputs_written = 0
        self.fatal_output_error: str | None = None
        # Where datalist inputs come from and outputs go: files on this machine by default; a
        # cluster executor ships both through its object store instead (ray_executor.py).
        self.read_npz: Callable[..., dict[str, np.ndarray]] = load_input_npz
        self.output_sink: Callable[[int, dict[str, np.ndarray]], None] | None = None
        self._split = has_split(session)

    def infer(self, feed: dict[str, np.ndarray]) -> tuple[Sequence[np.ndarray], tuple[int, int]]:
        """Outputs and (compute_start, compute_end) ns: a device session's copies timed apart, (0, 0) otherwise."""
        if self._split:
            return self.session.run_split(feed, self.clock)  # type: ignore[no-any-return]
        return self.session.run(feed), (0, 0)

    def _synthetic_request(self) -> tuple[int, int, int, int, tuple[int, int]]:
        """One request on the synthetic batch -> (start, model_start, model_end, end, compute) in ns.

        The outputs are numpy arrays in host memory as soon as the session returns (a device
        session copies them back inside the model span), so output handling here is nothing; in
        datalist mode it is the conversion and the npz write.
        """
        plan = self.spec.job.plan
        t0 = self.begin()
        feed = batch_feed(plan, [[sample_tensor(s, plan, raw) for s, raw in zip(plan.slots, sample)] for sample in self.raw])
        t1 = self.clock()
        _, compute_ns = self.infer(feed)
        t2 = self.clock()
        t3 = self.clock()
        self.end()
        return t0, t1, t2, t3, compute_ns

    def begin(self) -> int:
        """Start a request: stamp it for the parent's --timeout watchdog."""
        t0 = self.clock()
        self.inflight[self.slot] = t0
        return t0

    def end(self) -> None:
        self.inflight[self.slot] = 0

    def warm_up(self) -> None:
        if build_pending(self.session):
            # TensorRT's engine build (dynamic shapes: on the first request) goes into build_s only: not
            # a warm-up figure, nor the base of the automatic --timeout, even with --warmup 0.
            self._synthetic_request()
        for _ in range(self.spec.job.warmup_requests):
            t0, t1, t2, t3, _ = self._synthetic_request()
            self.warm_e2e_ns.append(t3 - t0)
            self.warm_model_ns.append(t2 - t1)

    def loop(self, source: _PerfSource | _OpenLoopSource | _TaskSource) -> None:
        while not self.stop_event.is_set():
            task = source.next()
            if task is None:
                return
            if isinstance(task, DatalistTask):
                self._run_task(task)
                continue
            due_ns = task[1]
            if due_ns is not None and not self._wait_until(due_ns):
                return
            t0, t1, t2, t3, compute_ns = self._synthetic_request()
            self.record.add(t0 if due_ns is None else due_ns, t0, t1, t2, t3, self.spec.job.plan.batch_size, compute_ns)
            self.progress[self.slot] += self.spec.job.plan.batch_size

    def _wait_until(self, due_ns: int) -> bool:
        """Sleep until a scheduled arrival; False when the run is being stopped meanwhile."""
        delay_ns = due_ns - self.clock()
        if delay_ns > 0:
            return not self.stop_event.wait(delay_ns / 1e9)
        return True

    def _run_task(self, task: DatalistTask) -> None:
        run_datalist_task(self, task)


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
        outputs_written=sum(d.outputs_written for d in drivers),
        fatal_output_error=next((d.fatal_output_error for d in drivers if d.fatal_output_error), None),
        stopped_early=stopped_early,
    )
