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

from vampy.inputs import InputPlan, batch_feed, pad_batch, sample_tensor, synthetic_raw

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


@dataclass
class Recorder:
    """Preallocated per-thread record; grows (outside the timed span) only in duration mode."""

    capacity: int
    n: int = 0
    start_ns: np.ndarray = field(init=False)
    model_start_ns: np.ndarray = field(init=False)
    end_ns: np.ndarray = field(init=False)
    samples: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.capacity = max(1, self.capacity)
        self.start_ns = np.zeros(self.capacity, np.int64)
        self.model_start_ns = np.zeros(self.capacity, np.int64)
        self.end_ns = np.zeros(self.capacity, np.int64)
        self.samples = np.zeros(self.capacity, np.int64)

    def add(self, start_ns: int, model_start_ns: int, end_ns: int, samples: int) -> None:
        if self.n == self.capacity:
            self._grow()
        i = self.n
        self.start_ns[i], self.model_start_ns[i], self.end_ns[i], self.samples[i] = start_ns, model_start_ns, end_ns, samples
        self.n = i + 1

    def _grow(self) -> None:
        self.capacity *= 2
        for name in ("start_ns", "model_start_ns", "end_ns", "samples"):
            old = getattr(self, name)
            new = np.zeros(self.capacity, np.int64)
            new[: old.size] = old
            setattr(self, name, new)

    def arrays(self) -> dict[str, np.ndarray]:
        n = self.n
        return {"start_ns": self.start_ns[:n], "model_start_ns": self.model_start_ns[:n], "end_ns": self.end_ns[:n], "samples": self.samples[:n]}


@dataclass
class WorkerResult:
    worker_index: int
    pid: int
    start_ns: np.ndarray
    model_start_ns: np.ndarray
    end_ns: np.ndarray
    samples: np.ndarray
    instance: np.ndarray
    warmup_e2e_ns: np.ndarray
    warmup_model_ns: np.ndarray
    failures: list[tuple[int, str, str]] = field(default_factory=list)  # (index, path, reason)
    outputs_written: int = 0
    stopped_early: bool = False


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
    from vampy.model import open_session

    sessions = [open_session(Path(spec.model_path), spec.intra_threads, 1, spec.allow_spinning) for _ in range(spec.instances)]
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
    return _collect(spec, drivers, stop_event.is_set())


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
    """Request numbers 0..requests-1, or unbounded until the deadline; shared by the threads."""

    def __init__(self, requests: int | None, deadline_ns: int | None, clock: Clock) -> None:
        self._counter = itertools.count()  # next() on it is atomic under the GIL
        self._requests = requests
        self._deadline_ns = deadline_ns
        self._clock = clock

    def next(self) -> int | None:
        if self._deadline_ns is not None and self._clock() >= self._deadline_ns:
            return None
        i = next(self._counter)
        return i if self._requests is None or i < self._requests else None


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


def _make_source(spec: WorkerSpec, task_counter: Any, clock: Clock) -> _PerfSource | _TaskSource:
    if spec.tasks:
        return _TaskSource(spec.tasks, task_counter)
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

    def _synthetic_request(self) -> tuple[int, int, int]:
        plan = self.spec.plan
        t0 = self.begin()
        feed = batch_feed(plan, [[sample_tensor(s, plan, raw) for s, raw in zip(plan.slots, sample)] for sample in self.raw])
        t1 = self.clock()
        self.session.run(None, feed)
        t2 = self.clock()
        self.end()
        return t0, t1, t2

    def begin(self) -> int:
        """Start a request: stamp it for the parent's --timeout watchdog."""
        t0 = self.clock()
        self.inflight[self.slot] = t0
        return t0

    def end(self) -> None:
        self.inflight[self.slot] = 0

    def warm_up(self) -> None:
        for _ in range(self.spec.warmup_requests):
            t0, t1, t2 = self._synthetic_request()
            self.warm_e2e_ns.append(t2 - t0)
            self.warm_model_ns.append(t2 - t1)

    def loop(self, source: _PerfSource | _TaskSource) -> None:
        while not self.stop_event.is_set():
            task = source.next()
            if task is None:
                return
            if isinstance(task, DatalistTask):
                self._run_task(task)
            else:
                t0, t1, t2 = self._synthetic_request()
                self.record.add(t0, t1, t2, self.spec.plan.batch_size)
                self.progress[self.slot] += self.spec.plan.batch_size

    def _run_task(self, task: DatalistTask) -> None:
        from vampy.datalist_run import run_datalist_task

        run_datalist_task(self, task)


def _collect(spec: WorkerSpec, drivers: list[_Driver], stopped_early: bool) -> WorkerResult:
    parts = [d.record.arrays() for d in drivers]
    instance = np.concatenate([np.full(p["end_ns"].size, d.index, np.int64) for p, d in zip(parts, drivers)]) if parts else np.zeros(0, np.int64)
    return WorkerResult(
        worker_index=spec.worker_index,
        pid=os.getpid(),
        start_ns=np.concatenate([p["start_ns"] for p in parts]),
        model_start_ns=np.concatenate([p["model_start_ns"] for p in parts]),
        end_ns=np.concatenate([p["end_ns"] for p in parts]),
        samples=np.concatenate([p["samples"] for p in parts]),
        instance=instance,
        warmup_e2e_ns=np.array([v for d in drivers for v in d.warm_e2e_ns], np.int64),
        warmup_model_ns=np.array([v for d in drivers for v in d.warm_model_ns], np.int64),
        failures=[f for d in drivers for f in d.failures],
        outputs_written=sum(d.outputs_written for d in drivers),
        stopped_early=stopped_early,
    )
