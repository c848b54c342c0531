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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from vampy.data.inputs import InputPlan, batch_feed, sample_tensor, synthetic_raw

Clock = Callable[[], int]

# Messages on the result queue: (kind, worker_index, payload)
MSG_READY = "ready"
MSG_DONE = "done"
MSG_ERROR = "error"


@dataclass(frozen=True)
class DatalistTask:
    """Datalist lines for one worker request group: (output index, npz path) pairs."""

    items: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class WorkerSpec:
    worker_index: int
    model_path: str
    instances: int
    intra_threads: int
    plan: InputPlan
    requests: int | None  # per process in performance mode; None: until the deadline
    duration_s: float | None
    warmup_requests: int  # per instance, before the common start
    seed: int
    output_names: tuple[str, ...] = ()
    tasks: tuple[DatalistTask, ...] = ()  # datalist mode: shared by all workers
    output_dir: str | None = None
    output_dtype: str = "model"
    allow_spinning: bool = True
    max_npz_bytes: int = 1 << 30
    request_rate_per_s: float | None = None  # open loop: this process's requests per second
    arrival: str = "poisson"
    profile_dir: str | None = None


# One row per request. queue = start - arrival, preprocess = model_start - start,
# model = model_end - model_start, output = end - model_end; e2e = end - arrival is their sum.
COLUMNS = ("arrival_ns", "start_ns", "model_start_ns", "model_end_ns", "end_ns", "samples")


class Recorder:
    """Preallocated per-thread record; grows (outside the timed span) only in duration mode."""

    def __init__(self, capacity: int) -> None:
        self.rows = np.zeros((max(1, capacity), len(COLUMNS)), np.int64)
        self.n = 0

    def add(self, arrival_ns: int, start_ns: int, model_start_ns: int, model_end_ns: int, end_ns: int, samples: int) -> None:
        if self.n == self.rows.shape[0]:
            self.rows = np.concatenate([self.rows, np.zeros_like(self.rows)])
        self.rows[self.n] = (arrival_ns, start_ns, model_start_ns, model_end_ns, end_ns, samples)
        self.n += 1

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: self.rows[: self.n, k].copy() for k, name in enumerate(COLUMNS)}


@dataclass
class WorkerResult:
    worker_index: int
    pid: int
    columns: dict[str, np.ndarray]  # COLUMNS, one entry per request
    instance: np.ndarray
    warmup_e2e_ns: np.ndarray
    warmup_model_ns: np.ndarray
    failures: list[tuple[int, str, str]] = field(default_factory=list)  # (index, path, reason)
    outputs_written: int = 0
    stopped_early: bool = False
    profile_files: list[str] = field(default_factory=list)
    fatal_output_error: str | None = None  # the output folder refused files: the run stopped


def worker_main(spec: WorkerSpec, results: Any, start_event: Any, stop_event: Any, progress: Any, task_counter: Any, inflight: Any) -> None:
    """Process entry point. Reports READY, waits for the common start, runs, reports DONE or ERROR."""
    # Ctrl-C reaches the whole process group; the parent decides how to stop (via stop_event),
    # so that the child always gets to send what it measured.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        shared = _Shared(progress, inflight, stop_event)
        result = _run_worker(spec, results, start_event, shared, task_counter, time.perf_counter_ns)
        results.put((MSG_DONE, spec.worker_index, result))
    except BaseException:  # noqa: BLE001 - everything goes back to the parent as text
        results.put((MSG_ERROR, spec.worker_index, traceback.format_exc()))


@dataclass(frozen=True)
class _Shared:
    """What the parent watches: samples done and the start of the request in flight, per instance."""

    progress: Any  # int64 per instance slot: samples finished
    inflight: Any  # int64 per instance slot: start ns of the request in flight, 0 when idle
    stop_event: Any


def _run_worker(spec: WorkerSpec, results: Any, start_event: Any, shared: _Shared, task_counter: Any, clock: Clock) -> WorkerResult:
    from vampy.models.graph import open_session

    sessions = [open_session(Path(spec.model_path), spec.intra_threads, 1, spec.allow_spinning, _profile_prefix(spec, k)) for k in range(spec.instances)]
    rng = np.random.default_rng(spec.seed + 7919 * spec.worker_index)
    drivers = [_Driver(spec, k, session, rng, clock, shared) for k, session in enumerate(sessions)]
    _threaded([d.warm_up for d in drivers])
    slowest_warmup_ns = max((v for d in drivers for v in d.warm_e2e_ns), default=0)
    results.put((MSG_READY, spec.worker_index, slowest_warmup_ns))
    stop_event = shared.stop_event
    while not start_event.wait(0.1):
        if stop_event.is_set():
            break
    source = _make_source(spec, task_counter, clock)
    _threaded([functools.partial(d.loop, source) for d in drivers])
    result = _collect(spec, drivers, stop_event.is_set())
    if spec.profile_dir is not None:
        result.profile_files = [s.end_profiling() for s in sessions]
    return result


