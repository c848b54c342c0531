"""`vampy loadgen`: MLPerf LoadGen scenarios driving vampy's instances, with vampy's statistics
of the same run beside LoadGen's own summary.

LoadGen calls the system under test (SUT) back in this process, so here the instances are
threads of this one process (as inside one `vampy run` worker), using the same input plan,
preprocessing and session code as `vampy run`. Each sample's timestamps are recorded from the
moment LoadGen issues it, as LoadGen measures. `mlcommons-loadgen` is an optional dependency
(`pip install 'vampy[mlperf]'`); without it the command says how to install it.
"""
from __future__ import annotations

import queue
import re
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from vampy.config import RunConfig, device_of
from vampy.engines.base import check_engine_flags
from vampy.errors import InputError, UsageError
from vampy.data.inputs import InputPlan, batch_feed, build_plan, sample_tensor, synthetic_raw
from vampy.engines.base import EngineOptions, build_pending, get_engine
from vampy.models.resolve import resolve_model
from vampy.measure.stats import summarize_latency

SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")
MODES = ("performance", "accuracy")
_SUMMARY_FILE = "mlperf_log_summary.txt"


@dataclass(frozen=True)
class LoadgenConfig:
    model: str
    scenario: str = "SingleStream"
    mode: str = "performance"
    vdsp_params: str | None = None
    shapes: tuple[tuple[int, ...], ...] | None = None
    instances: int = 1
    threads: int | None = None
    samples: int = 64  # QSL size in performance mode (synthetic inputs)
    min_queries: int = 100
    min_duration_s: float = 1.0
    max_duration_s: float = 60.0
    target_qps: float | None = None  # Server (required) and Offline (expected)
    target_latency_ms: float | None = None  # Server latency bound
    samples_per_query: int = 8  # MultiStream
    datalist: str | None = None  # accuracy mode
    path_output: str | None = None  # accuracy mode: vamp-style output_%06d.npz
    log_dir: str = "mlperf_logs"
    seed: int = 0
    engine: str = "onnxruntime"
    provider: str | None = None
    infer_precision: str | None = None

    def __post_init__(self) -> None:
        check_engine_flags(self.engine, self.provider, self.infer_precision)
        if self.scenario not in SCENARIOS:
            raise UsageError(f"--scenario {self.scenario}: choose one of {', '.join(SCENARIOS)}")
        if self.mode not in MODES:
            raise UsageError(f"--mode {self.mode}: choose performance or accuracy")
        if self.scenario == "Server" and self.target_qps is None:
            raise UsageError("--scenario Server needs --target_qps (the Poisson arrival rate LoadGen issues)")
        if self.mode == "accuracy" and (self.datalist is None or self.path_output is None):
            raise UsageError("--mode accuracy needs --datalist and --path_output: every sample's output is written as output_NNNNNN.npz")
        for flag, value in (("-i", self.instances), ("--samples", self.samples), ("--min_queries", self.min_queries)):
            if value < 1:
                raise UsageError(f"{flag} {value}: must be at least 1")
        if self.min_duration_s < 0 or self.max_duration_s <= 0:
            raise UsageError("--min_duration/--max_duration: give seconds, max above 0")


@dataclass
class _Records:
    """One row per sample: LoadGen's issue time, then vampy's phases (ns)."""

    rows: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, row: tuple[int, int, int, int, int]) -> None:
        with self.lock:
            self.rows.append(row)


