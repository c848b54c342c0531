"""Report files and dicts without running anything: a run report as summary.py writes it from
made-up latencies, and saved compile, run and eval reports built with vampy's own dataclasses.
(vampy is imported inside each function, so that one report's dataclasses changing does not
stop the modules that use only the others from importing this one.)"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def make_report(seed: int, median_ms: float = 10.0, qps: float = 100.0, n: int = 4000, windows: int = 10,
                spread: float = 0.01) -> dict[str, Any]:
    """A run report dict as summary.py writes it, from lognormal latencies and jittered windows."""
    from vampy.measure.stats import histogram_us, summarize_latency

    rng = np.random.default_rng(seed)
    latency_ns = (median_ms * 1e6 * np.exp(rng.normal(0, 0.15, n))).astype(np.int64)
    window_qps = list(qps * (1 + rng.normal(0, spread, windows))) if windows else []
    return {
        "kind": "run", "schema_version": 1, "complete": True, "incomplete_reason": None,
        "model": {"path": "m/mod.onnx"}, "inputs": {"inputs": [{"raw_shape": [3, 8, 8]}]},
        "instances": 1, "processes": 1, "batch_size": 1, "intra_threads": 2, "samples": n, "requests": n,
        "throughput_qps": qps, "forward_time_s": n / qps,
        "e2e": summarize_latency(latency_ns, (50.0, 90.0, 99.0)).to_dict(),
        "model_latency": summarize_latency(latency_ns * 9 // 10, (50.0, 90.0, 99.0)).to_dict(),
        "resources": {"cpu_percent_of_machine": 95.0, "rss_peak_mb": 200.0},
        "stability": {"window_qps": window_qps, "max_deviation": 0.02, "stable": True if windows else None},
        "histograms": {"e2e": histogram_us(latency_ns), "model": histogram_us(latency_ns * 9 // 10)},
    }


def compile_json(folder: Path, precision: str, macs: int | None = 2_000_000_000, params: int | None = 664_000,
                 calibration: dict[str, Any] | None = None, checkpoint: str = "src/mod.onnx", onnx_bytes: int = 2_500_000,
                 sha256: str = "") -> Path:
    """folder/mod.onnx (onnx_bytes of filler) and folder/mod.json as `vampy compile` writes it."""
    from vampy.results.schema import CompileResult, write_json

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mod.onnx").write_bytes(b"\0" * onnx_bytes)
    result = CompileResult(
        name=folder.name, precision=precision, model_path=str(folder / "mod.onnx"),
        source={"checkpoint": checkpoint, "sha256": "0" * 64, "size_bytes": 1},
        output={"sha256": sha256 or f"sha-{folder.name}", "size_bytes": onnx_bytes},
        inputs=[{"name": "input", "shape": [1, 1, 256, 256], "dtype": "float32"}],
        outputs=[{"name": "output", "shape": [1, 1, 256, 256], "dtype": "float32"}],
        calibration=calibration, node_counts={"Conv": 20}, macs=macs, params=params, flops_per_mac=2,
        compile_time_s=1.0, versions={"vampy": "0", "onnxruntime": "0"}, config={},
    )
    write_json(folder / "mod.json", result.to_dict())
    return folder


def run_json(path: Path, model_path: str, qps: float, p50_us: float, p99_us: float, datalist: dict[str, Any] | None = None,
             complete: bool = True, metadata: dict[str, Any] | None = None, engine: dict[str, Any] | None = None) -> Path:
    """A saved `vampy run` report of 10 samples with these figures."""
    from vampy.results.schema import RunReport, write_json

    latency = {"count": 10, "avg_us": p50_us, "min_us": p50_us, "max_us": p99_us, "percentiles_us": {"p50": p50_us, "p99": p99_us}}
    report = RunReport(
        complete=complete, incomplete_reason=None if complete else "worker 0 died",
        config={"path_output": (datalist or {}).get("path_output")},
        environment={}, model={"path": model_path, "inputs": [], "outputs": [], "metadata": metadata},
        inputs={}, processes=1, instances=1, batch_size=1, intra_threads=2, samples=10, requests=10, forward_time_s=1.0,
        throughput_qps=qps, e2e=latency, model_latency=latency, warmup={}, per_process=[], resources={}, stability={},
        histograms={}, failed_workers=[], setup_s=0.1, datalist=datalist, engine=engine,
    )
    write_json(path, report.to_dict())
    return path


def eval_json(path: Path, outputs_dir: str, psnr_db: float, ssim: float, failures: int = 0, images: int = 2) -> Path:
    """A saved `vampy eval` report of `images` images that all score psnr_db and ssim."""
    from vampy.results.schema import EvalReport, EvalScores, FileProblem, ScoredImage, write_json

    metrics = EvalScores(psnr_db=psnr_db, ssim=ssim, bicubic_psnr_db=28.0, bicubic_ssim=0.8).to_metrics()
    report = EvalReport(
        config={"outputs_dir": outputs_dir, "ycbcr": "opencv", "input_hw": [256, 256], "shave_px": 4},
        images=tuple(ScoredImage(i, f"img{i}", "o", "s", "g", 256, 256, metrics) for i in range(images)),
        metrics=metrics, failures=tuple(FileProblem(f"bad{i}", "unreadable") for i in range(failures)), drawn=0,
    )
    write_json(path, report.to_dict())
    return path
