"""`vampy table`: model folders + run/eval reports -> the precision table (Markdown on stdout, CSV)."""
from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import typer

TABLE_HELP = (
    "Collect model folders (mod.onnx + mod.json from `vampy compile` or `vampy zoo`), run reports "
    "(`vampy run --json`) and eval reports (`vampy eval --json`) into one table: model, precision, "
    "calibration, input, GFLOPs (1 MAC = 2 FLOPs), params, PSNR, SSIM, throughput, e2e p50/p99 latency, "
    "size. Markdown goes to stdout. A run report belongs to the folder whose mod.onnx it ran; an eval "
    "report to the model of the run whose --path_output it scored, or pair either explicitly: "
    "--eval DIR=FILE. Missing figures show as '-'."
)


def register(app: typer.Typer) -> None:
    app.command(name="table", no_args_is_help=True, help=TABLE_HELP)(table_command)


def table_command(
    paths: list[str] = typer.Argument(
        ..., metavar="MODEL_DIR",
        help="Model folders, e.g. deploy_weights/*/ ; report files here are sorted by their kind (so an unquoted --eval glob works).",
    ),
    run: list[str] | None = typer.Option(
        None, "--run", metavar="[DIR=]FILE",
        help="A run report (`vampy run --json`), or DIR=FILE to pair it with a model folder. Repeatable; globs allowed.",
    ),
    eval_: list[str] | None = typer.Option(
        None, "--eval", metavar="[DIR=]FILE",
        help="An eval report (`vampy eval --json`), or DIR=FILE to pair it with a model folder. Repeatable; globs allowed.",
    ),
    markdown: Path | None = typer.Option(None, "--markdown", metavar="FILE", help="Also write the Markdown table to this file."),
    csv_path: Path | None = typer.Option(
        None, "--csv", metavar="FILE", help="Write the table as CSV: full precision, empty cells for missing figures.",
    ),
) -> None:
    from vampy.errors import UsageError
    from vampy.report.table_render import render_csv, render_markdown
    from vampy.results.schema import write_text
    from vampy.results.table import collect

    # The folders resolved, not the names: a link at a name is replaced by the write, never followed.
    if markdown is not None and csv_path is not None and _where(markdown) == _where(csv_path):
        raise UsageError(f"--markdown and --csv both name {markdown}; give two files")
    table = collect(paths, run or [], eval_ or [], count=_count_graph)
    text = render_markdown(table)
    for note in table.notes:
        sys.stderr.write(f"vampy: note: {note}\n")
    sys.stdout.write(text)
    if markdown is not None:
        write_text(markdown, text, "--markdown")
    if csv_path is not None:
        write_text(csv_path, render_csv(table), "--csv")


def _where(path: Path) -> Path:
    """The file a write to `path` replaces: its folder resolved, its own name as written."""
    return path.parent.resolve() / path.name


def _count_graph(model_path: Path) -> tuple[int, int, Sequence[Sequence[int | None]]]:
    """MACs and params of a model folder whose mod.json lacks them, at the graph's own input shapes."""
    from vampy.engines.base import get_engine
    from vampy.models.graph import count_macs_params

    macs, params = count_macs_params(model_path)
    return macs, params, [info.shape for info in get_engine().describe(model_path).inputs]
