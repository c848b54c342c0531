"""`vampy sweep`: short runs over instances x processes x batch x threads -> table, winner, CSV/JSON/PNG."""
from __future__ import annotations

import math
import sys
from typing import Any

import typer

from vampy.cli.flags import command
from vampy.cli.signals import on_sigterm
from vampy.config.flags import SWEEP_FLAGS

SWEEP_HELP = (
    "Find the configuration with the highest throughput whose p99 e2e latency meets --max_p99_ms: short "
    "runs over instances, processes, batch size and threads, on one engine or several (--engines). Each dimension takes a list (1,2,4), "
    "a range (1-4) or auto. All lists: the full grid. Any auto (or --search auto): a climb that grows each dimension while "
    "throughput improves by more than the run-to-run noise it measured (docs/sweep.md). Prints every point, "
    "the winner as a `vampy run` command line; --csv/--json are rewritten after every point, so Ctrl-C keeps them."
)


def register(app: typer.Typer) -> None:
    app.command(name="sweep", no_args_is_help=True, help=SWEEP_HELP)(command(SWEEP_FLAGS, sweep_command))


def sweep_command(html: str | None, quiet: bool, **flags: Any) -> None:
    """`vampy sweep` with its declared flags (vampy/config/flags.py SWEEP_FLAGS)."""
    from vampy.api import sweep_config

    _sweep(sweep_config(**flags), quiet, html)


class _Writer:
    """Rewrites --csv and --json after every point (atomic), and prints a line per point on stderr."""

    def __init__(self, cfg: Any, quiet: bool) -> None:
        from rich.console import Console

        from vampy.measure.summary import environment

        self.cfg = cfg
        self.quiet = quiet
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.environment = environment()
        self.last: Any = None

    def point_started(self, point: Any, index: int, total: int | None) -> None:
        if not self.quiet:
            self.err.print(f"[dim]\\[{index}{'/' + str(total) if total else ''}] {point.label} ...[/dim]")

    def point_done(self, m: Any, partial: Any) -> None:
        self.last = partial
        self.write(partial)
        if self.quiet:
            return
        if not m.ok:
            self.err.print(f"    {m.point.label}: failed: {m.error}")
            return
        stable = {True: "stable", False: "UNSTABLE", None: "stability not judged"}[m.stable]
        role = f", {m.role}" if m.role else ""
        self.err.print(f"    {m.point.label}: {_g(m.throughput_qps)} qps, p50 {_g(m.e2e_p50_ms)} ms, p99 {_g(m.e2e_p99_ms)} ms "
                       f"({stable}{role})")

    def write(self, result: Any) -> None:
        from vampy.workflows.sweep_run import write_sweep_outputs

        write_sweep_outputs(self.cfg, result, self.environment)


def _sweep(cfg: Any, quiet: bool, html: str | None = None) -> None:
    from vampy.report.plots import check_plot_path, plot_sweep
    from vampy.workflows.sweep import SweepResult
    from vampy.workflows.sweep_run import run_sweep, sweep_dict

    if cfg.plot_path:
        check_plot_path(cfg.plot_path)
    if html:
        from vampy.report.html import check_html_path

        check_html_path(html, "--html")
    writer = _Writer(cfg, quiet)
    writer.write(SweepResult("auto" if cfg.auto else "grid", (), {}))  # an unwritable output fails now, not after the sweep
    terminated = on_sigterm()
    result = run_sweep(cfg, writer)
    writer.write(result)
    data = sweep_dict(result, cfg, writer.environment)
    if cfg.plot_path:
        plot_sweep(data, cfg.plot_path)
    if html:
        from vampy.report.html import write_page

        write_page([data], html)
    _print(data)
    if result.interrupted:
        sys.stderr.write(f"vampy: sweep {result.interrupted}: {len(result.rows)} finished point(s) kept in the outputs\n")
        raise typer.Exit(143 if terminated else 130)


def _g(value: float) -> str:
    """Four significant digits without an exponent: 34290, 2.310, 0.01175."""
    if not value or not math.isfinite(value):
        return f"{value:g}"
    return f"{value:.{max(0, 3 - math.floor(math.log10(abs(value))))}f}"


def _engine(row: dict[str, Any]) -> str:
    """openvino:f32 as asked; openvino (bf16) where the engine chose, with what it reported."""
    if row.get("infer_precision"):
        return f"{row['engine']}:{row['infer_precision']}"
    engine = str(row.get("engine", "onnxruntime"))
    return f"{engine} ({row['precision']})" if row.get("precision") and engine != "onnxruntime" else engine


def _no_winner_reason(data: dict[str, Any], bound: float | None) -> str:
    ran = [p for p in data["points"] if not p["error"]]
    if not ran:
        return "no point finished"
    if all(p.get("accuracy") == "fail" for p in ran):
        return "every engine's outputs fell under the accuracy gate (--min_snr_db)"
    return f"no point met --max_p99_ms {bound:g}" + (" among the engines that passed the accuracy gate" if data["accuracy"] else "")


