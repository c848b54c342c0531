"""What the cluster Executor watches on its Ray actors: hung requests (--timeout) and their CPU and memory.

Each ShardWorker answers `watch()` in a concurrency group of its own (WATCH_GROUP), so the answer
never queues behind the shards its I instances are busy with. An answer is read on the node:
the age of its oldest request in flight on the node's own clock (the parent never compares the
clocks of two machines), and the worker process's CPU time and RSS (psutil). The parent asks
each live worker about once a second (WATCH_EVERY_S), fails a worker whose oldest request is
older than the bound, and turns the readings into per-node and cluster figures afterwards.
"""
from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psutil

from vampy.measure.monitor import ResourceSummary

WATCH_GROUP = "vampy-watch"  # one thread per actor for watch(), beside the I threads that run shards
WATCH_EVERY_S = 1.0
FINAL_READ_S = 10.0  # the last reading of each worker at the end of the run, bounded
F = TypeVar("F", bound=Callable[..., Any])


def in_watch_group(method: F) -> F:
    """ray.method(concurrency_group=WATCH_GROUP), applied where the class is defined, so that the
    mark travels with it (a ray:// client's server imports the class anew). Without Ray: unchanged."""
    try:
        import ray
    except ImportError:
        return method
    return ray.method(concurrency_group=WATCH_GROUP)(method)


def actor_options() -> dict[str, Any]:
    """What ray.remote needs to make a ShardWorker actor class with the watch group."""
    return {"concurrency_groups": {WATCH_GROUP: 1}}


def read_on_node(inflight_ns: dict[int, int], running: dict[int, int]) -> dict[str, Any]:
    """One reading, on the node: the oldest request in flight (instance, its datalist line, age on
    this node's clock) and this process's CPU seconds and RSS. `inflight_ns`: start ns per instance, 0 idle."""
    now_ns = time.time_ns()
    busy = {k: started for k, started in inflight_ns.items() if started}
    instance = min(busy, key=busy.__getitem__) if busy else -1
    me = psutil.Process()
    cpu = me.cpu_times()
    return {
        "now_ns": now_ns, "cpu_s": cpu.user + cpu.system, "rss_bytes": int(me.memory_info().rss),
        "cores": psutil.cpu_count(logical=True) or 1,
        "age_ns": now_ns - busy[instance] if busy else 0, "instance": instance, "line": running.get(instance),
    }


@dataclass
class Watch:
    """The parent's side: polls in flight, readings per worker (tick, reading), the bound."""

    timeout_ns: int | None
    readings: dict[int, list[tuple[int, dict[str, Any]]]] = field(default_factory=lambda: collections.defaultdict(list))
    outstanding: dict[Any, tuple[int, int]] = field(default_factory=dict)  # ref -> (worker, tick)
    tick: int = 0
    last_s: float = float("-inf")

    def poll(self, handles: dict[int, Any]) -> list[tuple[int, dict[str, Any]]]:
        """Ask the live workers (`handles`: worker -> actor) once a second; (worker, reading) of each
        answer whose oldest request is over the bound."""
        if time.monotonic() - self.last_s >= WATCH_EVERY_S:
            self._ask(handles)
        return self._collect(0.0)

    def final(self, handles: dict[int, Any]) -> None:
        """The last reading of every live worker, at the end of the run (bounded)."""
        self._ask(handles)
        deadline = time.monotonic() + FINAL_READ_S
        while self.outstanding and time.monotonic() < deadline:
            self._collect(min(1.0, max(0.0, deadline - time.monotonic())))

    def _ask(self, handles: dict[int, Any]) -> None:
        self.last_s = time.monotonic()
        self.tick += 1
        asked = {worker for worker, _ in self.outstanding.values()}
        for worker, handle in handles.items():
            if worker not in asked:  # an answer still due: no second question behind it
                self.outstanding[handle.watch.remote()] = (worker, self.tick)

    def _collect(self, timeout_s: float) -> list[tuple[int, dict[str, Any]]]:
        import ray

        if not self.outstanding:
            return []
        ready, _ = ray.wait(list(self.outstanding), num_returns=len(self.outstanding), timeout=timeout_s)
        hung: list[tuple[int, dict[str, Any]]] = []
        for ref in ready:
            worker, tick = self.outstanding.pop(ref)
            try:
                reading = ray.get(ref)
            except ray.exceptions.RayError:
                continue  # the worker is gone: its shards' own results say so
            self.readings[worker].append((tick, reading))
            if self.timeout_ns and reading["age_ns"] > self.timeout_ns:
                hung.append((worker, reading))
        return hung

    def forget(self, worker: int) -> None:
        """A worker ended by the parent: its polls in flight will never answer."""
        for ref in [r for r, (w, _) in self.outstanding.items() if w == worker]:
            del self.outstanding[ref]


