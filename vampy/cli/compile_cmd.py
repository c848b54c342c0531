"""`vampy compile CONFIG.yaml`: a vamc-style YAML -> <workspace>/<name>/mod.onnx + mod.json."""
from __future__ import annotations

import sys
from typing import Any, Optional

import typer

COMPILE_HELP = (
    "Compile an ONNX model to fp32 (graph-optimised), fp16 or int8 (static QDQ, calibrated on the YAML's "
    "dataset) from a vamc compiler YAML; writes <workspace.path>/<name>/mod.onnx and mod.json, ready for "
    "`vampy run -m <workspace.path>/<name>/mod`. Reads the vendor's files as they are: device-only keys (backend.type, "
    "backend.compile, dataset.type, ...) are accepted and listed as ignored with the reason; graph.extra_ops softmax is "
    "appended; *_nms extra ops are not applied. Other frontends (pytorch, huggingface, ...) are refused (exit 3): export to ONNX first."
)


def register(app: typer.Typer) -> None:
    app.command(name="compile", no_args_is_help=True, help=COMPILE_HELP)(compile_command)


def compile_command(
    config: str = typer.Argument(..., help="The compiler YAML (vamc format: name, frontend, backend, dataset, workspace)."),
    vdsp_params: Optional[str] = typer.Option(
        None, "--vdsp_params",
        help="The vdsp file the model runs with: its normalisation completes the YAML's process_ops where they say "
        "`norm_type: None`, so int8 calibration sees what the model sees at run time.",
    ),
    calib_datalist: Optional[str] = typer.Option(
        None, "--calib_datalist",
        help="Calibrate on these npz inputs (one path per line) instead of the YAML's dataset; with --vdsp_params "
        "they go through the same preprocessing as `vampy run --datalist`.",
    ),
    json_path: Optional[str] = typer.Option(None, "--json", help="Also write the result (the same content as mod.json) to this file."),
    dry_run: bool = typer.Option(
        False, "--dry_run",
        help="Validate the YAML (and --vdsp_params) and print the resolved compile plan as JSON; reads neither the "
        "checkpoint nor the dataset (missing files are listed in the JSON). Exit 0 when the file is understood.",
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar."),
) -> None:
    from vampy.cli.progress import RichProgress
    from vampy.formats.compile_yaml import load_compile_config
    from vampy.compiler.pipeline import compile_model
    from vampy.results.schema import write_json

    cfg = load_compile_config(config, vdsp_params=vdsp_params, calib_datalist=calib_datalist)
    if dry_run:
        import json

        from vampy.compiler.plan import compile_plan

        plan = compile_plan(cfg)
        typer.echo(json.dumps(plan, indent=2))
        if json_path:
            write_json(json_path, plan)
        return
    with RichProgress(quiet=quiet) as progress:
        result = compile_model(cfg, progress)
    data = result.to_dict()
    for note in result.notes:
        sys.stderr.write(f"vampy: note: {note}\n")
    for warning in result.warnings:
        sys.stderr.write(f"vampy: warning: {warning}\n")
    typer.echo(summary_line(data))
    if json_path:
        write_json(json_path, data)


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
