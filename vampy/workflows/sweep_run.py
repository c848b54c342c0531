"""`vampy sweep` for real: each point a short `vampy run` through run.prepare/execute, the
machine's other load watched per point, and the results as CSV, JSON and a ready-to-paste command.
The search itself (space, strategy, verdicts) is sweep.py, which knows nothing of how a point is measured.
"""
from __future__ import annotations

import csv
import io
import os
import shlex
import threading
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from vampy.config import RunConfig
from vampy.engines.base import DEFAULT_ENGINE
from vampy.errors import ModelError, UsageError, WorkerError
from vampy.results.schema import SCHEMA_VERSION, json_safe, write_json, write_text
from vampy.workflows.sweep import (
    Measure,
    Measurement,
    Point,
    SweepConfig,
    SweepObserver,
    SweepResult,
    engine_label,
    measured,
    measurement_from_report,
    search,
)


def point_config(base: RunConfig, point: Point) -> RunConfig:
    return base.with_fields(instances=point.instances, processes=point.processes, batch_size=point.batch, threads=point.threads,
                            engine=point.engine, infer_precision=point.infer_precision or None, json_path=None, dry_run=False)



class RunMeasurer:
    """Measure a point with a real short run: run.prepare + run.execute, the same calls as `vampy run`."""

    def __init__(self, base: RunConfig) -> None:
        self.base = base

    def __call__(self, point: Point) -> Measurement:
        from vampy.progress import NullProgress
        from vampy.workflows.run import execute, prepare

        before = _cpu_clocks()
        try:
            report = execute(prepare(point_config(self.base, point)), NullProgress())
        except (UsageError, ModelError, WorkerError) as exc:
            return Measurement(point, error=str(exc))
        m = measurement_from_report(point, report.to_dict())
        return replace(m, others_cpu_percent=others_cpu_percent(before, _cpu_clocks()))



def measure_on_node(base: RunConfig, files: dict[str, Any], point: Point, repeat: bool, stop: Any = None) -> tuple[Measurement, str]:
    """`vampy sweep --ray`: one point on the node this runs on, as a local `vampy sweep` measures it
    (RunMeasurer: run.prepare/execute on the local pool, that node's own warm-up), with the model and
    vdsp files the starting machine sent written to a temporary folder here first (no shared file
    system). files: {"model": {name: bytes}, "model_name": name, "vdsp": {name: bytes} or {}}.
    repeat: also the unstable/contended repeat (grid); the auto climb repeats itself. stop: the
    sweep's stop flag (an actor): when the starting machine sets it (Ctrl-C), the point is interrupted
    here as Ctrl-C interrupts a local run, so its local pool stops its workers.
    The point's start and end are stamped on this node's clock."""
    import shutil
    import tempfile
    import time
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="vampy-sweep-"))
    finished = threading.Event()
    if stop is not None:
        threading.Thread(target=_watch_stop, args=(stop, finished), name="vampy-sweep-stop", daemon=True).start()
    try:
        for group in ("model", "vdsp"):
            (folder / group).mkdir()
            for name, data in files[group].items():
                (folder / group / Path(name).name).write_bytes(data)  # plain names only: never a path from elsewhere
        here = base.with_fields(model=str(folder / "model" / Path(files["model_name"]).name),
                                vdsp_params=str(folder / "vdsp" / next(iter(files["vdsp"]))) if files["vdsp"] else None)
        started = time.time_ns()
        measure = RunMeasurer(here)
        kept, line = measured(point, measure) if repeat else (replace(m := measure(point), runs_qps=(m.throughput_qps,)), "")
        return replace(kept, node_started_ns=started, node_ended_ns=time.time_ns()), line
    finally:
        finished.set()
        shutil.rmtree(folder, ignore_errors=True)


def _watch_stop(stop: Any, finished: threading.Event, poll_s: float = 0.5) -> None:
    # ray.cancel of a running task tripped a check in Ray 2.60's driver (it aborted), so the stop travels as data.
    import _thread

    import ray

    while not finished.wait(poll_s):
        try:
            if ray.get(stop.is_set.remote(), timeout=10):
                _thread.interrupt_main()  # a KeyboardInterrupt in the point's run, as Ctrl-C locally
                return
        except ray.exceptions.RayError:
            return  # the flag is gone: the sweep ended


