"""Pure: run reports side by side, the relative change of each figure against the first report,
and whether the change in median e2e latency and in throughput exceeds the noise.

What the bootstrap can use. The JSON run report holds no raw latencies: it holds a 40-bin,
log-spaced histogram of the e2e latencies (stats.histogram_us) and the throughputs of up to 10
stability windows (stats.stability: slices of equal completions). So:

- **median e2e latency**: the bootstrap distribution of the median of n requests drawn from the
  histogram's density (log-uniform inside each bin, n = the report's request count). The
  nearest-rank median is the k-th order statistic, k = ceil(n/2), and the k-th of n iid draws is
  F^-1(U) with U ~ Beta(k, n+1-k): one Beta draw per replicate, exact, no n-sized resample.
- **throughput**: resample the windows with replacement; a replicate's throughput is the
  harmonic mean of its windows' rates (equal samples per window, so the run's throughput is
  their harmonic mean). Needs 3 windows in each report, each holding at least twice the samples
  in flight (instances x processes x batch; fewer complete in bursts and a window's rate is
  noise), else "cannot judge".
- A change is **significant** when the `confidence` interval of the replicate ratio B/A - 1
  excludes 0 and the change is larger than `min_change`. Interval ends use the project's one
  percentile definition (stats.PERCENTILE_METHOD). Fixed seed: the same files give the same verdict.

Gates (`--fail_if_slower PCT`, `--fail_if_p99_higher PCT`, for CI): report k fails when its figure
moved the wrong way by more than PCT percent of the first report's AND the interval of that change
excludes zero on the same side. "Slower" is either figure that can be judged: throughput down by more
than PCT, or median e2e latency up by more than PCT. The p99 gate bootstraps the nearest-rank p99 as
the median is (the k-th order statistic, k = ceil(0.99 n)). The interval guards only against within-run
noise; PCT is the margin for what moves between runs, so a rerun of the same configuration passes when
PCT is above the run-to-run noise of the machine (docs/validation.md).

Limits, stated where the verdict is printed too: this is within-run noise. Requests are treated
as independent, and the interval knows nothing of what changes between runs (other processes,
frequency scaling, the memory allocator's luck), which on a shared machine is often larger.
The histogram's bins are 2-6% wide for typical spreads: the log-uniform fill inside a bin is an
assumption. Ten windows give a coarse throughput interval. `min_change` is where to put the
run-to-run noise you measured (e.g. `vampy sweep` prints it).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vampy.engines.base import run_label, what_ran
from vampy.errors import InputError, UsageError
from vampy.measure.stats import PERCENTILE_METHOD

DEFAULT_RESAMPLES = 4000
DEFAULT_CONFIDENCE = 0.95
MIN_WINDOWS = 3


@dataclass(frozen=True)
class MetricRow:
    label: str
    key: str
    values: tuple[float | None, ...]
    higher_is_better: bool

    def change(self, k: int) -> float | None:
        """Relative change of report k against the first report."""
        base, value = self.values[0], self.values[k]
        if base is None or value is None or base == 0:
            return None
        return value / base - 1


@dataclass(frozen=True)
class Test:
    """A bootstrap test of one figure of report `report` (>= 1) against report 0."""

    metric: str
    report: int
    change: float | None  # from the reports' own figures
    ci_low: float | None
    ci_high: float | None
    significant: bool | None  # None: cannot judge (the reason in note)
    note: str = ""

    def text(self) -> str:
        if self.significant is None:
            return f"{self.metric}: cannot judge ({self.note})"
        change = f"{self.change:+.1%}" if self.change is not None else "-"
        ci = f"[{self.ci_low:+.1%}, {self.ci_high:+.1%}]"
        word = "significant" if self.significant else "within noise"
        return f"{self.metric}: {change} (CI {ci}) {word}{' (' + self.note + ')' if self.note else ''}"


@dataclass(frozen=True)
class Gate:
    """A CI gate on report `report` (>= 1) against report 0: failed when the figure moved the wrong way by
    more than threshold_pct AND the interval of the change excludes zero (module docstring)."""

    gate: str  # fail_if_slower, fail_if_p99_higher
    report: int
    threshold_pct: float
    failed: bool
    text: str  # one line: what crossed the gate, or why it held


@dataclass(frozen=True)
class Comparison:
    names: tuple[str, ...]
    metrics: tuple[MetricRow, ...]
    tests: tuple[Test, ...]
    notes: tuple[str, ...]
    confidence: float
    resamples: int
    seed: int
    min_change: float
    engines: tuple[str, ...] = ()  # what ran in each report: "engine precision device" (engine_label)
    systems: tuple[tuple[str, str], ...] = ()  # (engine, device) of each report: a difference here is not a regression
    gates: tuple[Gate, ...] = ()  # --fail_if_slower / --fail_if_p99_higher, when given

    @property
    def failed_gates(self) -> list[Gate]:
        return [g for g in self.gates if g.failed]

    def tests_of(self, k: int) -> list[Test]:
        return [t for t in self.tests if t.report == k]

    def verdict(self, k: int) -> str:
        tests = self.tests_of(k)
        significant = [t for t in tests if t.significant]
        versus = f"{self.names[k]} vs {self.names[0]}"
        if self.systems and self.systems[k] != self.systems[0]:
            # A faster or slower engine is a different system, not a regression of this one: say so first.
            versus += f" (different engines: {self.engines[k]} vs {self.engines[0]}; not a regression of either)"
        if significant:
            changes = ", ".join(f"{t.metric} ({t.change:+.1%})" for t in significant if t.change is not None)
            return f"{versus}: significant difference in {changes}"
        if all(t.significant is None for t in tests):
            return f"{versus}: cannot judge (" + "; ".join(t.note for t in tests) + ")"
        return f"{versus}: no significant difference"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["verdicts"] = [self.verdict(k) for k in range(1, len(self.names))]
        d["kind"] = "compare"
        return d


def histogram_inverse_cdf(edges_us: Sequence[float], counts: Sequence[int], u: np.ndarray) -> np.ndarray:
    """F^-1(u) of the histogram's density, log-uniform within each bin (the bins are log-spaced)."""
    edges = np.log(np.asarray(edges_us, dtype=np.float64))
    weights = np.asarray(counts, dtype=np.float64)
    cdf = np.concatenate([[0.0], np.cumsum(weights)]) / weights.sum()
    j = np.clip(np.searchsorted(cdf, u, side="left") - 1, 0, weights.size - 1)
    width = np.where(weights[j] > 0, cdf[j + 1] - cdf[j], 1.0)
    frac = np.clip((u - cdf[j]) / width, 0.0, 1.0)
    values: np.ndarray = np.exp(edges[j] + frac * (edges[j + 1] - edges[j]))
    return values


