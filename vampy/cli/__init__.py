"""The typer app: command registration and the one place where errors become exit codes.

Only `vampy/cli/` imports typer or rich, or prints. Command modules import the engine lazily,
inside the command function, so `vampy --help` stays fast.
"""
from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

import typer

from vampy import __version__
from vampy.cli import argv as argv_quirks
from vampy.errors import EXIT_CODES, VampyError

EXIT_CODE_HELP = "Exit codes: " + "; ".join(f"{code} {text.split(':')[0].split(' (')[0]}" for code, text in EXIT_CODES.items())

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=(
        "Profile and validate neural-network models on ONNX Runtime or OpenVINO, with vamp's command lines "
        "and files. Add --debug anywhere for tracebacks. " + EXIT_CODE_HELP
    ),
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"vampy {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
) -> None:
    """Profile and validate neural-network models on ONNX Runtime or OpenVINO."""


def _register() -> None:
    # Imported here, not at module top, so a syntax slip in one command module names itself.
    from vampy.cli import commands

    commands.register(app)


def _err(line: str) -> None:
    sys.stderr.write(f"vampy: {line}\n")
    sys.stderr.flush()


def _from_ctrl_c(exc: BaseException) -> bool:
    """True when a KeyboardInterrupt is among the exception's causes (typer raises Exit(130) from it)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: vamp quirks -> typer -> exit code (see errors.EXIT_CODES)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    if debug:
        # The runtimes' own log lines stay off the terminal unless --debug (engines/ort.py's DEBUG_ENV);
        # through the environment, so that spawned workers see it too.
        os.environ["VAMPY_DEBUG"] = "1"
    code = 0
    try:
        args, notes = argv_quirks.normalize(args)
        for note in notes:
            _err(f"note: {note}")
        _register()
        # standalone mode: typer prints its own usage errors (exit 2) and turns Ctrl-C into 130.
        app(args=args, prog_name="vampy", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if _from_ctrl_c(exc):  # typer turned a Ctrl-C the command did not handle into a silent exit 130
            _err("interrupted (Ctrl-C): nothing more was written")
    except VampyError as exc:
        if debug:
            traceback.print_exc()
        _err(f"error: {exc}")
        code = exc.exit_code
    except KeyboardInterrupt:
        _err("interrupted")
        code = 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, exit 1
        if debug:
            traceback.print_exc()
        _err(f"internal error: {type(exc).__name__}: {exc} (run again with --debug for the traceback, and please report it)")
        code = 1
    sys.exit(code)
