"""`vampy sweep`: the configuration (instances, processes, batch, threads) with the highest
throughput whose p99 e2e latency meets an optional bound.

The strategies take a measurement function `Point -> Measurement`, so tests drive them with a
deterministic fake and the CLI with real short runs (`RunMeasurer`: run.prepare/execute per point).

- **grid** (every dimension a list, or `--search grid`): every combination of the values.
- **auto** (any dimension `auto`, or `--search auto`): coordinate ascent over ladders (`auto` = `auto_ladder`; a list
  is climbed in its ascending order; one value fixes the dimension):
  1. Measure the smallest point twice. noise = |q1 - q2| / mean(q1, q2); the gain a step must
     show is threshold = noise clamped to [MIN_GAIN, MAX_GAIN].
  2. For each dimension in CLIMB_ORDER, step up the ladder while the step's throughput beats the
     current point's by more than the threshold (the current point moves there). A step within
     the threshold of it (a plateau) looks one value further, since a plateau can hide a later
     gain (batch 2 no better, batch 4 is). A clear loss, a failed point or, for instances,
     processes and batch, a point over the p99 bound (larger values only add latency) ends the
     dimension. Then, if the value below is unmeasured, try one step down: moves in other
     dimensions can change which value is best.
  3. Repeat passes until one moves nothing. Each point runs once (twice when unstable).
- Either way the winner is the measured run with the highest throughput meeting the bound. A run
  whose stability windows disagree (stats.stability), or during which other processes used more
  than CONTENDED_PERCENT of the machine, is repeated once; an uncontended, then the steadier, run is kept.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from vampy.config.sweep import (  # noqa: F401 - the search's vocabulary, re-exported for its callers
    DEFAULT_POINT_DURATION_S,
    DIMENSIONS,
    FLAGS,
    MAX_BATCH,
    SweepConfig,
    SweepSpace,
    auto_ladder,
    parse_engines,
    parse_values,
)
from vampy.engines.base import DEFAULT_ENGINE
from vampy.errors import Terminated, UsageError
from vampy.measure.pareto import pareto_front

CLIMB_ORDER = ("threads", "instances", "processes", "batch")  # threads first: the same cores at the lowest latency
LATENCY_GROWING = frozenset({"instances", "processes", "batch"})  # more of these never lowers p99
MIN_GAIN = 0.01  # below 1% a "gain" is not worth a configuration change, however quiet the machine
MAX_GAIN = 0.10  # a first repeat differing by more means a busy machine; do not stop climbing at once
NEAR_WINNER = 0.03  # a point this close to the winner's throughput is offered when its p99 is lower
CONTENDED_PERCENT = 20.0  # other processes took more than this share of the machine during a point


@dataclass(frozen=True, order=True)
class Point:
    instances: int
    processes: int
    batch: int
    threads: int
    engine: str = DEFAULT_ENGINE
    infer_precision: str = ""  # "" : the engine's default (a str, not None, so points stay orderable)

    def get(self, dim: str) -> int:
        return int(getattr(self, dim))

    @classmethod
    def of(cls, values: Iterable[int], engine: str = DEFAULT_ENGINE, infer_precision: str = "") -> Point:
        """A point from its numbers in DIMENSIONS order. By keyword: passed by position after the ints,
        mypy would match a `*values` of ints against the str fields too."""
        instances, processes, batch, threads = values
        return cls(instances=instances, processes=processes, batch=batch, threads=threads, engine=engine, infer_precision=infer_precision)

    def with_value(self, dim: str, value: int) -> Point:
        changes: dict[str, Any] = {dim: value}  # dim names an int field; typed Any as replace() can't know which
        return replace(self, **changes)

    @property
    def label(self) -> str:
        numbers = f"i{self.instances} p{self.processes} b{self.batch} t{self.threads}"
        return numbers if self.engine == DEFAULT_ENGINE else f"{numbers} {engine_label(self.engine, self.infer_precision)}"


def engine_label(engine: str, infer_precision: str) -> str:
    return f"{engine}:{infer_precision}" if infer_precision else engine


@dataclass(frozen=True)
class Measurement:
    """One run of one point. error: the point could not run (the reason); its figures are zero."""

    point: Point
    throughput_qps: float = 0.0
    e2e_p50_ms: float = 0.0
    e2e_p99_ms: float = 0.0
    model_p99_ms: float = 0.0
    cpu_percent: float = 0.0
    rss_mb: float = 0.0
    samples: int = 0
    duration_s: float = 0.0
    stable: bool | None = None
    max_deviation: float = 0.0
    runs_qps: tuple[float, ...] = ()  # every run of this point (two when the first was unstable)
    error: str | None = None
    role: str = ""  # "noise repeat": auto's second run of its first point
    others_cpu_percent: float | None = None  # CPU other processes used during the point, % of the machine
    # --ray: the node the point ran on (its IP, Ray's node id and its kind: CPU model, cores, memory, read
    # there), and the point's start and end on that node's clock (ns since the epoch; compare on one node only)
    node: str = ""
    node_id: str = ""
    node_kind: str = ""
    node_started_ns: int = 0
    node_ended_ns: int = 0
    # What the engine reported it computed in (the run report's engine.precision): OpenVINO's own
    # choice when the point gave no precision (bf16 on CPUs that have it), the graph's for ONNX Runtime.
    precision: str = ""
    # --accuracy_datalist: its engine's check ("pass" or "fail"; "" not checked) and lowest SNR (dB) there.
    accuracy: str = ""
    drift_min_snr_db: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def measurement_from_report(point: Point, report: dict[str, Any]) -> Measurement:
    """A RunReport dict -> Measurement. A run stopped by Ctrl-C/SIGTERM re-raises the interrupt."""
    if not report["complete"] and not report["failed_workers"]:
        raise Terminated() if "SIGTERM" in str(report["incomplete_reason"]) else KeyboardInterrupt()
    if not report["complete"]:
        return Measurement(point, error=str(report["incomplete_reason"]))
    stab = report["stability"]
    return Measurement(
        point=point,
        throughput_qps=float(report["throughput_qps"]),
        e2e_p50_ms=report["e2e"]["percentiles_us"]["p50"] / 1e3,
        e2e_p99_ms=report["e2e"]["percentiles_us"]["p99"] / 1e3,
        model_p99_ms=report["model_latency"]["percentiles_us"]["p99"] / 1e3,
        cpu_percent=float(report["resources"]["cpu_percent_of_machine"]),
        rss_mb=float(report["resources"]["rss_peak_mb"]),
        samples=int(report["samples"]),
        duration_s=float(report["forward_time_s"]),
        stable=_judged_stability(point, report),
        max_deviation=float(stab["max_deviation"]),
        precision=str((report.get("engine") or {}).get("precision") or ""),
    )


def _judged_stability(point: Point, report: dict[str, Any]) -> bool | None:
    """The report's verdict, but None ("not judged") when a window holds fewer than twice the
    samples in flight: with I x P x B samples completing together, such windows span almost no
    time and their rates say nothing (seen as "unstable, 900% spread" on 4 instances x batch 3)."""
    stab = report["stability"]
    windows = len(stab.get("window_qps") or [])
    in_flight = point.instances * point.processes * point.batch
    if stab["stable"] is False and windows and int(report["samples"]) / windows < 2 * in_flight:
        return None
    return stab["stable"]


# --- the search ---


class SweepObserver(Protocol):
    def point_started(self, point: Point, index: int, total: int | None) -> None:
        """A run of `point` begins as row `index` (from 1; an unstable repeat keeps it); total: a grid's size, else None."""

    def point_done(self, measurement: Measurement, partial: SweepResult) -> None:
        """A point finished (its unstable repeat included); partial holds every finished point."""


