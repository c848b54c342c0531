"""`vampy run`: vamp-compatible flags -> RunConfig -> workflows.run -> report on stdout (+ JSON)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from vampy.cli.flags import command
from vampy.cli.signals import on_sigterm
from vampy.config.flags import RUN_FLAGS
from vampy.errors import OutputError, WorkerError

if TYPE_CHECKING:
    from vampy.config import RunConfig

def register(app: typer.Typer) -> None:
    app.command(name="run", no_args_is_help=True, help=RUN_HELP)(command(RUN_FLAGS, run_command))


RUN_HELP = (
    "Profile a model: throughput, e2e and model latency percentiles, CPU and memory, in vamp's report layout. "
    "vamp command lines work unchanged: `-i 1 p 1 -b 1 -s [3,256,256]`, `-mPATH`, a vdsp file given without "
    "a flag. With --datalist/--path_output, writes one output_NNNNNN.npz per datalist line."
)


def run_command(plot: str | None, html: str | None, quiet: bool, **flags: Any) -> None:
    """`vampy run` with its declared flags (vampy/config/flags.py RUN_FLAGS)."""
    from vampy.api import run_config

    cfg = run_config(**flags)
    for flag in RUN_FLAGS:
        if flag.name in cfg.vendor_flags and flag.vendor_note:
            _note(flag.vendor_note)
    if cfg.dry_run:
        typer.echo(json.dumps(_dry_run(cfg), indent=2))
        return
    _run(cfg, quiet, plot, html)


def _note(text: str) -> None:
    sys.stderr.write(f"vampy: note: {text}\n")


def _dry_run(cfg: RunConfig) -> dict[str, Any]:
    """The resolved configuration and what vampy would find on disk, loading no model or data."""
    from vampy.errors import VampyError
    from vampy.models.resolve import resolve_model

    found: dict[str, Any] = {}
    try:
        found["model"] = str(resolve_model(cfg.model))
    except VampyError as exc:
        found["model_error"] = str(exc)
    for key, value in (("vdsp_params", cfg.inputs.vdsp_params), ("datalist", cfg.data.datalist)):
        if value is not None and not Path(value).is_file():
            found[f"{key}_error"] = f"{value}: no such file"
    return {
        "dry_run": True,
        "config": cfg.to_dict(),
        "samples_per_process": cfg.samples_per_process,
        "intra_threads": cfg.engine.intra_threads(cfg.load.processes * cfg.load.instances),
        "files": found,
    }


def _run(cfg: RunConfig, quiet: bool, plot: str | None = None, html: str | None = None) -> None:
    from vampy.cli.progress import RichProgress
    from vampy.cli.render import run_report_text
    from vampy.results.schema import check_writable, write_json
    from vampy.workflows.run import execute, prepare

    for flag, target in (("--json", cfg.outputs.json_path), ("--export_times", cfg.outputs.export_times)):
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
    if cfg.outputs.json_path:
        write_json(cfg.outputs.json_path, data)
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
        raise OutputError(f"run INCOMPLETE, {report.datalist['fatal_output_error']}; "
                          "outputs written so far are kept: fix the folder and add --resume")
    if not report.complete:
        sys.stderr.write(f"vampy: run INCOMPLETE: {report.incomplete_reason}\n")
        raise typer.Exit(143 if terminated else 130)
    if report.datalist and report.datalist["failures"]:
        n = len(report.datalist["failures"])
        raise PartialResult(f"{n} datalist line(s) failed (listed above and in failures.json); every good output was written")
