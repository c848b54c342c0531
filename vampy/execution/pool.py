"""The local Executor: P worker processes x I instances: start together, watch, stop, collect -> RawRun.

The parent never runs the model. It spawns the workers, waits until every one has loaded its
sessions and finished its warm-up, releases them together (so the measured window is common),
samples their CPU and memory, shows progress, and notices within ~0.1 s when one dies.
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from vampy import errors
from vampy.errors import Terminated, VampyError, WorkerError
from vampy.execution.job import RunJob
from vampy.execution.shared import SharedFlag
from vampy.execution.worker import MSG_DONE, MSG_ERROR, MSG_READY, WorkerSpec, worker_main
from vampy.measure.monitor import ResourceMonitor, ResourceSummary
from vampy.measure.records import RawRun, WorkerResult
from vampy.progress import NullProgress, Progress

POLL_S = 0.1
STOP_GRACE_S = 2.0  # how long stopped workers get to send what they measured
# --timeout by default: generous against the slowest warm-up request, never under a minute,
# so a huge model is never cut off while a hung request is still caught.
AUTO_TIMEOUT_FACTOR = 20
AUTO_TIMEOUT_MIN_S = 60.0


def timeout_bound_ns(timeout_s: float | None, slowest_warmup_ns: int) -> int | None:
    """--timeout in ns, as every executor applies it: None (automatic) is AUTO_TIMEOUT_FACTOR x the
    slowest warm-up request, never under AUTO_TIMEOUT_MIN_S; 0 turns the watchdog off (None)."""
    if timeout_s is None:
        return max(int(AUTO_TIMEOUT_MIN_S * 1e9), AUTO_TIMEOUT_FACTOR * slowest_warmup_ns)
    return int(timeout_s * 1e9) if timeout_s > 0 else None


@dataclass(frozen=True)
class LocalPool:
    """The local Executor: P spawned worker processes on this machine."""

    name: str = "local"
    # The one clock of a local run: the workers stamp their requests with it and the --timeout
    # watchdog reads it against their in-flight stamps (so it must be picklable, and one clock for
    # every process: perf_counter_ns is).
    clock: Callable[[], int] = time.perf_counter_ns

    def execute(self, job: RunJob, progress: Progress | None = None) -> RawRun:
        specs = [WorkerSpec(job, k) for k in range(job.processes)]
        pool = _Pool(specs, job.intra_threads, job.expected_samples, progress or NullProgress(), self.clock, job.stop.request_timeout_s)
        return pool.run()


class _Pool:
    def __init__(
        self, specs: list[WorkerSpec], threads: int, expected: int | None, progress: Progress, clock: Callable[[], int],
        timeout_s: float | None,
    ) -> None:
        ctx = mp.get_context("spawn")
        self.specs = specs
        self.threads = threads
        self.expected = expected
        self.progress = progress
        self.clock = clock
        self.queue: Any = ctx.Queue()
        self.inbox = _Inbox(self.queue)
        self.start_event = SharedFlag(ctx)  # lock-free: a dead worker can hold nothing the parent waits on
        self.stop_event = SharedFlag(ctx)
        slots = len(specs) * specs[0].job.instances
        self.counts = ctx.Array("q", slots, lock=False)
        self.task_counter = ctx.Value("q", 0)
        self.inflight = ctx.Array("q", slots, lock=False)
        self.timeout_s = timeout_s  # None: automatic after warm-up; 0: off
        self.timeout_ns = None if timeout_s is None else timeout_bound_ns(timeout_s, 0)  # automatic: set after warm-up
        self.slowest_warmup_ns = 0
        self.procs = [
            ctx.Process(
                target=worker_main,
                args=(s, self.queue, self.start_event, self.stop_event, self.counts, self.task_counter, self.inflight, self.clock,
                      os.getpid()),
                name=f"vampy-worker-{s.worker_index}",
                daemon=True,
            )
            for s in specs
        ]
        self.ready: set[int] = set()
        self.done: dict[int, WorkerResult] = {}
        self.failed: dict[int, str] = {}

    def run(self) -> RawRun:
        t0 = time.monotonic()
        monitor: ResourceMonitor | None = None
        interrupted: str | None = None
        try:
            for p in self.procs:
                p.start()
            self.progress.start("loading models and warming up", None)
            self._wait(lambda: len(self.ready) + len(self.failed) >= len(self.procs))
            self.progress.finish()
            setup_s = time.monotonic() - t0
            if self.failed:
                raise self._startup_error()
            if self.timeout_s is None:
                self.timeout_ns = timeout_bound_ns(None, self.slowest_warmup_ns)
            monitor = ResourceMonitor([p.pid for p in self.procs if p.pid is not None])
            monitor.start()
            self.start_event.set()
            self.progress.start("inference", self.expected)
            self._wait(lambda: len(self.done) + len(self.failed) >= len(self.procs), track=True)
        except KeyboardInterrupt as exc:
            interrupted = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted (Ctrl-C)"
            setup_s = time.monotonic() - t0
        finally:
            with _signals_deferred():  # a second Ctrl-C or SIGTERM must not cut the stop short: the report follows
                if self.failed or interrupted:
                    self._stop_all()
                resources = monitor.stop() if monitor else ResourceSummary(0.0, 0.0, 0, 0.0, 0, os.cpu_count() or 1)
                self.progress.finish()
                self._reap()
        results = [self.done[k] for k in sorted(self.done)]
        return RawRun(results, sorted(self.failed.items()), resources, self.threads, interrupted, self.expected, setup_s)

    def _wait(self, finished: Callable[[], bool], track: bool = False) -> None:
        shown = 0
        while not finished():
            self._drain(POLL_S)
            self._check_alive()
            self._check_hung()
            if self.failed:
                return
            if track:
                now = int(sum(self.counts))
                self.progress.advance(now - shown)
                shown = now

    def _drain(self, timeout_s: float) -> None:
        try:
            kind, index, payload = self.inbox.get(timeout_s)
        except queue.Empty:
            return
        if kind == MSG_READY:
            self.ready.add(index)
            self.slowest_warmup_ns = max(self.slowest_warmup_ns, int(payload or 0))
        elif kind == MSG_DONE:
            self.done[index] = payload
        elif kind == MSG_ERROR:
            self.failed[index] = _last_line(payload)

    def _check_alive(self) -> None:
        for spec, p in zip(self.specs, self.procs):
            k = spec.worker_index
            if p.exitcode is not None and k not in self.done and k not in self.failed:
                self._drain(0.2)  # its last message may still be in the pipe
                if k not in self.done and k not in self.failed:
                    self.failed[k] = _exit_reason(p.exitcode)

    def _check_hung(self) -> None:
        """A request in flight for longer than --timeout fails its worker (named, with the bound)."""
        if not self.timeout_ns:
            return
        now = self.clock()
        per_worker = self.specs[0].job.instances
        for slot, started in enumerate(self.inflight):
            worker = slot // per_worker
            if started and now - started > self.timeout_ns and worker not in self.failed and worker not in self.done:
                self.failed[worker] = (
                    f"request on instance {slot % per_worker} still running after {(now - started) / 1e9:.1f} s "
                    f"(--timeout {self.timeout_ns / 1e9:g} s; raise it, or 0 turns the watchdog off)"
                )

    def _stop_all(self) -> None:
        self.stop_event.set()
        self.start_event.set()  # workers still waiting at the start line must not wait forever
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and any(p.is_alive() and s.worker_index not in self.done for s, p in zip(self.specs, self.procs)):
            self._drain(POLL_S)

    def _reap(self) -> None:
        started = [p for p in self.procs if p.pid is not None]  # a failed start leaves some unstarted
        for p in started:
            p.join(timeout=0.5)
        for p in started:
            if p.is_alive():
                p.terminate()
                p.join(timeout=1)
            if p.is_alive():
                p.kill()
                p.join(timeout=1)
        self.queue.close()

    def _startup_error(self) -> VampyError:
        """A worker that failed before the start: its own VampyError (a model that cannot load is exit 4,
        as in the parent), anything else a WorkerError naming the worker."""
        index, reason = sorted(self.failed.items())[0]
        kind, _, message = reason.partition(": ")
        own = getattr(errors, kind.rsplit(".", 1)[-1], None) if kind.startswith("vampy.errors.") else None
        if isinstance(own, type) and issubclass(own, VampyError) and own is not VampyError and message:
            return own(message)
        return WorkerError(f"worker {index} failed before the run started: {reason}")


class _Inbox:
    """The workers' messages, read by a daemon thread. A worker killed in the middle of sending its
    (large) DONE message leaves half a message in the pipe, and reading it would block for good; the
    thread may block there, the parent only ever waits on this thread's queue with a timeout."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.messages: queue.Queue[Any] = queue.Queue()
        threading.Thread(target=self._pump, name="vampy-pool-inbox", daemon=True).start()

    def _pump(self) -> None:
        while True:
            try:
                self.messages.put(self.source.get())
            except (EOFError, OSError, ValueError):  # the queue was closed: the run is over
                return

    def get(self, timeout_s: float) -> Any:
        return self.messages.get(timeout=timeout_s)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM are ignored while the pool stops and reaps (main thread only: elsewhere Python
    delivers no signals): the stop they ask for is already under way, and raising in the middle of it
    lost the partial report (a second SIGTERM gave exit 130 and nothing else)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _last_line(tb: str) -> str:
    lines = [line for line in tb.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


def _exit_reason(exitcode: int) -> str:
    if exitcode < 0:
        import signal

        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"killed by {name}"
    return f"exited with code {exitcode} without reporting"