def median_replicates(histogram: dict[str, Any], rng: np.random.Generator, resamples: int) -> np.ndarray | None:
    """Bootstrap replicates of the nearest-rank median of the histogram's n requests (microseconds)."""
    return quantile_replicates(histogram, 0.5, rng, resamples)


def quantile_replicates(histogram: dict[str, Any], q: float, rng: np.random.Generator, resamples: int) -> np.ndarray | None:
    """Bootstrap replicates of the nearest-rank q-quantile of the histogram's n requests: the k-th of n
    draws, k = ceil(q n), is F^-1 of a Beta(k, n+1-k) draw (exact, no n-sized resample)."""
    counts = histogram.get("counts") or []
    n = int(sum(counts))
    if n < 1 or len(histogram.get("edges_us") or []) != len(counts) + 1:
        return None
    k = max(1, math.ceil(q * n))
    u = rng.beta(k, n + 1 - k, size=resamples)
    return histogram_inverse_cdf(histogram["edges_us"], counts, u)


def throughput_replicates(window_qps: Sequence[float], rng: np.random.Generator, resamples: int) -> np.ndarray | None:
    """Bootstrap replicates of a run's throughput: windows resampled, harmonic mean of each draw."""
    rates = np.asarray(window_qps, dtype=np.float64)
    if rates.size < MIN_WINDOWS or np.any(rates <= 0):
        return None
    picks = rng.integers(0, rates.size, size=(resamples, rates.size))
    harmonic: np.ndarray = rates.size / np.sum(1.0 / rates[picks], axis=1)
    return harmonic


