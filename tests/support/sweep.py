"""A made-up machine for the sweep's search: throughput surfaces with deterministic noise, and
`Fake`, a measure(point) that reads them and records every call (no run, no clock)."""
from __future__ import annotations

import hashlib
from collections.abc import Callable

from vampy.workflows.sweep import Measurement, Point

GRID = {"instances": (1, 2, 3, 4), "processes": (1, 2), "batch": (1, 2, 3, 4), "threads": (1, 2)}


def jitter(point: Point, call: int, amplitude: float) -> float:
    """Deterministic noise in [-amplitude, +amplitude], different for each run of a point."""
    digest = hashlib.sha256(f"{point}{call}".encode()).digest()
    return (int.from_bytes(digest[:4], "little") / 2**32 * 2 - 1) * amplitude


def two_core_machine(point: Point) -> tuple[float, float]:
    """A throughput surface shaped like a CPU with 2 cores: parallelism saturates at 2 busy threads,
    oversubscription costs 6% per extra thread, batching helps with diminishing returns.
    Returns (qps, p99_ms)."""
    busy = point.instances * point.processes * point.threads
    parallel = min(busy, 2) ** 0.95
    oversubscribed = 1 + 0.06 * max(0, busy - 2)
    batching = 1 + 0.25 * (1 - 1 / point.batch)
    qps = 10.0 * parallel * batching / oversubscribed
    in_flight = point.instances * point.processes * point.batch
    return qps, 1000.0 * in_flight / qps * 1.3


def poor_thread_scaling(point: Point) -> tuple[float, float]:
    """A small model: a second intra-op thread gives only 20%, a second instance 90%."""
    copies = point.instances * point.processes
    busy = copies * point.threads
    speed = min(copies, 2) ** 0.93 * (1.2 if point.threads >= 2 and copies < 2 else 1.0)
    qps = 50.0 * speed * (1 + 0.1 * (1 - 1 / point.batch)) / (1 + 0.06 * max(0, busy - 2))
    return qps, 1000.0 * copies * point.batch / qps


class Fake:
    """measure(point) for the search: the surface plus deterministic noise; records every call."""

    def __init__(self, surface: Callable[[Point], tuple[float, float]] = two_core_machine, noise: float = 0.01,
                 unstable: set[Point] | None = None, fail: set[Point] | None = None, interrupt_at: int | None = None,
                 contended: dict[Point, int] | None = None) -> None:
        self.surface = surface
        self.noise = noise
        self.unstable = unstable or set()
        self.fail = fail or set()
        self.interrupt_at = interrupt_at
        self.contended = contended or {}  # point -> how many of its first runs another process halves
        self.calls: list[Point] = []

    def __call__(self, point: Point) -> Measurement:
        self.calls.append(point)
        if self.interrupt_at is not None and len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        if point in self.fail:
            return Measurement(point, error="worker 0 died")
        qps, p99 = self.surface(point)
        qps *= 1 + jitter(point, self.calls.count(point), self.noise)
        first_run = self.calls.count(point) == 1
        unstable = point in self.unstable and first_run
        busy = self.calls.count(point) <= self.contended.get(point, 0)
        return Measurement(point, throughput_qps=qps / 2 if busy else qps, e2e_p50_ms=p99 / 2, e2e_p99_ms=p99, samples=100, duration_s=1.0,
                           stable=not unstable, max_deviation=0.2 if unstable else 0.02, others_cpu_percent=50.0 if busy else 1.0)
