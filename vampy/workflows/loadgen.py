"""`vampy loadgen`: MLPerf LoadGen scenarios driving vampy's instances, with vampy's statistics
of the same run beside LoadGen's own summary.

LoadGen calls the system under test (SUT) back in this process, so here the instances are
threads of this one process (as inside one `vampy run` worker), each sample served by the timed
request of `vampy run` (execution/request.py: its preprocessing, device split, in-flight stamp and
npz writer). Each sample's timestamps are recorded from the moment LoadGen issues it, as LoadGen
measures. `mlcommons-loadgen` is an optional dependency
(`pip install 'vampy[mlperf]'`); without it the command says how to install it.
"""
from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from vampy.config.loadgen import MODES, SCENARIOS, LoadgenConfig  # noqa: F401 - re-exported
from vampy.config.run import InputOptions, device_of
from vampy.data.inputs import InputPlan, batch_feed, build_plan, sample_tensor, synthetic_raw
from vampy.engines.base import EngineOptions, build_pending, get_engine
from vampy.errors import InputError, OutputError, UsageError
from vampy.execution.datalist_task import NpzWriter
from vampy.execution.request import Failure, Instance, Ledger, Sample, output_arrays, timed_request
from vampy.measure.records import COLUMNS, Recorder
from vampy.measure.stats import summarize_latency
from vampy.models.resolve import resolve_model

