"""Pure statistics over raw integer timestamps: one percentile definition for the whole project.

Percentile definition (the only one vampy uses): the nearest-rank percentile. For n sorted
samples x[1..n] and 0 < q <= 100, P_q = x[ceil(q/100 * n)]: the smallest observed value such that
at least q% of the samples are <= it. It is always a latency that really happened (no
interpolation), it never decreases as q grows, and P_100 is the maximum. numpy calls it
method="inverted_cdf".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PERCENTILE_METHOD = "inverted_cdf"
STABILITY_TOLERANCE = 0.05  # windows whose throughput differs from the median by more than 5%
MIN_SAMPLES_PER_WINDOW = 8  # fewer completions per window make the window throughput noise


def percentile_ns(values_ns: np.ndarray, q: float) -> int:
    """Nearest-rank percentile (see module docstring) of integer nanosecond values."""
    if values_ns.size == 0:
        raise ValueError("no values")
    if not 0 < q <= 100:
        raise ValueError(f"percentile {q} outside (0, 100]")
    rank = max(1, math.ceil(q / 100.0 * values_ns.size))
    return int(np.partition(values_ns, rank - 1)[rank - 1])


@dataclass(frozen=True)
class LatencySummary:
    count: int
    avg_ns: float
    min_ns: int
    max_ns: int
    percentiles_ns: dict[float, int]

    def to_dict(self) -> dict[str, object]:
        return {
            "count": self.count,
            "avg_us": self.avg_ns / 1e3,
            "min_us": self.min_ns / 1e3,
            "max_us": self.max_ns / 1e3,
            "percentiles_us": {_pkey(q): v / 1e3 for q, v in self.percentiles_ns.items()},
        }


def _pkey(q: float) -> str:
    return f"p{q:g}"


def summarize_latency(values_ns: np.ndarray, percentiles: tuple[float, ...]) -> LatencySummary:
    values = np.asarray(values_ns, dtype=np.int64)
    if values.size == 0:
        return LatencySummary(0, 0.0, 0, 0, {q: 0 for q in percentiles})
    return LatencySummary(
        count=int(values.size),
        avg_ns=float(values.mean()),
        min_ns=int(values.min()),
        max_ns=int(values.max()),
        percentiles_ns={q: percentile_ns(values, q) for q in percentiles},
    )


@dataclass(frozen=True)
class Window:
    """The common measured window: first request start to last request end, over all workers."""

    start_ns: int
    end_ns: int

    @property
    def duration_s(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1e9


def measured_window(start_ns: np.ndarray, end_ns: np.ndarray) -> Window:
    if start_ns.size == 0:
        return Window(0, 0)
    return Window(int(start_ns.min()), int(end_ns.max()))


def throughput_qps(samples: int, window: Window) -> float:
    """Total samples over the common window: never an average of per-worker throughputs."""
    return samples / window.duration_s if window.duration_s > 0 else 0.0


@dataclass(frozen=True)
class Stability:
    window_qps: tuple[float, ...]
    max_deviation: float  # largest |window - median| / median
    stable: bool | None  # None: too few samples to judge

    def to_dict(self) -> dict[str, object]:
        return {"window_qps": list(self.window_qps), "max_deviation": self.max_deviation, "stable": self.stable}


def stability(end_ns: np.ndarray, samples: np.ndarray, window: Window, n_windows: int = 10) -> Stability:
    """Cut the run into slices of equal sample counts; stable when no slice's rate strays >5%.

    Slicing by completions rather than by time avoids the rounding error of counting whole
    requests in fixed time slices (8 requests per slice would make one request 12.5%). A slice's
    rate is its samples over the time from the previous slice's last completion to its own.
    Fewer slices are used when the run is short, at least MIN_SAMPLES_PER_WINDOW samples each.
    """
    total = int(samples.sum())
    slices = min(n_windows, total // MIN_SAMPLES_PER_WINDOW)
    if slices < 3 or window.duration_s <= 0:
        return Stability((), 0.0, None)
    order = np.argsort(end_ns, kind="stable")
    ends = end_ns[order]
    done = np.cumsum(samples[order])
    cut = np.searchsorted(done, np.arange(1, slices + 1) * total / slices, side="left")
    cut_done = np.concatenate([[0], done[cut]])
    cut_ns = np.concatenate([[window.start_ns], ends[cut]])
    span_s = np.diff(cut_ns) / 1e9
    if np.any(span_s <= 0):
        return Stability((), 0.0, None)
    qps = np.diff(cut_done) / span_s
    median = float(np.median(qps))
    deviation = float(np.max(np.abs(qps - median)) / median) if median > 0 else math.inf
    return Stability(tuple(float(v) for v in qps), deviation, deviation <= STABILITY_TOLERANCE)


def histogram_us(values_ns: np.ndarray, bins: int = 40) -> dict[str, list[float]]:
    """Log-spaced latency histogram in microseconds, for the JSON report and plots."""
    if values_ns.size == 0:
        return {"edges_us": [], "counts": []}
    values_us = np.asarray(values_ns, dtype=np.float64) / 1e3
    low, high = max(values_us.min(), 1e-3), max(values_us.max(), 1e-3)
    edges = np.geomspace(low, high * 1.0001, bins + 1) if high > low else np.array([low, low + 1.0])
    counts, _ = np.histogram(values_us, bins=edges)
    return {"edges_us": [float(e) for e in edges], "counts": [int(c) for c in counts]}