def _cpu_clocks() -> tuple[float, float, float]:
    """(wall s, machine busy CPU s, this process's and its reaped children's CPU s)."""
    import time

    import psutil

    machine = psutil.cpu_times()
    # steal: time the hypervisor gave to other machines, as lost to this run as another process's
    busy = sum(getattr(machine, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "steal"))
    own = os.times()
    return time.monotonic(), busy, own.user + own.system + own.children_user + own.children_system



def others_cpu_percent(before: tuple[float, float, float], after: tuple[float, float, float], n_cores: int | None = None) -> float | None:
    """CPU that other processes used over a point, as % of the machine: machine-wide busy time less
    ours (the workers are reaped children, so os.times counts them). Spans the whole point, setup included."""
    wall = after[0] - before[0]
    if wall <= 0:
        return None
    others = (after[1] - before[1]) - (after[2] - before[2])
    return max(0.0, min(100.0, 100.0 * others / (wall * (n_cores or psutil_cores()))))



def psutil_cores() -> int:
    import psutil

    return psutil.cpu_count(logical=True) or 1



def model_fixed_batch(base: RunConfig) -> int | None:
    """Check the shared run config once (model, vdsp, shapes: fail fast); the model's fixed batch, if any."""
    from vampy.workflows.run import prepare

    prepared = prepare(base.with_fields(batch_size=1, instances=1, processes=1))
    if not prepared.plan.fixed_batch:
        return None
    return next(int(t.shape[0]) for t in prepared.info.inputs if t.shape and t.shape[0] is not None)



def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)



def run_sweep(cfg: SweepConfig, observer: SweepObserver | None = None, measure: Measure | None = None) -> SweepResult:
    """The sweep of `vampy sweep`: check the model once, then grid or auto with real runs, engine by engine.

    Each engine (and precision) is searched on its own ladders, one after the other; the rows are
    pooled, so the winner and the Pareto front are across engines, each row saying its engine.
    """
    cluster = None
    if cfg.ray_address is not None and measure is None:
        from vampy.execution.executor import connect_cluster

        connect_cluster(cfg.ray_address)  # an unreachable cluster fails here, before any work
    fixed_batch = model_fixed_batch(cfg.base)  # the model and vdsp file checked here, before a node sees them
    _check_engines(cfg)
    if cfg.ray_address is not None and measure is None:
        from vampy.workflows.sweep_ray import ClusterSweep

        cluster = ClusterSweep(cfg, measure_on_node)
    ladders = cfg.space.ladders(cluster.cores(cfg.auto) if cluster else cores(), fixed_batch)
    measure = measure or RunMeasurer(cfg.base)
    checks = _accuracy_checks(cfg)
    done: list[SweepResult] = []
    for engine, precision in cfg.engines:
        tagged = _EngineTagged(measure, engine, precision, checks.get((engine, precision)))
        offset = _Offset(observer, done, tagged, cfg.engines) if observer else None
        if cluster is not None:
            part = cluster.search(ladders, cfg.auto, engine, precision, offset)
        else:
            part = search(ladders, cfg.auto, tagged, cfg.max_p99_ms, offset)
        done.append(part)
        if part.interrupted:
            break
    return done[0] if len(done) == 1 else _pooled(done, cfg.engines)


def _accuracy_checks(cfg: SweepConfig) -> dict[tuple[str, str], Any]:
    """--accuracy_datalist: each engine's check against the reference, before the first point; {} without it."""
    if cfg.accuracy_datalist is None:
        return {}
    from vampy.workflows.sweep_accuracy import check_engines

    return check_engines(cfg)


def _check_engines(cfg: SweepConfig) -> None:
    """Every engine of --engines can run here (installed, with that precision), before the first point."""
    from vampy.engines.base import EngineOptions, get_engine

    for engine, precision in cfg.engines:
        get_engine(engine).check(EngineOptions(precision=precision or None))


