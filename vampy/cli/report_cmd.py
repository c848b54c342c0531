"""`vampy report FILE... -o report.html`: vampy's JSON reports -> one self-contained HTML page."""
from __future__ import annotations

import sys

import typer

REPORT_HELP = (
    "Write one self-contained HTML page (styles, script and figures inline; opens with no network) from any mix of "
    "vampy's JSON reports: run, sweep, compare, eval, infer, loadgen, diff (--json) and compile's mod.json. Files that are "
    "not vampy reports are listed on the page and on stderr; exit 3 when none is good, 6 when some are."
)


def register(app: typer.Typer) -> None:
    app.command(name="report", no_args_is_help=True, help=REPORT_HELP)(report_command)


def report_command(
    reports: list[str] = typer.Argument(
        ..., metavar="REPORT.json", help="Report files: --json of run/sweep/compare/eval/infer/loadgen/diff, or a compile mod.json.",
    ),
    output: str = typer.Option(..., "-o", "--output", help="The HTML file to write (ending in .html)."),
) -> None:
    from vampy.report.html import write_report

    loaded = write_report(reports, output)
    sys.stdout.write(f"wrote {output} from {len(loaded.sources)} report(s)\n")
