"""RawRun -> RunReport: all statistics of a run, computed after the fact from raw timestamps."""
from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from vampy import __version__
from vampy.data.inputs import InputPlan
from vampy.engines.base import DEFAULT_ENGINE, get_engine
from vampy.measure.records import COLUMNS, RawRun, WorkerResult
from vampy.measure.schedule import summarize_open_loop
from vampy.measure.stats import histogram_us, measured_window, stability, summarize_latency, throughput_qps
from vampy.models.info import ModelInfo
from vampy.results.schema import RunReport


@dataclass(frozen=True)
class RunFacts:
    """What the summary needs of the config: its flat record for the report, and the few settings
    the statistics depend on (never the whole config: the summary reads only these)."""

    config: dict[str, Any]
    engine: str
    processes: int
    instances: int
    rate_qps: float | None
    arrival: str
    warmup_per_instance: int
    percentiles: tuple[float, ...]


def summarize(
    raw: RawRun, cfg: RunFacts, info: ModelInfo, plan: InputPlan, notes: list[str],
    datalist: dict[str, Any] | None = None, profile: dict[str, Any] | None = None,
) -> RunReport:
    res = raw.results
    arrival, start, model_start, model_end, end, samples, compute_start, compute_end = (_cat(res, name) for name in COLUMNS)
    e2e_ns, model_ns = end - arrival, model_end - model_start
    window = measured_window(arrival, end)
    total = int(samples.sum())
    reason = _incomplete_reason(raw, total)
    return RunReport(
        complete=reason is None,
        incomplete_reason=reason,
        config=cfg.config,
        environment=environment(cfg.engine),
        model=_model_dict(info),
        inputs=plan.to_dict(),
        processes=cfg.processes,
        instances=cfg.instances,
        batch_size=plan.batch_size,
        intra_threads=raw.intra_threads,
        samples=total,
        requests=int(end.size),
        forward_time_s=window.duration_s,
        throughput_qps=throughput_qps(total, window),
        e2e=summarize_latency(e2e_ns, cfg.percentiles).to_dict(),
        model_latency=summarize_latency(model_ns, cfg.percentiles).to_dict(),
        breakdown=_breakdown(arrival, start, model_start, model_end, end),
        model_split=_model_split(model_start, compute_start, compute_end, model_end),
        open_loop=_open_loop(cfg, arrival, start, throughput_qps(total, window)),
        warmup=_warmup(res, cfg),
        per_process=[_per_process(r, cfg.instances) for r in res],
        resources=raw.resources.to_dict(),
        stability=stability(end, samples, window).to_dict(),
        histograms={"e2e": histogram_us(e2e_ns), "model": histogram_us(model_ns)},
        failed_workers=[{"worker": k, "reason": why} for k, why in raw.failed_workers],
        setup_s=raw.setup_s,
        datalist=datalist,
        profile=profile,
        notes=notes + raw.notes + _model_notes(info),
        engine=_engine(raw, cfg),
        cluster=raw.cluster,
    )


def _engine(raw: RawRun, cfg: RunFacts) -> dict[str, Any]:
    """The first worker's sessions' own account; only the name when no worker got as far as reporting."""
    reported = next((r.engine for r in raw.results if r.engine), None)
    return dict(reported) if reported else {"engine": cfg.engine}


def _cat(results: list[WorkerResult], name: str) -> np.ndarray:
    parts = [r.columns[name] for r in results]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


BREAKDOWN_PERCENTILES = (50.0, 99.0)


def _breakdown(arrival: np.ndarray, start: np.ndarray, model_start: np.ndarray, model_end: np.ndarray, end: np.ndarray) -> dict[str, Any]:
    """Where e2e goes: the four phases of every request add up to its e2e latency exactly."""
    return _phases({"queue": start - arrival, "preprocess": model_start - start,
                    "model": model_end - model_start, "output": end - model_end})


def _model_split(
    model_start: np.ndarray, compute_start: np.ndarray, compute_end: np.ndarray, model_end: np.ndarray
) -> dict[str, Any] | None:
    """A device session's model phase as trtexec splits it; the three add up to the model phase.
    None when no request was split (a CPU session: there is nothing to copy)."""
    split = compute_start > 0
    if not split.any():
        return None
    return _phases({
        "host_to_device": compute_start[split] - model_start[split],
        "compute": compute_end[split] - compute_start[split],
        "device_to_host": model_end[split] - compute_end[split],
    })


def _phases(durations_ns: dict[str, np.ndarray]) -> dict[str, Any]:
    return {name: summarize_latency(values, BREAKDOWN_PERCENTILES).to_dict() for name, values in durations_ns.items()}


def _open_loop(cfg: RunFacts, arrival: np.ndarray, start: np.ndarray, achieved_qps: float) -> dict[str, Any] | None:
    if cfg.rate_qps is None:
        return None
    return summarize_open_loop(arrival, start, cfg.rate_qps, achieved_qps, cfg.arrival).to_dict()


def _incomplete_reason(raw: RawRun, total: int) -> str | None:
    if raw.failed_workers:
        return "; ".join(f"worker {k} {why}" for k, why in raw.failed_workers)
    fatal = next((r.fatal_output_error for r in raw.results if r.fatal_output_error), None)
    if fatal:
        return f"stopped: {fatal}"
    if raw.interrupted:
        return raw.interrupted
    if raw.expected_samples is not None and total < raw.expected_samples and not _datalist_failures(raw):
        return f"only {total} of {raw.expected_samples} samples were measured"
    return None


def _datalist_failures(raw: RawRun) -> bool:
    return any(r.failures for r in raw.results)


def _warmup(results: list[WorkerResult], cfg: RunFacts) -> dict[str, Any]:
    e2e = np.concatenate([r.warmup_e2e_ns for r in results]) if results else np.zeros(0, np.int64)
    return {"requests": int(e2e.size), "per_instance": cfg.warmup_per_instance, "e2e": summarize_latency(e2e, (50.0,)).to_dict()}


def _per_process(r: WorkerResult, instances: int) -> dict[str, Any]:
    window = measured_window(r.columns["arrival_ns"], r.columns["end_ns"])
    samples = int(r.columns["samples"].sum())
    e2e = summarize_latency(r.columns["end_ns"] - r.columns["arrival_ns"], (50.0, 99.0))
    return {
        "worker": r.worker_index,
        "pid": r.pid,
        "samples": samples,
        "requests": int(r.columns["end_ns"].size),
        "throughput_qps": throughput_qps(samples, window),
        "e2e_p50_us": e2e.percentiles_ns[50.0] / 1e3,
        "e2e_p99_us": e2e.percentiles_ns[99.0] / 1e3,
        "requests_per_instance": np.bincount(r.instance, minlength=instances).tolist(),
    }


def _model_dict(info: ModelInfo) -> dict[str, Any]:
    def tensors(ts: Any) -> list[dict[str, Any]]:
        return [{"name": t.name, "shape": [d if d is not None else "dynamic" for d in t.shape], "dtype": str(np.dtype(t.dtype))}
                for t in ts]

    return {"path": str(info.path), "inputs": tensors(info.inputs), "outputs": tensors(info.outputs), "metadata": info.metadata}


def _model_notes(info: ModelInfo) -> list[str]:
    meta = info.metadata or {}
    warning = meta.get("warning")
    return [f"model: {warning}"] if isinstance(warning, str) and warning else []


def environment(engine: str = DEFAULT_ENGINE) -> dict[str, Any]:
    """Versions, CPU and memory of this machine; the engine's version under its own name."""
    import psutil

    return {
        "vampy": __version__,
        engine: get_engine(engine).version(),
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "logical_cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
