"""Open-loop arrival schedules (pure): when each request is due, regardless of completions.

Latency in open-loop mode is measured from the scheduled arrival, not from when a free instance
picked the request up, so a slow system cannot hide its queueing ("coordinated omission").
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ARRIVALS = ("poisson", "constant")


def arrival_offsets_ns(rate_per_s: float, count: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Offsets from the common start of `count` arrivals at `rate_per_s` (int64 ns, non-decreasing).

    constant: one every 1/rate s, the first at 0. poisson: exponential gaps of mean 1/rate,
    the first after one gap (a Poisson process started at 0).
    """
    if rate_per_s <= 0 or count < 0:
        raise ValueError("rate must be positive and count non-negative")
    gap_s = 1.0 / rate_per_s
    if kind == "constant":
        offsets_s = np.arange(count, dtype=np.float64) * gap_s
    elif kind == "poisson":
        offsets_s = np.cumsum(rng.exponential(gap_s, size=count))
    else:
        raise ValueError(f"arrival kind {kind!r}: expected one of {', '.join(ARRIVALS)}")
    return np.round(offsets_s * 1e9).astype(np.int64)


def arrivals_for(rate_per_s: float, kind: str, rng: np.random.Generator, count: int | None, duration_s: float | None) -> np.ndarray:
    """The schedule for a stop rule: `count` requests, or every arrival before `duration_s`."""
    if count is not None:
        return arrival_offsets_ns(rate_per_s, count, kind, rng)
    assert duration_s is not None
    # Generous draw, then cut: a Poisson count rarely exceeds its mean by 10 standard deviations.
    mean = rate_per_s * duration_s
    draw = int(mean + 10 * math.sqrt(mean) + 10)
    offsets = arrival_offsets_ns(rate_per_s, draw, kind, rng)
    return offsets[offsets < int(duration_s * 1e9)]


@dataclass(frozen=True)
class OpenLoopSummary:
    target_qps: float
    achieved_qps: float
    arrival: str
    peak_backlog: int  # requests due but not started, at its largest
    queue_wait_growing: bool
    sustained: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "target_qps": self.target_qps, "achieved_qps": self.achieved_qps, "arrival": self.arrival,
            "peak_backlog": self.peak_backlog, "queue_wait_growing": self.queue_wait_growing, "sustained": self.sustained,
        }


SUSTAINED_FRACTION = 0.95
GROWTH_FACTOR = 1.5
GROWTH_SLACK_NS = 1_000_000


def summarize_open_loop(
    arrival_ns: np.ndarray, start_ns: np.ndarray, target_qps: float, achieved_qps: float, arrival: str
) -> OpenLoopSummary:
    """Did the system keep up? Sustained: at least 95% of the target rate went through and the
    queue wait did not grow over the run (last third no more than 1.5x the middle third + 1 ms).
    """
    order = np.argsort(arrival_ns, kind="stable")
    wait = (start_ns - arrival_ns)[order]
    thirds = np.array_split(wait, 3) if wait.size >= 3 else [wait, wait, wait]
    growing = bool(thirds[2].mean() > GROWTH_FACTOR * thirds[1].mean() + GROWTH_SLACK_NS) if wait.size else False
    events = np.concatenate([np.stack([arrival_ns, np.ones_like(arrival_ns)], 1), np.stack([start_ns, -np.ones_like(start_ns)], 1)])
    events = events[np.lexsort((-events[:, 1], events[:, 0]))]  # at equal times, count the arrival first
    backlog = int(np.cumsum(events[:, 1]).max()) if events.size else 0
    sustained = achieved_qps >= SUSTAINED_FRACTION * target_qps and not growing
    return OpenLoopSummary(target_qps, achieved_qps, arrival, backlog, growing, sustained)