class NullObserver:
    def point_started(self, point: Point, index: int, total: int | None) -> None:
        return None

    def point_done(self, measurement: Measurement, partial: SweepResult) -> None:
        return None


@dataclass(frozen=True)
class SweepResult:
    mode: str  # "grid" | "auto"
    rows: tuple[Measurement, ...]
    ladders: dict[str, tuple[int, ...]]
    max_p99_ms: float | None = None
    noise: float | None = None  # auto: relative difference of the repeated first point
    threshold: float | None = None  # auto: the gain a step had to show
    interrupted: str | None = None
    log: tuple[str, ...] = ()
    engines: int = 1  # engines (or engine:precision entries) searched, each over the same ladders

    @property
    def space_size(self) -> int:
        return math.prod(len(v) for v in self.ladders.values()) * self.engines

    @property
    def points_tried(self) -> int:
        return len({m.point for m in self.rows})

    @property
    def runs(self) -> int:
        return sum(max(1, len(m.runs_qps)) for m in self.rows)

    def feasible(self, m: Measurement) -> bool:
        """Can win: it ran, meets --max_p99_ms, and its engine passed the accuracy gate (where one was given)."""
        return m.ok and m.accuracy != "fail" and (self.max_p99_ms is None or m.e2e_p99_ms <= self.max_p99_ms)

    @property
    def node_kinds(self) -> list[str]:
        """The kinds of machine the points ran on (--ray), in order of first appearance; [] for a local sweep."""
        return list(dict.fromkeys(m.node_kind for m in self.rows if m.node_kind))

    @property
    def winners_by_node_kind(self) -> dict[str, Measurement]:
        """Per node kind, its highest-throughput feasible point: machines of different kinds are ranked apart."""
        out: dict[str, Measurement] = {}
        for kind in self.node_kinds:
            candidates = [m for m in self.rows if m.node_kind == kind and self.feasible(m)]
            if candidates:
                out[kind] = max(candidates, key=lambda m: m.throughput_qps)
        return out

    @property
    def winners(self) -> list[Measurement]:
        """The winner, or with points on several node kinds one winner per kind."""
        if len(self.node_kinds) > 1:
            return list(self.winners_by_node_kind.values())
        return [self.winner] if self.winner is not None else []

    @property
    def winner(self) -> Measurement | None:
        """The highest-throughput feasible point; None when the points ran on several kinds of machine
        (a ranking across kinds would compare machines, not configurations: see winners_by_node_kind)."""
        if len(self.node_kinds) > 1:
            return None
        candidates = [m for m in self.rows if self.feasible(m)]
        return max(candidates, key=lambda m: m.throughput_qps) if candidates else None

    @property
    def low_latency_alternative(self) -> Measurement | None:
        """The lowest-p99 point within NEAR_WINNER of the winner's throughput, when not the winner itself:
        the winner often buys its last percent of throughput with several times the latency."""
        win = self.winner
        if win is None:
            return None
        near = [m for m in self.rows if self.feasible(m) and m.throughput_qps >= (1 - NEAR_WINNER) * win.throughput_qps]
        best = min(near, key=lambda m: (m.e2e_p99_ms, -m.throughput_qps))
        return None if best.point == win.point or best.e2e_p99_ms >= win.e2e_p99_ms else best

    @property
    def contended(self) -> list[Measurement]:
        """Points during which other processes used more than CONTENDED_PERCENT of the machine."""
        return [m for m in self.rows if _contended(m)]

    @property
    def pareto(self) -> list[int]:
        """Indices into rows of the Pareto front (throughput up, p99 down) of the points that ran; one
        front per node kind when the points ran on several kinds of machine."""
        out: list[int] = []
        for kind in self.node_kinds or [""]:
            ok = [k for k, m in enumerate(self.rows) if m.ok and m.node_kind == kind]
            front = pareto_front([(self.rows[k].throughput_qps, self.rows[k].e2e_p99_ms) for k in ok])
            out += [ok[k] for k in front]
        return sorted(out)