def node_figures(readings: dict[int, list[tuple[int, dict[str, Any]]]], workers: Iterable[int]) -> dict[str, Any]:
    """One node's figures from its workers' readings: CPU % of the node's logical cores from its first
    reading to its last (CPU seconds of vampy's workers there / wall seconds on the node's clock), and
    the peak and mean of the workers' summed RSS over the ticks."""
    runs = [readings[w] for w in workers if readings.get(w)]
    if not runs:
        return {"cpu_percent": 0.0, "rss_peak_mb": 0.0, "rss_mean_mb": 0.0, "logical_cores": 0, "cpu_s": 0.0, "window_s": 0.0}
    cpu_s = sum(run[-1][1]["cpu_s"] - run[0][1]["cpu_s"] for run in runs)
    window_s = (max(run[-1][1]["now_ns"] for run in runs) - min(run[0][1]["now_ns"] for run in runs)) / 1e9
    cores = int(runs[0][0][1]["cores"])
    rss = _per_tick(runs, "rss_bytes")
    return {
        "cpu_percent": 100.0 * cpu_s / window_s / cores if window_s > 0 else 0.0,
        "rss_peak_mb": max(rss.values()) / 2**20, "rss_mean_mb": sum(rss.values()) / len(rss) / 2**20,
        "logical_cores": cores, "cpu_s": cpu_s, "window_s": window_s,
    }


def cluster_summary(
    readings: dict[int, list[tuple[int, dict[str, Any]]]], nodes: dict[str, list[int]], fallback_cores: int
) -> ResourceSummary:
    """The report's resources on a cluster: CPU % of the used nodes' core-seconds (mean over the run, and
    the busiest tick), RSS of every vampy worker summed at each tick (peak and mean), ticks as samples,
    the nodes' logical cores summed. Zeros with Ray's CPU count when nothing was read."""
    figures = [node_figures(readings, workers) for workers in nodes.values()]
    cores = sum(f["logical_cores"] for f in figures)
    runs = [run for run in readings.values() if run]
    if not runs or not cores:
        return ResourceSummary(0.0, 0.0, 0, 0.0, 0, fallback_cores)
    core_s = sum(f["window_s"] * f["logical_cores"] for f in figures)
    rss = _per_tick(runs, "rss_bytes")
    rates: collections.defaultdict[int, float] = collections.defaultdict(float)  # tick -> CPU seconds per second, over every worker
    for run in runs:
        for (_, before), (tick, after) in zip(run, run[1:]):
            if after["now_ns"] > before["now_ns"]:
                rates[tick] += (after["cpu_s"] - before["cpu_s"]) / ((after["now_ns"] - before["now_ns"]) / 1e9)
    return ResourceSummary(
        cpu_percent_of_machine=100.0 * sum(f["cpu_s"] for f in figures) / core_s if core_s > 0 else 0.0,
        cpu_percent_peak=100.0 * max(rates.values(), default=0.0) / cores,
        rss_peak_bytes=int(max(rss.values())), rss_mean_bytes=sum(rss.values()) / len(rss),
        samples=len(rss), logical_cores=cores,
    )


def _per_tick(runs: list[list[tuple[int, dict[str, Any]]]], key: str) -> dict[int, float]:
    """A reading summed over workers at each tick. A worker whose answer missed a tick (late under
    load) counts with its last reading there, between its first and last: its memory did not vanish."""
    ticks = sorted({tick for run in runs for tick, _ in run})
    total: dict[int, float] = collections.defaultdict(float)
    for run in runs:
        by_tick = dict(run)
        last = None
        for tick in ticks:
            if tick < run[0][0] or tick > run[-1][0]:
                continue
            last = by_tick.get(tick, last)
            if last is not None:
                total[tick] += last[key]
    return total
