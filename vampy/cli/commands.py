"""Registers every command module with the app. One line per command."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from vampy.cli import run_cmd

    run_cmd.register(app)