class _EngineTagged:
    """The search varies the numbers; this puts the engine on every point before it is measured."""

    def __init__(self, measure: Measure, engine: str, precision: str, accuracy: Any = None) -> None:
        self.measure, self.engine, self.precision, self.accuracy = measure, engine, precision, accuracy

    def __call__(self, point: Point) -> Measurement:
        m = self.measure(replace(point, engine=self.engine, infer_precision=self.precision))
        if self.accuracy is None:
            return m
        return replace(m, accuracy="pass" if self.accuracy.passed else "fail", drift_min_snr_db=self.accuracy.min_snr_db)


class _Offset:
    """An observer for one engine's search: row numbers and partial results count the engines before it."""

    def __init__(self, observer: SweepObserver, done: list[SweepResult], tagged: _EngineTagged,
                 engines: tuple[tuple[str, str], ...]) -> None:
        self.observer, self.done, self.tagged, self.engines = observer, list(done), tagged, engines

    def point_started(self, point: Point, index: int, total: int | None) -> None:
        before = sum(len(r.rows) for r in self.done)
        shown = replace(point, engine=self.tagged.engine, infer_precision=self.tagged.precision)
        # a grid's total covers every engine (they share the ladders); a climb has none
        self.observer.point_started(shown, before + index, None if total is None else total * len(self.engines))

    def point_done(self, measurement: Measurement, partial: SweepResult) -> None:
        pooled = _pooled([*self.done, partial], self.engines) if len(self.engines) > 1 else partial
        self.observer.point_done(measurement, pooled)


def _pooled(parts: list[SweepResult], engines: tuple[tuple[str, str], ...]) -> SweepResult:
    """The engines' searches as one result. noise/threshold stay the first engine's: the log gives each one's."""
    first = parts[0]
    log = tuple(f"{engine_label(*spec)}: {line}" for spec, r in zip(engines, parts) for line in r.log)
    return replace(first, rows=tuple(m for r in parts for m in r.rows),
                   interrupted=next((r.interrupted for r in parts if r.interrupted), None), log=log, engines=len(engines))



def _format_shapes(shapes: tuple[tuple[int, ...], ...]) -> str:
    parts = ["[" + ",".join(map(str, s)) + "]" for s in shapes]
    return parts[0] if len(parts) == 1 else "[" + ",".join(parts) + "]"



def run_command_line(base: RunConfig, point: Point) -> str:
    """The winner as a ready-to-paste `vampy run` command line (shell-quoted)."""
    args = ["vampy", "run", "-m", base.model]
    if base.inputs.vdsp_params:
        args += ["--vdsp_params", base.inputs.vdsp_params]
    if base.inputs.shapes:
        args += ["-s", _format_shapes(base.inputs.shapes)]
    args += ["-i", str(point.instances), "-p", str(point.processes), "-b", str(point.batch), "--threads", str(point.threads)]
    if point.engine != DEFAULT_ENGINE:
        args += ["--engine", point.engine]
    if point.infer_precision:
        args += ["--infer_precision", point.infer_precision]
    if base.inputs.token_dtype:
        args += ["--dtype", base.inputs.token_dtype]
    return shlex.join(args)



CSV_COLUMNS = (
    "index", "instances", "processes", "batch", "threads", "engine", "infer_precision", "precision",
    "throughput_qps", "e2e_p50_ms", "e2e_p99_ms", "model_p99_ms",
    "cpu_percent", "others_cpu_percent", "rss_mb", "samples", "duration_s", "stable", "max_deviation", "runs", "meets_bound", "pareto",
    "winner", "role", "error", "node", "node_kind",
)



def row_dicts(result: SweepResult) -> list[dict[str, Any]]:
    front = set(result.pareto)
    winners = result.winners
    rows = []
    for k, m in enumerate(result.rows):
        d = asdict(m)
        point = d.pop("point")
        rows.append({
            "index": k + 1, **point, **{key: d[key] for key in d if key != "runs_qps"}, "runs_qps": list(m.runs_qps),
            "runs": len(m.runs_qps), "meets_bound": result.feasible(m), "pareto": k in front, "winner": any(m is w for w in winners),
            "drift_min_snr_db": json_safe(m.drift_min_snr_db),
        })
    return rows



