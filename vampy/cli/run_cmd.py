"""`vampy run`: vamp-compatible flags -> RunConfig -> workflows.run -> report on stdout (+ JSON)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from vampy.cli.signals import on_sigterm

from vampy.errors import OutputError, WorkerError

VENDOR_NOTES = {
    "hwconfig": "--hwconfig is vendor hardware configuration; ignored (vampy runs on --engine, --provider)",
    "backend": "--backend selects the vendor's runtime; vampy's is --engine (default onnxruntime, CPU)",
    "forward_mode": "--forward_mode: vampy always measures synchronous requests per instance (its model latency is the session call alone)",
}


def register(app: typer.Typer) -> None:
    app.command(name="run", no_args_is_help=True, help=RUN_HELP)(run_command)


RUN_HELP = (
    "Profile a model: throughput, e2e and model latency percentiles, CPU and memory, in vamp's report layout. "
    "vamp command lines work unchanged: `-i 1 p 1 -b 1 -s [3,256,256]`, `-mPATH`, a vdsp file given without "
    "a flag. With --datalist/--path_output, writes one output_NNNNNN.npz per datalist line."
)


def run_command(
    model: str = typer.Option(..., "-m", "--model", help="Model: a .onnx file, a vamp prefix (dir/mod -> dir/mod.onnx) or a folder holding mod.onnx."),
    vdsp_params: Optional[str] = typer.Option(None, "--vdsp_params", help="vdsp_params preprocessing file (JSON or YAML)."),
    instance: int = typer.Option(1, "-i", "--instance", help="Model instances per process, each driven concurrently."),
    processes: int = typer.Option(1, "-p", "--processes", help="Worker processes (vamp's `p 1` works too)."),
    batch_size: int = typer.Option(1, "-b", "--batch_size", help="Samples per request."),
    shape: Optional[str] = typer.Option(None, "-s", "--shape", help="Input image shape C,H,W: 3,256,256 or [3,256,256]; several inputs: [[1,512],[1,512]]. Default: from the vdsp file or the model."),
    device: int = typer.Option(0, "-d", "--device", help="Device id: the GPU with --provider cuda/tensorrt; on the CPU only recorded."),
    iterations: Optional[int] = typer.Option(None, "--iterations", help="Samples per process (default 1024 unless -t is given)."),
    duration: Optional[float] = typer.Option(None, "-t", "--duration", help="Seconds to measure; with --iterations too, whichever comes first."),
    warmup: int = typer.Option(2, "--warmup", help="Warm-up requests per instance, excluded from the figures and reported apart."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Engine threads per instance: ONNX Runtime intra-op threads, OpenVINO threads per stream (default: cores / (processes x instances), at least 1)."),
    percentiles: Optional[str] = typer.Option(None, "--percentiles", help="Extra latency percentiles, e.g. 50,99.9 (p50, p90, p95, p99 are always shown)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic input."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="Integer type of token inputs (int32, int64, uint32, ...); default: the model's."),
    datalist: Optional[str] = typer.Option(None, "--datalist", help="Text file, one input npz path per line: run the data set."),
    path_output: Optional[str] = typer.Option(None, "--path_output", help="Folder for output_NNNNNN.npz (needs --datalist)."),
    output_dtype: str = typer.Option("model", "--output_dtype", help="Output npz dtype: model (as the model gives it), fp16 (vendor parity) or fp32."),
    resume: bool = typer.Option(False, "--resume", help="Skip datalist lines whose output already exists and is valid."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Seconds one request may take before its worker is failed (default: 20x the slowest warm-up request, at least 60 s; 0 turns it off)."),
    rate: Optional[float] = typer.Option(None, "--rate", help="Open loop: samples per second over all processes, issued on a schedule whatever the completions; latency counts from the scheduled arrival."),
    arrival: str = typer.Option("poisson", "--arrival", help="Open-loop arrivals: poisson (exponential gaps) or constant."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Folder for the engine's per-worker profiles (ONNX Runtime's Chrome traces, OpenVINO's per-layer counters); prints the top operators."),
    export_times: Optional[str] = typer.Option(None, "--export_times", help="Write one row per request with every timestamp (ns) to FILE.csv or FILE.json."),
    engine: str = typer.Option("onnxruntime", "--engine", help="Runtime: onnxruntime (default) or openvino (pip install 'vampy[openvino]')."),
    provider: Optional[str] = typer.Option(None, "--provider", help="onnxruntime only: cpu (default), cuda or tensorrt (pip install 'vampy[gpu]'; -d is the GPU)."),
    infer_precision: Optional[str] = typer.Option(None, "--infer_precision", help="openvino only: f32, bf16 or f16 (default: the CPU's own choice, bf16 where it has it; always reported)."),
    native_size: bool = typer.Option(False, "--native_size", help="Keep each image's own size (no vdsp resize); needs a model with dynamic H/W."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Write a PNG: e2e and model latency histograms, and throughput per stability window over time."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Write the full report (config, environment, per-process figures, histograms) as JSON."),
    html: Optional[str] = typer.Option(None, "--html", help="Also write the self-contained HTML page of `vampy report` for this result."),
    dry_run: bool = typer.Option(False, "--dry_run", help="Print the resolved configuration as JSON and exit 0, loading nothing."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar."),
    hwconfig: Optional[str] = typer.Option(None, "--hwconfig", help="vamp-only; accepted and ignored."),
    backend: Optional[str] = typer.Option(None, "--backend", help="vamp-only; accepted and ignored."),
    forward_mode: Optional[str] = typer.Option(None, "--forward_mode", help="vamp-only; accepted (vampy is always synchronous per instance)."),
    ray: Optional[str] = typer.Option(None, "--ray", help="With --datalist: run the shards on the Ray cluster at ADDRESS (HOST:PORT, ray://HOST:PORT or auto); outputs are written here. pip install 'vampy[ray]'; see docs/cluster.md."),
) -> None:
    from vampy.api import run_config

    cfg = run_config(
        model=model, vdsp_params=vdsp_params, instances=instance, processes=processes, batch_size=batch_size, shape=shape,
        device=device, iterations=iterations, duration=duration, warmup=warmup, threads=threads, percentiles=percentiles,
        seed=seed, dtype=dtype, datalist=datalist, path_output=path_output, output_dtype=output_dtype, resume=resume,
        timeout=timeout, rate=rate, arrival=arrival, profile=profile, export_times=export_times, native_size=native_size,
        engine=engine, provider=provider, infer_precision=infer_precision,
        hwconfig=hwconfig, backend=backend, forward_mode=forward_mode, json=json_path, dry_run=dry_run, ray=ray,
    )
    for key in cfg.vendor_flags:
        _note(VENDOR_NOTES[key])
    if dry_run:
        typer.echo(json.dumps(_dry_run(cfg), indent=2))
        return
    _run(cfg, quiet, plot, html)


def _note(text: str) -> None:
    sys.stderr.write(f"vampy: note: {text}\n")


def _dry_run(cfg: Any) -> dict[str, Any]:
    """The resolved configuration and what vampy would find on disk, loading no model or data."""
    from vampy.errors import VampyError
    from vampy.execution.job import choose_intra_threads
    from vampy.models.resolve import resolve_model

    found: dict[str, Any] = {}
    try:
        found["model"] = str(resolve_model(cfg.model))
    except VampyError as exc:
        found["model_error"] = str(exc)
    for key, value in (("vdsp_params", cfg.vdsp_params), ("datalist", cfg.datalist)):
        if value is not None and not Path(value).is_file():
            found[f"{key}_error"] = f"{value}: no such file"
    return {
        "dry_run": True,
        "config": cfg.to_dict(),
        "samples_per_process": cfg.samples_per_process,
        "intra_threads": choose_intra_threads(cfg),
        "files": found,
    }


def _run(cfg: Any, quiet: bool, plot: str | None = None, html: str | None = None) -> None:
    from vampy.cli.progress import RichProgress
    from vampy.cli.render import run_report_text
    from vampy.report.schema import check_writable, write_json
    from vampy.workflows.run import execute, prepare

    for flag, target in (("--json", cfg.json_path), ("--export_times", cfg.export_times)):
        if target:
            check_writable(target, flag)
    if plot:
        from vampy.report.plots import check_plot_path

        check_plot_path(plot)
    if html:
        from vampy.report.html import check_html_path

        check_html_path(html, "--html")
    prepared = prepare(cfg)
    terminated = on_sigterm()
    with RichProgress(quiet=quiet) as progress:
        report = execute(prepared, progress)
    data = report.to_dict()
    sys.stdout.write(run_report_text(data))
    sys.stdout.flush()
    if cfg.json_path:
        write_json(cfg.json_path, data)
    if plot:
        from vampy.report.plots import plot_run

        plot_run(data, plot)
    if html:
        from vampy.report.html import write_page

        write_page([data], html)
    _exit_for(report, terminated)


def _exit_for(report: Any, terminated: list[bool]) -> None:
    from vampy.errors import PartialResult

    if report.failed_workers:
        raise WorkerError(f"run INCOMPLETE: {report.incomplete_reason}")
    if report.datalist and report.datalist.get("fatal_output_error"):
        raise OutputError(f"run INCOMPLETE, {report.datalist['fatal_output_error']}; outputs written so far are kept: fix the folder and add --resume")
    if not report.complete:
        sys.stderr.write(f"vampy: run INCOMPLETE: {report.incomplete_reason}\n")
        raise typer.Exit(143 if terminated else 130)
    if report.datalist and report.datalist["failures"]:
        n = len(report.datalist["failures"])
        raise PartialResult(f"{n} datalist line(s) failed (listed above and in failures.json); every good output was written")
