"""`vampy vdsp FILE...`: validate vdsp_params files and say what preprocessing each implies."""
from __future__ import annotations

import typer

from vampy.errors import InputError


def register(app: typer.Typer) -> None:
    app.command(name="vdsp", no_args_is_help=True)(vdsp_command)


def vdsp_command(
    files: list[str] = typer.Argument(..., help="vdsp_params files (JSON or YAML) to check."),
) -> None:
    """Validate vdsp_params files and print, for each, its preprocessing pipeline in plain words."""
    from vampy.errors import VampyError
    from vampy.formats.vdsp import describe_vdsp, load_vdsp

    failed = 0
    for path in files:
        try:
            spec = load_vdsp(path)
        except VampyError as exc:
            failed += 1
            typer.echo(f"{path}: INVALID: {exc}")
            continue
        typer.echo(f"{path}: ok ({spec.op_type})")
        for step in describe_vdsp(spec):
            typer.echo(f"    {step}")
    if failed:
        raise InputError(f"{failed} of {len(files)} vdsp file(s) invalid (see above)")