Measure = Callable[[Point], Measurement]


def _contended(m: Measurement) -> bool:
    return m.others_cpu_percent is not None and m.others_cpu_percent > CONTENDED_PERCENT


def measured(point: Point, once: Measure) -> tuple[Measurement, str]:
    """One point's run, repeated once when its windows disagree or other processes loaded the
    machine: the kept run (an uncontended, then the steadier) with every run's throughput, and the log line."""
    first = once(point)
    why = _repeat_reason(first)
    if not why:
        return replace(first, runs_qps=(first.throughput_qps,)), ""
    second = once(point)
    kept = min((first, second), key=lambda m: (not m.ok, _contended(m), m.max_deviation))
    line = (f"{point.label}: {why}, repeated: {first.throughput_qps:.4g} then {second.throughput_qps:.4g} qps; kept the "
            f"{'first' if kept is first else 'second'}")
    return replace(kept, runs_qps=(first.throughput_qps, second.throughput_qps)), line


def _repeat_reason(m: Measurement) -> str:
    """Why a run is measured again: its windows disagree, or other processes took a share of the machine."""
    if not m.ok:
        return ""
    if m.stable is False:
        return f"unstable ({m.max_deviation:.1%} spread)"
    if _contended(m):
        return f"other processes used {m.others_cpu_percent:.0f}% of the machine"
    return ""


