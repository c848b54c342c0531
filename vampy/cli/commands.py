"""Registers every command module with the app. One line per command module."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from vampy.cli import run_cmd

    run_cmd.register(app)
    from vampy.cli import vdsp_cmd

    vdsp_cmd.register(app)
    # --- more command modules register below, one block each ---
    from vampy.cli import compile_cmd

    compile_cmd.register(app)
    from vampy.cli import data_cmd, eval_cmd

    data_cmd.register(app)
    eval_cmd.register(app)
    from vampy.cli import zoo_cmd

    zoo_cmd.register(app)
    from vampy.cli import table_cmd

    table_cmd.register(app)
    from vampy.cli import infer_cmd

    infer_cmd.register(app)
    from vampy.cli import compare_cmd, sweep_cmd

    sweep_cmd.register(app)
    compare_cmd.register(app)
    from vampy.cli import loadgen_cmd

    loadgen_cmd.register(app)
    from vampy.cli import report_cmd

    report_cmd.register(app)
    from vampy.cli import diff_cmd

    diff_cmd.register(app)