_SUMMARY_FILE = "mlperf_log_summary.txt"


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
    samples = _samples(cfg, spec, info)
    plan = build_plan(InputOptions(shapes=cfg.shapes or _shapes_of(samples), seed=cfg.seed), spec, info)
    threads = cfg.threads or max(1, _cores() // cfg.instances)
    sessions = [engine.open(model_path, replace(options, intra_threads=threads, streams=cfg.instances)) for _ in range(cfg.instances)]
    sut = _Sut(plan, sessions, samples, cfg, clock, lg)
    expected_ns = sut.calibrate()
    log_dir = Path(cfg.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    lg.StartTestWithLogSettings(sut.handle, sut.qsl, _settings(lg, cfg, expected_ns, len(samples)), _log_settings(lg, log_dir))
    sut.close()
    sut.check(log_dir)
    summary = parse_summary((log_dir / _SUMMARY_FILE).read_text(encoding="utf-8", errors="replace"))
    ours = _our_stats(sut.columns())
    written = sut.writer.written if sut.writer else 0
    return LoadgenReport(asdict(cfg), summary, ours, compare(summary, ours), written, str(log_dir), sessions[0].info.to_dict())


def _import_loadgen() -> Any:
    try:
        import mlperf_loadgen
    except ImportError:
        raise UsageError("vampy loadgen needs MLPerf LoadGen: pip install mlcommons-loadgen (or 'vampy[mlperf]')") from None
    return mlperf_loadgen


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _samples(cfg: LoadgenConfig, spec: Any, info: Any) -> list[Sample]:
    """The query sample library: synthetic inputs, or the datalist's npz inputs (accuracy), each naming its line."""
    if cfg.datalist is None:
        plan = build_plan(InputOptions(shapes=cfg.shapes, seed=cfg.seed), spec, info)
        rng = np.random.default_rng(cfg.seed)
        return [Sample([synthetic_raw(s, spec, rng) for s in plan.slots]) for _ in range(cfg.samples)]
    from vampy.data.npz_inputs import match_npz
    from vampy.formats.datalist import read_datalist
    from vampy.formats.npz import load_input_npz
    from vampy.models.graph import gather_index_bounds

    entries = read_datalist(Path(cfg.datalist))
    if not entries:
        raise InputError(f"{cfg.datalist}: no lines")
    # The members are matched to the model's inputs as `vampy run --datalist` matches them: by name, or input_N by position.
    keys = match_npz(str(entries[0].path), load_input_npz(entries[0].path), info, gather_index_bounds(Path(info.path))).keys
    samples = []
    for e in entries:
        arrays = load_input_npz(e.path)
        missing = [key for key in keys if key not in arrays]
        if missing:
            raise InputError(f"{e.path}: no member {', '.join(missing)} (the first datalist entry fed the model from {', '.join(keys)})")
        samples.append(Sample([arrays[key] for key in keys], e.index, str(e.path)))
    return samples


def _shapes_of(samples: list[Sample]) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(a.shape) for a in samples[0].raws)


class _Sut:
    """LoadGen's callbacks -> a queue -> one thread per instance, each sample served by request.timed_request."""

    def __init__(self, plan: InputPlan, sessions: list[Any], samples: list[Sample], cfg: LoadgenConfig, clock: Callable[[], int],
                 lg: Any) -> None:
        self.plan, self.sessions, self.samples = plan, sessions, samples
        self.cfg, self.clock, self.lg = cfg, clock, lg
        self.queue: queue.Queue[tuple[Any, int] | None] = queue.Queue()
        # Each instance's request in flight (start ns, 0 when idle), stamped as a run's workers stamp it.
        self.inflight = np.zeros(len(sessions), np.int64)
        self.ledgers = [Ledger(Recorder(1024)) for _ in sessions]  # one per serving thread: no lock on the hot path
        self.writer = NpzWriter(cfg.path_output) if cfg.mode == "accuracy" and cfg.path_output is not None else None
        self.responders = [_Responder(lg, self.writer) for _ in sessions]
        self.errors: list[BaseException] = []  # a synthetic sample's failure is the run's: raised after the test
        self.handle = lg.ConstructSUT(self._issue, self._flush)
        self.qsl = lg.ConstructQSL(len(samples), len(samples), self._noop, self._noop)
        self.threads = [
            threading.Thread(target=self._serve, args=(Instance(s, clock, self.inflight, k), ledger, responder), daemon=True)
            for k, (s, ledger, responder) in enumerate(zip(sessions, self.ledgers, self.responders))
        ]
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
        tensors = [sample_tensor(slot, self.plan, raw) for slot, raw in zip(self.plan.slots, self.samples[0].raws)]
        feed = batch_feed(self.plan, [tensors])
        for session in self.sessions:
            if build_pending(session):
                session.run(feed)  # TensorRT's engine build must not become LoadGen's latency hint
        t0 = self.clock()
        for session in self.sessions:
            session.run(feed)
        return max(1, (self.clock() - t0) // len(self.sessions))

    def _serve(self, instance: Instance, ledger: Ledger, responder: _Responder) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            query, issued = item
            responder.query = query
            try:
                timed_request(instance, self.plan, [self.samples[query.index]], responder, ledger, issued)
            except Exception as exc:  # noqa: BLE001 - LoadGen waits for every sample: it still gets an answer
                self.errors.append(exc)
            self.lg.QuerySamplesComplete([responder.take()])

    def columns(self) -> dict[str, np.ndarray]:
        """Every served sample's row (measure/records.py's columns), all instances together."""
        parts = [ledger.record.arrays() for ledger in self.ledgers]
        return {name: np.concatenate([p[name] for p in parts]) for name in COLUMNS}

    def check(self, log_dir: Path) -> None:
        """Samples that failed (answered to LoadGen with no data) make the run an error: outputs not
        written are an OutputError (exit 7), inputs the model or the preprocessing refused an InputError;
        a synthetic sample's failure is raised as it came."""
        if self.errors:
            raise self.errors[0]
        refused = [f for r in self.responders for f in r.write_failures]
        failed = sorted((f for ledger in self.ledgers for f in ledger.failures), key=lambda f: f[0])
        for kind, failures in ((OutputError, refused), (InputError, failed)):
            if failures:
                index, path, reason = failures[0]
                raise kind(f"{len(failures)} of {len(self.samples)} sample(s) failed, LoadGen's log in {log_dir} is incomplete; "
                           f"the first: line {index} ({path}): {reason}")

    def close(self) -> None:
        for _ in self.threads:
            self.queue.put(None)
        for t in self.threads:
            t.join(timeout=30)
        self.lg.DestroyQSL(self.qsl)
        self.lg.DestroySUT(self.handle)


class _Responder:
    """One serving thread's output sink: LoadGen's response to the query sample it serves, built in the
    output phase. In accuracy mode the sample's output npz goes through the one writer (once the folder
    refuses files, no more are tried: LoadGen cannot be stopped, the run fails afterwards) and output 0's
    bytes go to LoadGen's accuracy log."""

    def __init__(self, lg: Any, writer: NpzWriter | None) -> None:
        self.lg = lg
        self.writer = writer
        self.query: Any = None  # LoadGen's QuerySample being served
        self.write_failures: list[Failure] = []
        self._response: Any = None
        self._data: np.ndarray | None = None  # LoadGen copies these bytes before QuerySamplesComplete returns

    def write(self, samples: Sequence[Sample], outputs: Sequence[np.ndarray], failures: list[Failure]) -> None:
        if self.writer is None:
            self._response = self.lg.QuerySampleResponse(self.query.id, 0, 0)
            return
        sample = samples[0]
        arrays = output_arrays(outputs, 0)
        if self.writer.fatal is None and sample.index is not None:
            self.writer.write(sample.index, sample.path, arrays, self.write_failures)
        self._data = np.ascontiguousarray(arrays["output_0"])
        self._response = self.lg.QuerySampleResponse(self.query.id, self._data.ctypes.data, self._data.nbytes)

    def take(self) -> Any:
        """The response to hand LoadGen: an empty one for a sample that failed (LoadGen waits for every sample)."""
        response = self._response if self._response is not None else self.lg.QuerySampleResponse(self.query.id, 0, 0)
        self._response = None
        return response


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


def _our_stats(columns: dict[str, np.ndarray]) -> dict[str, Any]:
    """vampy's statistics of the served samples (one row each; arrival_ns is LoadGen's issue time)."""
    issued, start, end = columns["arrival_ns"], columns["start_ns"], columns["end_ns"]
    model_start, model_end = columns["model_start_ns"], columns["model_end_ns"]
    window_s = (end.max() - issued.min()) / 1e9 if end.size else 0.0
    e2e_ns = end - issued
    return {
        "e2e_loadgen_rank_us": {f"p{q:g}": loadgen_rank_ns(e2e_ns, q) / 1e3 for q in (50.0, 90.0, 95.0, 97.0, 99.0, 99.9)},
        "samples": int(end.size),
        "throughput_qps": end.size / window_s if window_s > 0 else 0.0,
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
