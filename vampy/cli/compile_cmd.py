"""`vampy compile CONFIG.yaml`: a vamc-style YAML -> <workspace>/<name>/mod.onnx + mod.json."""
from __future__ import annotations

import sys
from typing import Any

import typer

from vampy.errors import UsageError

COMPILE_HELP = (
    "Compile an ONNX model to fp32 (graph-optimised), fp16 or int8 (static QDQ, calibrated on the YAML's "
    "dataset) from a vamc compiler YAML; writes <workspace.path>/<name>/mod.onnx and mod.json, ready for "
    "`vampy run -m <workspace.path>/<name>/mod`. Reads the vendor's files as they are: device-only keys (backend.type, "
    "backend.compile, dataset.type, ...) are accepted and listed as ignored with the reason; graph.extra_ops softmax is "
    "appended; yolov5_nms, yolov8_nms, yolov11_nms and yolox_nms append the decode and NMS (outputs: ids, scores, boxes, "
    "padded with -1 to 300 rows); other *_nms extra ops are not applied. "
    "Other frontends (pytorch, huggingface, ...) are refused (exit 3): export to ONNX first. "
    "After an fp16 or int8 build the new model checks itself against the float one on the calibration samples (or "
    "--check_datalist): SNR and cosine per output in mod.json's drift; --min_snr_db gates it (exit 8, the model is kept)."
)


def register(app: typer.Typer) -> None:
    app.command(name="compile", no_args_is_help=True, help=COMPILE_HELP)(compile_command)


def compile_command(
    config: str = typer.Argument(..., help="The compiler YAML (vamc format: name, frontend, backend, dataset, workspace)."),
    vdsp_params: str | None = typer.Option(
        None, "--vdsp_params",
        help="The vdsp file the model runs with: its normalisation completes the YAML's process_ops where they say "
        "`norm_type: None`, so int8 calibration sees what the model sees at run time.",
    ),
    calib_datalist: str | None = typer.Option(
        None, "--calib_datalist",
        help="Calibrate on these npz inputs (one path per line) instead of the YAML's dataset; with --vdsp_params "
        "they go through the same preprocessing as `vampy run --datalist`.",
    ),
    check_datalist: str | None = typer.Option(
        None, "--check_datalist",
        help="Check the built model against the float one on these npz inputs (one path per line, fed as --calib_datalist "
        "feeds them) instead of the calibration samples; any precision, fp32 included.",
    ),
    min_snr_db: float | None = typer.Option(
        None, "--min_snr_db",
        help="Gate: exit 8 (after writing the model and mod.json) when any check sample's output SNR against the float model "
        "is below this many dB.",
    ),
    no_check: bool = typer.Option(False, "--no_check", help="Skip the drift check against the float model."),
    json_path: str | None = typer.Option(None, "--json", help="Also write the result (the same content as mod.json) to this file."),
    dry_run: bool = typer.Option(
        False, "--dry_run",
        help="Validate the YAML (and --vdsp_params) and print the resolved compile plan as JSON; reads neither the "
        "checkpoint nor the dataset (missing files are listed in the JSON). Exit 0 when the file is understood.",
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar."),
) -> None:
    from vampy.cli.progress import RichProgress
    from vampy.compiler.drift_check import drift_line
    from vampy.compiler.pipeline import compile_model
    from vampy.config.diff import CompileCheck
    from vampy.errors import GateFailed
    from vampy.formats.compile_yaml import load_compile_config
    from vampy.quality.drift import GateResult
    from vampy.results.schema import write_json

    cfg = load_compile_config(config, vdsp_params=vdsp_params, calib_datalist=calib_datalist)
    check = CompileCheck(enabled=not no_check, datalist=check_datalist, min_snr_db=min_snr_db)
    if dry_run:
        import json

        from vampy.compiler.plan import compile_plan

        plan = compile_plan(cfg)
        typer.echo(json.dumps(plan, indent=2))
        if json_path:
            write_json(json_path, plan)
        return
    if min_snr_db is not None and (why := nothing_to_check(cfg, check)):
        raise UsageError(f"--min_snr_db: {why}; give --check_datalist FILE, or drop the gate")
    with RichProgress(quiet=quiet) as progress:
        result = compile_model(cfg, progress, check=check)
    data = result.to_dict()
    for note in result.notes:
        sys.stderr.write(f"vampy: note: {note}\n")
    for warning in result.warnings:
        sys.stderr.write(f"vampy: warning: {warning}\n")
    typer.echo(summary_line(data))
    drift = result.drift
    if drift is not None:
        typer.echo(drift_line(drift))
    if json_path:
        write_json(json_path, data)
    failed = [GateResult(**{**g, "failing": tuple(g["failing"])}) for g in (drift or {}).get("gates", []) if not g["passed"]]
    if failed:  # after mod.json and --json: the model and the evidence are kept
        raise GateFailed(f"{result.model_path}: " + "; ".join(g.text(unit="sample") for g in failed))
    if min_snr_db is not None and drift is None:
        raise UsageError("--min_snr_db: the drift check did not run (see the note above); nothing was gated")


def nothing_to_check(cfg: Any, check: Any) -> str | None:
    """Why the drift check will have no samples, known before the build (None: it will have some)."""
    if check.datalist is not None:
        return None
    if cfg.precision == "fp32":
        return "an fp32 build is checked only with --check_datalist FILE"
    if cfg.dataset is None and cfg.calib_datalist is None:
        return f"an {cfg.precision} build without a dataset has no samples to check on"
    return None


def summary_line(data: dict[str, Any]) -> str:
    """One line: where the model went, and what it is."""
    shapes = ", ".join(f"{t['name']} [{','.join(str(d) for d in t['shape'])}]" for t in data["inputs"])
    parts = [f"wrote {data['model_path']} (+ mod.json): {data['precision']}", f"input {shapes}"]
    calib = data.get("calibration")
    if calib:
        channel = "per-channel" if calib["per_channel"] else "per-tensor"
        parts.append(f"{calib['method']} {channel}, {calib['samples']} calibration sample(s), normalisation {calib['normalisation']}")
    quantized = sum(n for op, n in data["node_counts"].items() if op in ("QuantizeLinear", "DequantizeLinear") or op.startswith("QLinear"))
    parts.append(f"{sum(data['node_counts'].values())} nodes" + (f" ({quantized} Q/DQ)" if quantized else ""))
    parts.append(f"{data['output']['size_bytes'] / 1e6:.2f} MB, {data['compile_time_s']:.1f} s")
    return ", ".join(parts)
