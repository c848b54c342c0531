"""typer commands generated from the flag declarations (vampy/config/flags.py).

A command's parameters are its declared flags, in declaration order, with the declared spellings,
defaults and help; the command function receives them as keyword arguments by flag name.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, Optional

import typer

from vampy.config.flags import Flag

# The annotation typer parses each kind's value as; the API converts the parsed value once more.
_CLI_TYPES: dict[str, Any] = {
    "int": int, "float": float, "bool": bool, "str": str, "path": str, "shape": str, "percentiles": str,
    "hw": tuple[int, int], "values": str, "names": str,
}


def _parameter(flag: Flag, required_in_cli: bool) -> inspect.Parameter:
    required = flag.required and required_in_cli
    default = ... if required else (None if flag.required else flag.default)
    annotation = _CLI_TYPES[flag.kind]
    if default is None:
        # UP045 waived: a type object built at runtime for typer, not an annotation; kept typing.Optional, as typer has always parsed it
        annotation = Optional[annotation]  # noqa: UP045
    if not flag.spellings[0].startswith("-"):  # a positional argument: its one spelling is the metavar (REF_DIR)
        info = typer.Argument(default, metavar=flag.spellings[0], help=flag.help, show_default=False)
    else:
        info = typer.Option(default, *flag.spellings, help=flag.help)
    return inspect.Parameter(flag.name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=annotation)


def command(flags: Sequence[Flag], body: Callable[..., None], required_in_cli: bool = True) -> Callable[..., None]:
    """A typer command function taking `flags` and calling body(**values).

    required_in_cli=False: required flags are optional on the command line and the body checks them
    (eval's --list_presets needs none of them)."""

    def run_command(**values: Any) -> None:
        body(**values)

    run_command.__signature__ = inspect.Signature([_parameter(f, required_in_cli) for f in flags])  # type: ignore[attr-defined]
    run_command.__doc__ = body.__doc__
    return run_command


def api_values(flags: Sequence[Flag], values: dict[str, Any]) -> dict[str, Any]:
    """The values the *_config builder takes: every flag but the CLI's presentation ones."""
    return {f.name: values[f.name] for f in flags if f.scope != "cli"}