class _Search:
    def __init__(self, mode: str, ladders: dict[str, tuple[int, ...]], measure: Measure, max_p99_ms: float | None,
                 observer: SweepObserver) -> None:
        self.mode = mode
        self.ladders = ladders
        self._measure_once = measure
        self.max_p99_ms = max_p99_ms
        self.observer = observer
        self.rows: list[Measurement] = []
        self.seen: dict[Point, list[Measurement]] = {}
        self.noise: float | None = None
        self.threshold: float | None = None
        self.log: list[str] = []
        self.interrupted: str | None = None
        self.total: int | None = None
        self.judged: set[tuple[Point, Point]] = set()

    def result(self) -> SweepResult:
        return SweepResult(self.mode, tuple(self.rows), dict(self.ladders), self.max_p99_ms, self.noise, self.threshold, self.interrupted,
                           tuple(self.log))

    def run(self, strategy: Callable[[], None]) -> SweepResult:
        try:
            strategy()
        except KeyboardInterrupt as exc:
            self.interrupted = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted (Ctrl-C)"
            self.log.append(f"{self.interrupted}: stopped after {len(self.rows)} finished point(s)")
        return self.result()

    def _once(self, point: Point) -> Measurement:
        self.observer.point_started(point, len(self.rows) + 1, self.total)
        return self._measure_once(point)

    def measure(self, point: Point, role: str = "") -> Measurement:
        if point in self.seen and not role:
            return self.seen[point][0]
        kept, line = measured(point, self._once)
        if line:
            self.log.append(line)
        kept = replace(kept, role=role)
        self.rows.append(kept)
        self.seen.setdefault(point, []).append(kept)
        self.observer.point_done(kept, self.result())
        return kept

    # grid

    def grid(self) -> None:
        points = [Point.of(values) for values in itertools.product(*(self.ladders[d] for d in DIMENSIONS))]
        self.total = len(points)
        for point in points:
            self.measure(point)

    # auto

    def feasible(self, m: Measurement) -> bool:
        """Can win: it ran, meets --max_p99_ms, and its engine passed the accuracy gate (where one was given)."""
        return m.ok and m.accuracy != "fail" and (self.max_p99_ms is None or m.e2e_p99_ms <= self.max_p99_ms)

    def score(self, point: Point) -> float | None:
        """Mean throughput of the point's feasible runs (both runs of the first point); None: infeasible."""
        runs = [m.throughput_qps for m in self.seen.get(point, []) if self.feasible(m)]
        return sum(runs) / len(runs) if runs else None

    def auto(self) -> None:
        start = Point.of(self.ladders[d][0] for d in DIMENSIONS)
        a = self.measure(start)
        if not a.ok:
            self.log.append(f"{start.label} failed ({a.error}); nothing to climb from")
            return
        b = self.measure(start, role="noise repeat")
        mean = (a.throughput_qps + b.throughput_qps) / 2
        self.noise = abs(a.throughput_qps - b.throughput_qps) / mean if b.ok and mean > 0 else 0.0
        self.threshold = min(max(self.noise, MIN_GAIN), MAX_GAIN)
        self.log.append(f"noise: {start.label} twice, {a.throughput_qps:.4g} and {b.throughput_qps:.4g} qps ({self.noise:.1%}); "
                        f"a step must gain more than {self.threshold:.1%}")
        current = start
        moved = True
        while moved:
            moved = False
            for dim in CLIMB_ORDER:
                new = self.climb(current, dim)
                moved = moved or new != current
                current = new
        self.log.append(f"auto: stopped at {current.label} (no step gains more than {self.threshold:.1%}); "
                        f"tried {len(self.seen)} of the {math.prod(len(v) for v in self.ladders.values())} points of its ladders")

    def verdict(self, current: Point, m: Measurement) -> str:
        """better | plateau | worse | failed | over (the p99 bound)."""
        assert self.threshold is not None
        if not m.ok:
            return "failed"
        if not self.feasible(m):
            return "over"
        base = self.score(current)
        if base is None:
            return "better"  # the first point that meets the bound
        gain = m.throughput_qps / base - 1 if base > 0 else math.inf
        if gain > self.threshold:
            return "better"
        return "plateau" if gain >= -self.threshold else "worse"

    def step(self, current: Point, dim: str, value: int, why: str = "") -> tuple[Point, str]:
        cand = current.with_value(dim, value)
        m = self.measure(cand)
        verdict = self.verdict(current, m)
        base = self.score(current)
        change = f" {m.throughput_qps / base - 1:+.1%}" if m.ok and base else ""
        word = {"over": f"p99 {m.e2e_p99_ms:.4g} ms over the bound", "failed": f"failed ({m.error})"}.get(verdict, verdict)
        if (current, cand) not in self.judged:  # a later pass re-reads it from the cache: log it once
            self.judged.add((current, cand))
            self.log.append(f"{dim} {current.get(dim)} -> {value}{why}: {cand.label}{change}: {word}")
        if verdict == "over":
            # Past the bound, more instances, processes or batch only add latency; more threads may remove it.
            verdict = "stop" if dim in LATENCY_GROWING else "plateau"
        return cand, verdict

    def climb(self, current: Point, dim: str) -> Point:
        ladder = self.ladders[dim]
        pos = ladder.index(current.get(dim))
        start = current
        k = pos + 1
        while k < len(ladder):
            cand, verdict = self.step(current, dim, ladder[k])
            if verdict == "better":
                current, k = cand, k + 1
                continue
            if verdict == "plateau" and k + 1 < len(ladder):
                further, verdict2 = self.step(current, dim, ladder[k + 1], " (past a plateau)")
                if verdict2 == "better":
                    current, k = further, k + 2
                    continue
            break
        if current != start or pos == 0:
            return current
        below = current.with_value(dim, ladder[pos - 1])
        if below in self.seen:
            return current
        cand, verdict = self.step(current, dim, ladder[pos - 1], " (down)")
        return cand if verdict == "better" else current


def search(
    ladders: dict[str, tuple[int, ...]], auto: bool, measure: Measure, max_p99_ms: float | None = None,
    observer: SweepObserver | None = None
) -> SweepResult:
    """Run the grid or the auto strategy (module docstring) with `measure`; Ctrl-C ends it early,
    keeping every finished point (result.interrupted says so)."""
    for dim in DIMENSIONS:
        if not ladders.get(dim):
            raise UsageError(f"{FLAGS[dim]}: no values to try")
    s = _Search("auto" if auto else "grid", ladders, measure, max_p99_ms, observer or NullObserver())
    return s.run(s.auto if auto else s.grid)


# --- real measurements ---


# --- outputs ---


