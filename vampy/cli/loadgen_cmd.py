"""`vampy loadgen`: MLPerf LoadGen scenarios on vampy's instances, LoadGen's verdict beside vampy's figures."""
from __future__ import annotations

import sys
from typing import Any, Optional

import typer


def register(app: typer.Typer) -> None:
    app.command(name="loadgen", no_args_is_help=True)(loadgen_command)


def loadgen_command(
    model: str = typer.Option(..., "-m", "--model", help="Model: .onnx file, vamp prefix dir/mod, or folder with mod.onnx."),
    scenario: str = typer.Option("SingleStream", "--scenario", help="SingleStream, MultiStream, Server or Offline."),
    mode: str = typer.Option("performance", "--mode", help="performance, or accuracy (every datalist sample once, outputs written as vamp npz)."),
    vdsp_params: Optional[str] = typer.Option(None, "--vdsp_params", help="vdsp_params preprocessing file."),
    shape: Optional[str] = typer.Option(None, "-s", "--shape", help="Input shape C,H,W as for vampy run."),
    instance: int = typer.Option(1, "-i", "--instance", help="Model instances (threads of this process) serving LoadGen's queries."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Engine threads per instance (default: cores / instances)."),
    engine: str = typer.Option("onnxruntime", "--engine", help="Runtime: onnxruntime (default) or openvino."),
    provider: Optional[str] = typer.Option(None, "--provider", help="onnxruntime only: cpu (default), cuda or tensorrt."),
    infer_precision: Optional[str] = typer.Option(None, "--infer_precision", help="openvino only: f32, bf16 or f16."),
    samples: int = typer.Option(64, "--samples", help="Query sample library size in performance mode (synthetic inputs)."),
    min_queries: int = typer.Option(100, "--min_queries", help="LoadGen's minimum query count."),
    min_duration: float = typer.Option(1.0, "--min_duration", help="LoadGen's minimum duration, seconds."),
    max_duration: float = typer.Option(60.0, "--max_duration", help="LoadGen's maximum duration, seconds."),
    target_qps: Optional[float] = typer.Option(None, "--target_qps", help="Server: the Poisson arrival rate (required); Offline: the expected rate."),
    target_latency_ms: Optional[float] = typer.Option(None, "--target_latency_ms", help="Server: the latency bound LoadGen checks its percentile against."),
    samples_per_query: int = typer.Option(8, "--samples_per_query", help="MultiStream: samples per query."),
    datalist: Optional[str] = typer.Option(None, "--datalist", help="Accuracy mode: the npz datalist."),
    path_output: Optional[str] = typer.Option(None, "--path_output", help="Accuracy mode: folder for output_NNNNNN.npz."),
    log_dir: str = typer.Option("mlperf_logs", "--log_dir", help="Folder for LoadGen's own logs (mlperf_log_summary.txt, ...)."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Write both summaries and their comparison as JSON."),
) -> None:
    """Run an MLPerf LoadGen scenario on the model and print LoadGen's summary (VALID/INVALID and
    why) next to vampy's statistics of the same samples."""
    from vampy.config import parse_shapes
    from vampy.workflows.loadgen import LoadgenConfig, run_loadgen
    from vampy.report.schema import write_json

    cfg = LoadgenConfig(
        model=model, scenario=scenario, mode=mode, vdsp_params=vdsp_params, shapes=parse_shapes(shape) if shape else None,
        instances=instance, threads=threads, engine=engine, provider=provider, infer_precision=infer_precision, samples=samples, min_queries=min_queries, min_duration_s=min_duration,
        max_duration_s=max_duration, target_qps=target_qps, target_latency_ms=target_latency_ms,
        samples_per_query=samples_per_query, datalist=datalist, path_output=path_output, log_dir=log_dir,
    )
    report = run_loadgen(cfg)
    sys.stdout.write(_text(report.to_dict()))
    if json_path:
        write_json(json_path, report.to_dict())


def _text(r: dict[str, Any]) -> str:
    lg, ours = r["loadgen"], r["vampy"]
    lines = [f"LoadGen {r['config']['scenario']} ({r['config']['mode']}): Result is {lg['result']}"]
    for key in ("Min duration satisfied", "Min queries satisfied", "Early stopping satisfied", "Performance constraints satisfied"):
        if key in lg["fields"]:
            lines.append(f"    {key}: {lg['fields'][key]}")
    lines += [f"    LoadGen: {line.strip()}" for line in lg["text"].splitlines() if line.strip().startswith("*")]
    for key in ("Samples per second", "QPS w/ loadgen overhead", "Scheduled samples per second"):
        if key in lg["fields"]:
            lines.append(f"    LoadGen {key}: {lg['fields'][key]}")
    lines.append(f"vampy, same samples: {ours['samples']} samples, {ours['throughput_qps']:.4f} qps over the run")
    lines.append("latency (us)      LoadGen      vampy    gap  (same rank rule: gap)")
    for key, theirs in lg["percentiles_us"].items():
        mine = ours["e2e"]["percentiles_us"].get(key)
        gap = r["comparison"]["relative_gap"].get(key)
        mine_text = f"{mine:10.0f}" if mine is not None else "         -"
        gap_text = f"{gap * 100:+.2f}%" if gap is not None else "-"
        same = r["comparison"]["relative_gap_same_rank"].get(key)
        same_text = f"{same * 100:+.2f}%" if same is not None else "-"
        lines.append(f"    {key:<10} {theirs:10.0f} {mine_text}  {gap_text}  ({same_text})")
    lines.append(f"    model (vampy)   avg {ours['model_latency']['avg_us']:.0f}, queue avg {ours['queue']['avg_us']:.0f}")
    if r["outputs_written"]:
        lines.append(f"outputs written: {r['outputs_written']} to {r['config']['path_output']}")
    lines.append(f"LoadGen logs: {r['log_dir']}")
    return "\n".join(lines) + "\n"