@dataclass(frozen=True)
class LoadgenReport:
    config: dict[str, Any]
    loadgen: dict[str, Any]  # LoadGen's own summary: result, percentiles, its text
    vampy: dict[str, Any]  # vampy's statistics of the same samples
    comparison: dict[str, Any]
    outputs_written: int
    log_dir: str
    engine: dict[str, Any] | None = None  # EngineInfo.to_dict(): what ran
    kind: str = "loadgen"
    schema_version: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_loadgen(cfg: LoadgenConfig, clock: Callable[[], int] = time.perf_counter_ns) -> LoadgenReport:
    lg = _import_loadgen()
    model_path = resolve_model(cfg.model)
    engine = get_engine(cfg.engine)
    options = EngineOptions(device=device_of(cfg.provider), precision=cfg.infer_precision)
    engine.check(options)
    info = engine.describe(model_path)
    from vampy.formats.vdsp import load_vdsp

    spec = load_vdsp(cfg.vdsp_params) if cfg.vdsp_params else None
    raws, indices = _samples(cfg, spec, info)
    plan = build_plan(RunConfig(model=cfg.model, shapes=cfg.shapes or _shapes_of(raws), seed=cfg.seed), spec, info)
    threads = cfg.threads or max(1, _cores() // cfg.instances)
    sessions = [engine.open(model_path, replace(options, intra_threads=threads, streams=cfg.instances)) for _ in range(cfg.instances)]
    sut = _Sut(plan, sessions, raws, indices, cfg, clock, lg)
    expected_ns = sut.calibrate()
    log_dir = Path(cfg.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    lg.StartTestWithLogSettings(sut.handle, sut.qsl, _settings(lg, cfg, expected_ns, len(raws)), _log_settings(lg, log_dir))
    sut.close()
    summary = parse_summary((log_dir / _SUMMARY_FILE).read_text(encoding="utf-8", errors="replace"))
    ours = _our_stats(sut.records, cfg)
    return LoadgenReport(asdict(cfg), summary, ours, compare(summary, ours), sut.written, str(log_dir), sessions[0].info.to_dict())


def _import_loadgen() -> Any:
    try:
        import mlperf_loadgen
    except ImportError:
        raise UsageError("vampy loadgen needs MLPerf LoadGen: pip install mlcommons-loadgen (or 'vampy[mlperf]')") from None
    return mlperf_loadgen


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _samples(cfg: LoadgenConfig, spec: Any, info: Any) -> tuple[list[list[np.ndarray]], list[int]]:
    """The query sample library: synthetic inputs, or the datalist's npz inputs (accuracy)."""
    if cfg.datalist is None:
        plan = build_plan(RunConfig(model=cfg.model, shapes=cfg.shapes, seed=cfg.seed), spec, info)
        rng = np.random.default_rng(cfg.seed)
        return [[synthetic_raw(s, spec, rng) for s in plan.slots] for _ in range(cfg.samples)], list(range(cfg.samples))
    from vampy.formats.npz import load_input_npz
    from vampy.formats.datalist import read_datalist

    entries = read_datalist(Path(cfg.datalist))
    if not entries:
        raise InputError(f"{cfg.datalist}: no lines")
    raws = []
    for e in entries:
        arrays = load_input_npz(e.path)
        raws.append([arrays[f"input_{k}"] for k in range(len(info.inputs))])
    return raws, [e.index for e in entries]


def _shapes_of(raws: list[list[np.ndarray]]) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(a.shape) for a in raws[0])


class _Sut:
    """LoadGen's callbacks -> a queue -> one thread per instance."""

    def __init__(self, plan: InputPlan, sessions: list[Any], raws: list[list[np.ndarray]], indices: list[int],
                 cfg: LoadgenConfig, clock: Callable[[], int], lg: Any) -> None:
        self.plan, self.sessions, self.raws, self.indices = plan, sessions, raws, indices
        self.cfg, self.clock, self.lg = cfg, clock, lg
        self.queue: queue.Queue[tuple[Any, int] | None] = queue.Queue()
        self.records = _Records()
        self.written = 0
        self.handle = lg.ConstructSUT(self._issue, self._flush)
        self.qsl = lg.ConstructQSL(len(raws), len(raws), self._noop, self._noop)
        self.threads = [threading.Thread(target=self._serve, args=(s,), daemon=True) for s in sessions]
        for t in self.threads:
            t.start()

    def _noop(self, sample_indices: list[int]) -> None:
        return None  # every sample is already in memory

    def _flush(self) -> None:
        return None

    def _issue(self, query_samples: list[Any]) -> None:
        issued = self.clock()
        for sample in query_samples:
            self.queue.put((sample, issued))

    def calibrate(self) -> int:
        """One timed request per instance before the test: LoadGen's expected latency hint."""
        tensors = [sample_tensor(slot, self.plan, raw) for slot, raw in zip(self.plan.slots, self.raws[0])]
        feed = batch_feed(self.plan, [tensors])
        for session in self.sessions:
            if build_pending(session):
                session.run(feed)  # TensorRT's engine build must not become LoadGen's latency hint
        t0 = self.clock()
        for session in self.sessions:
            session.run(feed)
        return max(1, (self.clock() - t0) // len(self.sessions))

    def _serve(self, session: Any) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            sample, issued = item
            start = self.clock()
            raw = self.raws[sample.index]
            feed = batch_feed(self.plan, [[sample_tensor(slot, self.plan, r) for slot, r in zip(self.plan.slots, raw)]])
            model_start = self.clock()
            outputs = session.run(feed)
            model_end = self.clock()
            response = self._respond(sample, outputs)
            end = self.clock()
            self.records.add((issued, start, model_start, model_end, end))
            self.lg.QuerySamplesComplete([response[0]])

    def _respond(self, sample: Any, outputs: list[np.ndarray]) -> tuple[Any, Any]:
        if self.cfg.mode != "accuracy":
            return self.lg.QuerySampleResponse(sample.id, 0, 0), None
        from vampy.formats.datalist import output_name
        from vampy.formats.npz import write_npz_atomic

        arrays = {f"output_{k}": np.asarray(out) for k, out in enumerate(outputs)}
        write_npz_atomic(Path(self.cfg.path_output or "."), output_name(self.indices[sample.index]), arrays)
        self.written += 1
        data = np.ascontiguousarray(arrays["output_0"])
        # LoadGen copies the bytes into its accuracy log before QuerySamplesComplete returns.
        return self.lg.QuerySampleResponse(sample.id, data.ctypes.data, data.nbytes), data

    def close(self) -> None:
        for _ in self.threads:
            self.queue.put(None)
        for t in self.threads:
            t.join(timeout=30)
        self.lg.DestroyQSL(self.qsl)
        self.lg.DestroySUT(self.handle)


def _settings(lg: Any, cfg: LoadgenConfig, expected_ns: int, qsl_size: int) -> Any:
    s = lg.TestSettings()
    s.scenario = getattr(lg.TestScenario, cfg.scenario)
    s.mode = lg.TestMode.AccuracyOnly if cfg.mode == "accuracy" else lg.TestMode.PerformanceOnly
    s.min_query_count = cfg.min_queries
    s.min_duration_ms = int(cfg.min_duration_s * 1000)
    s.max_duration_ms = int(cfg.max_duration_s * 1000)
    s.single_stream_expected_latency_ns = expected_ns
    s.multi_stream_expected_latency_ns = expected_ns * cfg.samples_per_query
    s.multi_stream_samples_per_query = cfg.samples_per_query
    s.offline_expected_qps = cfg.target_qps or max(1.0, 1e9 / expected_ns * cfg.instances)
    if cfg.target_qps is not None:
        s.server_target_qps = cfg.target_qps
    if cfg.target_latency_ms is not None:
        s.server_target_latency_ns = int(cfg.target_latency_ms * 1e6)
    s.performance_sample_count_override = qsl_size
    return s


def _log_settings(lg: Any, log_dir: Path) -> Any:
    settings = lg.LogSettings()
    settings.log_output.outdir = str(log_dir)
    settings.log_output.copy_summary_to_stdout = False
    return settings


_FIELD = re.compile(r"^\s*(.+?)\s*:\s*(\S.*)$")


def parse_summary(text: str) -> dict[str, Any]:
    """LoadGen's mlperf_log_summary.txt -> result, reason lines, and every numeric field."""
    fields: dict[str, Any] = {}
    for line in text.splitlines():
        m = _FIELD.match(line)
        if not m:
            continue
        key, value = m.group(1), m.group(2).strip()
        try:
            fields[key] = float(value)
        except ValueError:
            fields[key] = value
    result = str(fields.get("Result is", "UNKNOWN"))
    percentiles = {}
    for key, value in fields.items():
        pm = re.match(r"^(\d+(?:\.\d+)?) percentile latency \(ns\)$", key)
        if pm and isinstance(value, float):
            percentiles[f"p{float(pm.group(1)):g}"] = value / 1e3
    return {
        "result": result,
        "scenario": fields.get("Scenario"),
        "percentiles_us": percentiles,
        "mean_us": fields["Mean latency (ns)"] / 1e3 if isinstance(fields.get("Mean latency (ns)"), float) else None,
        "fields": fields,
        "text": text,
    }


def _our_stats(records: _Records, cfg: LoadgenConfig) -> dict[str, Any]:
    rows = np.array(records.rows, dtype=np.int64).reshape(-1, 5)
    issued, start, model_start, model_end, end = rows.T
    window_s = (end.max() - issued.min()) / 1e9 if rows.size else 0.0
    e2e_ns = end - issued
    return {
        "e2e_loadgen_rank_us": {f"p{q:g}": loadgen_rank_ns(e2e_ns, q) / 1e3 for q in (50.0, 90.0, 95.0, 97.0, 99.0, 99.9)},
        "samples": int(rows.shape[0]),
        "throughput_qps": rows.shape[0] / window_s if window_s > 0 else 0.0,
        "e2e": summarize_latency(end - issued, (50.0, 90.0, 95.0, 97.0, 99.0, 99.9)).to_dict(),
        "model_latency": summarize_latency(model_end - model_start, (50.0, 99.0)).to_dict(),
        "queue": summarize_latency(start - issued, (50.0, 99.0)).to_dict(),
    }


def loadgen_rank_ns(values_ns: np.ndarray, q: float) -> int:
    """LoadGen's percentile: sorted[floor(n * q/100)] (0-based). vampy's nearest rank is
    sorted[ceil(n * q/100) - 1]: the same sample except when n*q/100 is a whole number, where
    LoadGen takes the next one up. Used only to separate that definition from clock offsets."""
    ordered = np.sort(values_ns)
    return int(ordered[min(ordered.size - 1, int(ordered.size * q / 100.0))])


def compare(loadgen: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    """Percentile by percentile against LoadGen's: with vampy's own definition (what vampy run
    reports), and with LoadGen's rank rule on vampy's timestamps (what is left is clock offset)."""
    gaps, same_rank = {}, {}
    for key, theirs in loadgen["percentiles_us"].items():
        mine = ours["e2e"]["percentiles_us"].get(key)
        if mine is not None and theirs:
            gaps[key] = (mine - theirs) / theirs
            same_rank[key] = (ours["e2e_loadgen_rank_us"][key] - theirs) / theirs
    return {
        "relative_gap": gaps,
        "max_abs_gap": max((abs(g) for g in gaps.values()), default=None),
        "relative_gap_same_rank": same_rank,
        "max_abs_gap_same_rank": max((abs(g) for g in same_rank.values()), default=None),
    }
