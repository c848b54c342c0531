"""`vampy compare A.json B.json [...]`: run reports side by side, changes, and whether they exceed the noise."""
from __future__ import annotations

import sys
from typing import Any

import typer

COMPARE_HELP = (
    "Compare run reports (`vampy run --json`) with the first one: throughput, e2e p50/p90/p99, model p50, CPU, "
    "memory, the relative change, and whether the change in throughput and in median e2e latency exceeds "
    "the run's own noise (bootstrap confidence intervals, fixed seed; docs/sweep.md says what they can and "
    "cannot see). Prints 'no significant difference' when neither does. CI gates: --fail_if_slower PCT and "
    "--fail_if_p99_higher PCT exit 8 when a report is worse than the first by more than PCT percent AND the interval "
    "of the change excludes zero (docs/validation.md)."
)


def register(app: typer.Typer) -> None:
    app.command(name="compare", no_args_is_help=True, help=COMPARE_HELP)(compare_command)


def compare_command(
    reports: list[str] = typer.Argument(..., metavar="REPORT.json", help="Two or more run reports; the first is the baseline."),
    min_change: float = typer.Option(
        0.0, "--min_change",
        help="Changes at most this fraction (0.02 = 2%) are never called significant: put the run-to-run noise you measured here.",
    ),
    confidence: float = typer.Option(0.95, "--confidence", help="Confidence level of the intervals."),
    resamples: int = typer.Option(4000, "--resamples", help="Bootstrap replicates."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed (the same files and seed give the same verdict)."),
    fail_if_slower: float | None = typer.Option(
        None, "--fail_if_slower", metavar="PCT",
        help="Gate: exit 8 when a report's throughput is lower, or its median e2e latency higher, than the first's by more than "
        "PCT percent (25 = 25%) and the bootstrap interval of that change excludes zero.",
    ),
    fail_if_p99_higher: float | None = typer.Option(
        None, "--fail_if_p99_higher", metavar="PCT",
        help="Gate: exit 8 when a report's p99 e2e latency is higher than the first's by more than PCT percent and the "
        "bootstrap interval of that change excludes zero.",
    ),
    json_path: str | None = typer.Option(None, "--json", help="Write the comparison as JSON."),
    html: str | None = typer.Option(None, "--html", help="Also write the self-contained HTML page of `vampy report` for this result."),
) -> None:
    from vampy.errors import GateFailed, UsageError
    from vampy.measure.compare import compare, unique_names
    from vampy.results.schema import read_json, write_json

    if len(reports) < 2:
        raise UsageError("compare needs at least two run reports (`vampy run --json FILE`), the first being the baseline")
    if html:
        from vampy.report.html import check_html_path

        check_html_path(html, "--html")  # a bad page path fails now, not after the work
    data = [read_json(path, kind="run") for path in reports]
    result = compare(data, unique_names(reports), seed=seed, resamples=resamples, confidence=confidence, min_change=min_change,
                     fail_if_slower_pct=fail_if_slower, fail_if_p99_higher_pct=fail_if_p99_higher)
    _print(result, data)
    if json_path:
        write_json(json_path, result.to_dict())
    if html:
        from vampy.report.html import write_page

        write_page([result.to_dict(), *data], html)
    if result.failed_gates:  # after the report is written: CI keeps the evidence
        raise GateFailed("; ".join(g.text for g in result.failed_gates))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _print(result: Any, reports: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    from vampy.measure.compare import config_label, engine_label

    names = result.names
    table = Table(title=f"vampy compare: against {names[0]}")
    table.add_column("")
    table.add_column(names[0], justify="right")
    for name in names[1:]:
        table.add_column(name, justify="right")
        table.add_column("change", justify="right")
    table.add_row("config", config_label(reports[0]), *[c for r in reports[1:] for c in (config_label(r), "")])
    table.add_row("engine", engine_label(reports[0]), *[c for r in reports[1:] for c in (engine_label(r), "")])
    table.add_row("samples", str(reports[0]["samples"]), *[c for r in reports[1:] for c in (str(r["samples"]), "")])
    for row in result.metrics:
        cells = [_num(row.values[0])]
        for k in range(1, len(names)):
            cells += [_num(row.values[k]), _pct(row.change(k))]
        table.add_row(row.label, *cells)
    Console(width=max(100, 30 + 24 * len(names)), highlight=False).print(table)
    lines = [f"{int(result.confidence * 100)}% bootstrap intervals, {result.resamples} replicates, seed {result.seed}; "
             "within-run noise only (docs/sweep.md: compare)"]
    for k in range(1, len(names)):
        lines += [f"  {names[k]}: {t.text()}" for t in result.tests_of(k)]
        lines.append(result.verdict(k))
    lines += [f"note: {n}" for n in result.notes]
    lines += [f"gate {g.text}" for g in result.gates]
    sys.stdout.write("\n".join(lines) + "\n")