def _interval(ratio: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    change = ratio - 1
    # Interval ends by the project's one percentile definition (stats.PERCENTILE_METHOD, nearest rank).
    low, high = (float(np.quantile(change, q, method=PERCENTILE_METHOD)) for q in (tail, 1 - tail))  # type: ignore[call-overload]
    return low, high


def _test(
    metric: str, k: int, change: float | None, a: np.ndarray | None, b: np.ndarray | None, why: str, confidence: float, min_change: float,
) -> Test:
    if a is None or b is None:
        return Test(metric, k, change, None, None, None, why)
    low, high = _interval(b / a, confidence)
    outside = low > 0 or high < 0
    small = change is not None and abs(change) <= min_change
    note = f"|change| <= --min_change {min_change:.1%}" if outside and small else ""
    return Test(metric, k, change, low, high, outside and not small, note)


def _figure(report: dict[str, Any], path: str) -> float | None:
    value = _path(report, path)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# label, path in the report, scale, higher is better
METRICS = (
    ("throughput (qps)", "throughput_qps", 1.0, True),
    ("e2e p50 (ms)", "e2e.percentiles_us.p50", 1e-3, False),
    ("e2e p90 (ms)", "e2e.percentiles_us.p90", 1e-3, False),
    ("e2e p99 (ms)", "e2e.percentiles_us.p99", 1e-3, False),
    ("model p50 (ms)", "model_latency.percentiles_us.p50", 1e-3, False),
    ("cpu (% of machine)", "resources.cpu_percent_of_machine", 1.0, False),
    ("memory peak (MB)", "resources.rss_peak_mb", 1.0, False),
)


def _window_problem(report: dict[str, Any]) -> str | None:
    """Why a report's stability windows cannot carry a throughput interval, or None when they can.

    A window must hold at least twice the samples in flight (instances x processes x batch): with
    that many completing together, a shorter window spans almost no time and its rate is noise."""
    rates = (report.get("stability") or {}).get("window_qps") or []
    if len(rates) < MIN_WINDOWS:
        return f"fewer than {MIN_WINDOWS} stability windows: run longer"
    in_flight = int(report.get("instances") or 1) * int(report.get("processes") or 1) * int(report.get("batch_size") or 1)
    per_window = int(report.get("samples") or 0) / len(rates)
    if per_window < 2 * in_flight:
        return f"{per_window:.0f} samples a window, fewer than twice the {in_flight} in flight: run longer"
    return None


def config_label(report: dict[str, Any]) -> str:
    return f"i{report.get('instances')} p{report.get('processes')} b{report.get('batch_size')} t{report.get('intra_threads')}"


def engine_label(report: dict[str, Any]) -> str:
    """What ran: "openvino bf16" (engine, precision, device, as the run's sessions reported them)."""
    return run_label(*what_ran(report.get("engine")))


def _system(report: dict[str, Any]) -> tuple[str, str]:
    """Engine and device: runs that differ here are different systems, not one system regressing."""
    name, _, device = what_ran(report.get("engine"))
    return name, device


def _config_notes(reports: Sequence[dict[str, Any]], names: Sequence[str]) -> list[str]:
    notes = []
    for key, label in (("model.path", "model"), ("inputs.inputs", "inputs")):
        values = [str(_path(r, key)) for r in reports]
        if len(set(values)) > 1:
            notes.append(f"the reports differ in {label}: " + "; ".join(f"{n}: {v}" for n, v in zip(names, values)))
    for name, r in zip(names, reports):
        if not r.get("complete", True):
            notes.append(f"{name} is INCOMPLETE ({r.get('incomplete_reason')}): its figures cover part of a run")
        if (r.get("stability") or {}).get("stable") is False:
            spread = r["stability"]["max_deviation"]
            notes.append(f"{name} was unstable (window throughputs up to {spread:.1%} apart): "
                         "its figures are noisier than its interval says")
    return notes


def _path(report: dict[str, Any], path: str) -> Any:
    value: Any = report
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def compare(
    reports: Sequence[dict[str, Any]], names: Sequence[str], seed: int = 0, resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE, min_change: float = 0.0, fail_if_slower_pct: float | None = None,
    fail_if_p99_higher_pct: float | None = None,
) -> Comparison:
    """Compare every report with the first one (module docstring: what is tested, the gates, and the limits)."""
    if len(reports) < 2 or len(reports) != len(names):
        raise UsageError("compare needs at least two run reports (`vampy run --json FILE`)")
    if not 0.5 <= confidence < 1:
        raise UsageError(f"--confidence {confidence}: give a level between 0.5 and 0.999, e.g. 0.95")
    if not 100 <= resamples <= 1_000_000:
        raise UsageError(f"--resamples {resamples}: give between 100 and 1000000")
    if not 0 <= min_change < 1:
        raise UsageError(f"--min_change {min_change}: give a fraction between 0 and 1, e.g. 0.02 for 2%")
    for flag, pct in (("--fail_if_slower", fail_if_slower_pct), ("--fail_if_p99_higher", fail_if_p99_higher_pct)):
        if pct is not None and not (math.isfinite(pct) and 0 <= pct <= MAX_GATE_PCT):
            raise UsageError(f"{flag} {pct}: give a percentage between 0 and {MAX_GATE_PCT:g}, e.g. 25 for 25%")
    metrics = tuple(
        MetricRow(label, path, tuple((v * scale if (v := _figure(r, path)) is not None else None) for r in reports), higher)
        for label, path, scale, higher in METRICS
    )
    # One seeded stream per report and figure: adding a third report never changes the first two's verdict.
    def rng(k: int, figure: int) -> np.random.Generator:
        return np.random.default_rng([seed, k, figure])

    medians = [median_replicates(r.get("histograms", {}).get("e2e", {}), rng(k, 0), resamples) for k, r in enumerate(reports)]
    problems = [_window_problem(r) for r in reports]
    rates = [None if problems[k] else throughput_replicates(r["stability"]["window_qps"], rng(k, 1), resamples)
             for k, r in enumerate(reports)]
    tests = []
    for k in range(1, len(reports)):
        why = "; ".join(f"{names[j]}: {problems[j]}" for j in (0, k) if problems[j])
        tests.append(_test("throughput", k, metrics[0].change(k), rates[0], rates[k], why, confidence, min_change))
        tests.append(_test("median e2e latency", k, metrics[1].change(k), medians[0], medians[k],
                           "no e2e histogram in the report", confidence, min_change))
    engines = tuple(engine_label(r) for r in reports)
    systems = tuple(_system(r) for r in reports)
    notes = _config_notes(reports, names)
    if len(set(systems)) > 1:
        notes.append("the reports ran on different engines (" + "; ".join(f"{n}: {e}" for n, e in zip(names, engines))
                     + "): a difference between them is the engine's, not a regression")
    elif len({e for e in engines}) > 1:
        notes.append("the reports ran in different precisions (" + "; ".join(f"{n}: {e}" for n, e in zip(names, engines)) + ")")
    gates: list[Gate] = []
    if fail_if_slower_pct is not None:
        gates += [slower_gate(k, fail_if_slower_pct, [t for t in tests if t.report == k], names) for k in range(1, len(reports))]
    if fail_if_p99_higher_pct is not None:
        p99 = [_p99_replicates(r, names[k], rng(k, 2), resamples) for k, r in enumerate(reports)]
        for k in range(1, len(reports)):
            test = _test("p99 e2e latency", k, metrics[3].change(k), p99[0], p99[k], "", confidence, 0.0)
            gates.append(p99_gate(k, fail_if_p99_higher_pct, test, names))
    return Comparison(tuple(names), metrics, tuple(tests), tuple(notes), confidence, resamples, seed, min_change, engines, systems,
                      tuple(gates))


# --- CI gates ---

MAX_GATE_PCT = 10_000.0


def _p99_replicates(report: dict[str, Any], name: str, rng: np.random.Generator, resamples: int) -> np.ndarray:
    values = quantile_replicates(report.get("histograms", {}).get("e2e", {}), 0.99, rng, resamples)
    if values is None:
        raise InputError(f"{name}: no e2e latency histogram, which --fail_if_p99_higher needs; use the --json of `vampy run`")
    return values


def _crossed(test: Test, limit: float, higher_is_worse: bool) -> bool:
    """Moved the wrong way by more than `limit` (a fraction), with the interval wholly on that side of 0."""
    if test.change is None or test.ci_low is None or test.ci_high is None:
        return False
    if higher_is_worse:
        return test.change > limit and test.ci_low > 0
    return test.change < -limit and test.ci_high < 0


def _moved(test: Test) -> str:
    if test.change is None or test.ci_low is None or test.ci_high is None:
        return f"{test.metric} cannot be judged ({test.note})"
    return f"{test.metric} {test.change:+.1%} (CI [{test.ci_low:+.1%}, {test.ci_high:+.1%}])"


def slower_gate(k: int, pct: float, tests: Sequence[Test], names: Sequence[str]) -> Gate:
    """--fail_if_slower: throughput down, or median e2e latency up, by more than pct % and beyond the noise."""
    by_metric = {t.metric: t for t in tests}
    throughput, median = by_metric["throughput"], by_metric["median e2e latency"]
    if throughput.ci_low is None and median.ci_low is None:
        raise InputError(f"{names[k]} or {names[0]}: neither throughput nor median latency can be judged "
                         f"({throughput.note}; {median.note}), which --fail_if_slower needs")
    crossed = [t for t, worse in ((throughput, False), (median, True)) if _crossed(t, pct / 100, worse)]
    versus = f"--fail_if_slower {pct:g}: {names[k]} vs {names[0]}"
    if crossed:
        return Gate("fail_if_slower", k, pct, True, f"{versus}: FAILED, slower by more than {pct:g}%: " + "; ".join(map(_moved, crossed)))
    return Gate("fail_if_slower", k, pct, False, f"{versus}: passed (" + "; ".join(_moved(t) for t in (throughput, median)) + ")")


def p99_gate(k: int, pct: float, test: Test, names: Sequence[str]) -> Gate:
    """--fail_if_p99_higher: p99 e2e latency up by more than pct % and beyond the noise."""
    versus = f"--fail_if_p99_higher {pct:g}: {names[k]} vs {names[0]}"
    if _crossed(test, pct / 100, True):
        return Gate("fail_if_p99_higher", k, pct, True, f"{versus}: FAILED, p99 higher by more than {pct:g}%: {_moved(test)}")
    return Gate("fail_if_p99_higher", k, pct, False, f"{versus}: passed ({_moved(test)})")


def unique_names(paths: Sequence[str]) -> list[str]:
    """Short names for the column headers: file stems, or the whole path where stems collide."""
    stems = [Path(p).stem for p in paths]
    return [s if stems.count(s) == 1 else str(p) for s, p in zip(stems, paths)]