def _print(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from vampy.workflows.sweep import CONTENDED_PERCENT, NEAR_WINNER

    table = Table(title=f"vampy sweep ({data['mode']}): {data['points_tried']} points, {data['runs']} runs")
    on_nodes = any(row.get("node") for row in data["points"])
    for name in ("#", "i", "p", "b", "threads", "engine", *(("node",) if on_nodes else ()),
                 "qps", "p50 ms", "p99 ms", "cpu %", "others %", "MB", "stable", ""):
        table.add_column(name, justify="left" if name in ("stable", "", "node") else "right")
    for row in data["points"]:
        inaccurate = row.get("accuracy") == "fail"
        marks = [m for m, on in (("WINNER", row["winner"]), ("pareto", row["pareto"]), (row["role"], bool(row["role"])),
                                 ("under accuracy gate", row["error"] is None and inaccurate),
                                 ("over bound", row["error"] is None and not inaccurate and not row["meets_bound"])) if on]
        if row["error"]:
            marks = [f"failed: {row['error']}"]
        stable = {True: "yes", False: "NO", None: "-"}[row["stable"]]
        table.add_row(str(row["index"]), str(row["instances"]), str(row["processes"]), str(row["batch"]), str(row["threads"]),
                      _engine(row), *((row.get("node") or "-",) if on_nodes else ()),
                      _g(row["throughput_qps"]), _g(row["e2e_p50_ms"]), _g(row["e2e_p99_ms"]),
                      f"{row['cpu_percent']:.0f}", "-" if row["others_cpu_percent"] is None else f"{row['others_cpu_percent']:.0f}",
                      f"{row['rss_mb']:.0f}", stable, ", ".join(marks))
    Console(width=140, highlight=False).print(table)
    lines = []
    if data["mode"] == "auto":
        noise = (f"noise {data['noise']:.1%} (the first point twice), step threshold {data['threshold']:.1%}; "
                 if data["noise"] is not None else "")
        lines.append(f"auto: {noise}tried {data['points_tried']} of the {data['space_size']} points of its ladders")
    else:
        lines.append(f"grid: {data['points_tried']} points")
    if data["contended_points"]:
        lines.append(f"warning: {data['contended_points']} of {len(data['points'])} points ran while other processes used more than "
                     f"{CONTENDED_PERCENT:g}% of the machine (column 'others %'): their throughput understates this machine")
    gate = data["config"].get("min_snr_db")
    for check in data.get("accuracy") or []:
        verdict = "passed" if check["accuracy"] == "pass" else "EXCLUDED: none of its points can win"
        lines.append(f"accuracy: {check['engine']} lowest SNR {_g(float(check['drift_min_snr_db']))} dB on --accuracy_datalist "
                     f"(gate --min_snr_db {gate:g}): {verdict}")
    bound = data["config"]["max_p99_ms"]
    win = data["winner"]
    kinds = data.get("node_kinds") or []
    if len(kinds) > 1:
        lines.append(f"the points ran on {len(kinds)} kinds of machine: ranked per kind, never across kinds")
        for entry in data["winners_by_node_kind"]:
            w = entry["winner"]
            lines.append(f"winner on {entry['node_kind']}: i{w['instances']} p{w['processes']} b{w['batch']} t{w['threads']} {_engine(w)} "
                         f"(node {w['node']}): {_g(w['throughput_qps'])} qps, p99 {_g(w['e2e_p99_ms'])} ms")
            lines.append(entry["winner_command"])
        missing = [k for k in kinds if k not in {e["node_kind"] for e in data["winners_by_node_kind"]}]
        lines += [f"no winner on {k}: " + (f"no point met --max_p99_ms {bound:g}" if bound else "no point finished") for k in missing]
    elif win is None:
        lines.append("no winner: " + _no_winner_reason(data, bound))
    else:
        within = f" (p99 bound {bound:g} ms)" if bound else ""
        node = f" on node {win['node']} ({win['node_kind']})" if win.get("node") else ""
        lines.append(f"winner: i{win['instances']} p{win['processes']} b{win['batch']} t{win['threads']} {_engine(win)}{node}: "
                     f"{_g(win['throughput_qps'])} qps, p99 {_g(win['e2e_p99_ms'])} ms{within}")
        lines.append(data["winner_command"])
        alt = data["low_latency_alternative"]
        if alt:
            lines.append(f"within {NEAR_WINNER:.0%} of it at a lower p99: "
                         f"i{alt['instances']} p{alt['processes']} b{alt['batch']} t{alt['threads']}: "
                         f"{_g(alt['throughput_qps'])} qps, p99 {_g(alt['e2e_p99_ms'])} ms")
            lines.append(data["low_latency_command"])
    sys.stdout.write("\n".join(lines) + "\n")