def _profile_prefix(spec: WorkerSpec, instance: int) -> str | None:
    if spec.profile_dir is None:
        return None
    return str(Path(spec.profile_dir) / f"worker{spec.worker_index}_instance{instance}")


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
    if spec.tasks:
        return _TaskSource(spec.tasks, task_counter)
    if spec.request_rate_per_s is not None:
        from vampy.measure.schedule import arrivals_for

        rng = np.random.default_rng(spec.seed * 1_000_003 + spec.worker_index)
        offsets = arrivals_for(spec.request_rate_per_s, spec.arrival, rng, spec.requests, spec.duration_s)
        start = clock()
        deadline = start + int(spec.duration_s * 1e9) if spec.duration_s is not None else None
        return _OpenLoopSource(offsets, start, deadline, clock)
    deadline = clock() + int(spec.duration_s * 1e9) if spec.duration_s is not None else None
    return _PerfSource(spec.requests, deadline, clock)


class _Driver:
    """One model instance and the thread that drives it."""

    def __init__(self, spec: WorkerSpec, index: int, session: Any, rng: np.random.Generator, clock: Clock, shared: _Shared) -> None:
        self.spec = spec
        self.index = index
        self.session = session
        self.clock = clock
        self.progress = shared.progress
        self.inflight = shared.inflight
        self.slot = spec.worker_index * spec.instances + index
        self.stop_event = shared.stop_event
        plan = spec.plan
        # One batch of raw inputs per instance: preprocessing runs on it for every request,
        # as the device would for fresh frames.
        self.raw = [[synthetic_raw(s, plan.spec, rng) for s in plan.slots] for _ in range(plan.batch_size)]
        capacity = math.ceil(spec.requests / spec.instances) * 2 if spec.requests else 1024
        self.record = Recorder(capacity if not spec.tasks else max(1, len(spec.tasks)))
        self.warm_e2e_ns: list[int] = []
        self.warm_model_ns: list[int] = []
        self.failures: list[tuple[int, str, str]] = []
        self.outputs_written = 0
        self.fatal_output_error: str | None = None

    def _synthetic_request(self) -> tuple[int, int, int, int]:
        """One request on the synthetic batch -> (start, model_start, model_end, end) in ns.

        The outputs are numpy arrays in host memory as soon as `run` returns (CPU provider), so
        output handling here is nothing; in datalist mode it is the conversion and the npz write.
        """
        plan = self.spec.plan
        t0 = self.begin()
        feed = batch_feed(plan, [[sample_tensor(s, plan, raw) for s, raw in zip(plan.slots, sample)] for sample in self.raw])
        t1 = self.clock()
        self.session.run(None, feed)
        t2 = self.clock()
        t3 = self.clock()
        self.end()
        return t0, t1, t2, t3

    def begin(self) -> int:
        """Start a request: stamp it for the parent's --timeout watchdog."""
        t0 = self.clock()
        self.inflight[self.slot] = t0
        return t0

    def end(self) -> None:
        self.inflight[self.slot] = 0

    def warm_up(self) -> None:
        for _ in range(self.spec.warmup_requests):
            t0, t1, t2, t3 = self._synthetic_request()
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
            t0, t1, t2, t3 = self._synthetic_request()
            self.record.add(t0 if due_ns is None else due_ns, t0, t1, t2, t3, self.spec.plan.batch_size)
            self.progress[self.slot] += self.spec.plan.batch_size

    def _wait_until(self, due_ns: int) -> bool:
        """Sleep until a scheduled arrival; False when the run is being stopped meanwhile."""
        delay_ns = due_ns - self.clock()
        if delay_ns > 0:
            return not self.stop_event.wait(delay_ns / 1e9)
        return True

    def _run_task(self, task: DatalistTask) -> None:
        from vampy.execution.datalist_task import run_datalist_task

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