ACCURACY_COLUMNS = ("accuracy", "drift_min_snr_db")  # only in a sweep with --accuracy_datalist


def sweep_csv(result: SweepResult) -> str:
    out = io.StringIO()
    columns = CSV_COLUMNS + (ACCURACY_COLUMNS if any(m.accuracy for m in result.rows) else ())
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in row_dicts(result):
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return out.getvalue()



def _accuracy_summary(result: SweepResult) -> list[dict[str, Any]]:
    """Per engine checked: its verdict and lowest SNR on --accuracy_datalist ([] when no check ran)."""
    seen: dict[str, dict[str, Any]] = {}
    for m in result.rows:
        if m.accuracy:
            label = engine_label(m.point.engine, m.point.infer_precision)
            seen.setdefault(label, {"engine": label, "accuracy": m.accuracy, "drift_min_snr_db": json_safe(m.drift_min_snr_db)})
    return list(seen.values())


def sweep_dict(result: SweepResult, cfg: SweepConfig, environment: dict[str, Any] | None = None) -> dict[str, Any]:
    winner = result.winner
    alt = result.low_latency_alternative
    return {
        "kind": "sweep",
        "schema_version": SCHEMA_VERSION,
        "complete": result.interrupted is None,
        "interrupted": result.interrupted,
        "mode": result.mode,
        "config": {"run": cfg.base.to_dict(), "space": cfg.space.to_dict(), "max_p99_ms": cfg.max_p99_ms, "search": result.mode,
                   "engines": [engine_label(e, p) for e, p in cfg.engines], "accuracy_datalist": cfg.accuracy_datalist,
                   "min_snr_db": cfg.min_snr_db, "reference_model": cfg.reference_model},
        "accuracy": _accuracy_summary(result),
        "ladders": {d: list(v) for d, v in result.ladders.items()},
        "space_size": result.space_size,
        "points_tried": result.points_tried,
        "runs": result.runs,
        "noise": result.noise,
        "threshold": result.threshold,
        "contended_points": len(result.contended),
        "points": row_dicts(result),
        "pareto": [k + 1 for k in result.pareto],
        "winner": next((r for r, m in zip(row_dicts(result), result.rows) if m is winner), None),
        "winner_command": run_command_line(cfg.base, winner.point) if winner else None,
        "low_latency_alternative": next((r for r, m in zip(row_dicts(result), result.rows) if m is alt), None),
        "low_latency_command": run_command_line(cfg.base, alt.point) if alt else None,
        "node_kinds": result.node_kinds,
        "winners_by_node_kind": [
            {"node_kind": kind, "winner": next(r for r, m in zip(row_dicts(result), result.rows) if m is w),
             "winner_command": run_command_line(cfg.base, w.point)}
            for kind, w in result.winners_by_node_kind.items()
        ],
        "ray_address": cfg.ray_address,
        "log": list(result.log),
        "environment": environment or {},
    }


def write_sweep_outputs(cfg: SweepConfig, result: SweepResult, environment: dict[str, Any]) -> None:
    """Rewrite --csv and --json (each atomically) with `result`; called after every point, so Ctrl-C keeps them."""
    if cfg.csv_path:
        write_text(cfg.csv_path, sweep_csv(result), "--csv")
    if cfg.json_path:
        write_json(cfg.json_path, sweep_dict(result, cfg, environment))



@dataclass(frozen=True)
class SweepReport:
    """What `vampy.sweep` returns: the result with its config; to_dict() is what `vampy sweep --json` writes."""

    result: SweepResult
    config: SweepConfig
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def points(self) -> tuple[Measurement, ...]:
        return self.result.rows

    @property
    def winner(self) -> Measurement | None:
        return self.result.winner

    @property
    def complete(self) -> bool:
        return self.result.interrupted is None

    @property
    def winner_command(self) -> str | None:
        """The winner as a `vampy run` command line."""
        win = self.result.winner
        return run_command_line(self.config.base, win.point) if win else None

    def to_dict(self) -> dict[str, Any]:
        return sweep_dict(self.result, self.config, self.environment)
