"""`vampy loadgen`: MLPerf LoadGen scenarios on vampy's instances, LoadGen's verdict beside vampy's figures."""
from __future__ import annotations

import sys
from typing import Any

import typer

from vampy.cli.flags import command
from vampy.config.flags import LOADGEN_FLAGS, loadgen_config_from, read_flags


def register(app: typer.Typer) -> None:
    app.command(name="loadgen", no_args_is_help=True)(command(LOADGEN_FLAGS, loadgen_command))


def loadgen_command(json: str | None, **flags: Any) -> None:
    """Run an MLPerf LoadGen scenario on the model and print LoadGen's summary (VALID/INVALID and
    why) next to vampy's statistics of the same samples."""
    from vampy.results.schema import write_json
    from vampy.workflows.loadgen import run_loadgen

    cfg = loadgen_config_from(read_flags("loadgen", LOADGEN_FLAGS, flags))
    json_path = json
    report = run_loadgen(cfg)
    sys.stdout.write(_text(report.to_dict()))
    if json_path:
        write_json(json_path, report.to_dict())


def _text(r: dict[str, Any]) -> str:
    lg, ours = r["loadgen"], r["vampy"]
    lines = [f"LoadGen {r['config']['scenario']} ({r['config']['mode']}): Result is {lg['result']}"]
    for key in ("Min duration satisfied", "Min queries satisfied", "Early stopping satisfied", "Performance constraints satisfied"):
        if key in lg["fields"]:
            lines.append(f"    {key}: {lg['fields'][key]}")
    lines += [f"    LoadGen: {line.strip()}" for line in lg["text"].splitlines() if line.strip().startswith("*")]
    for key in ("Samples per second", "QPS w/ loadgen overhead", "Scheduled samples per second"):
        if key in lg["fields"]:
            lines.append(f"    LoadGen {key}: {lg['fields'][key]}")
    lines.append(f"vampy, same samples: {ours['samples']} samples, {ours['throughput_qps']:.4f} qps over the run")
    lines.append("latency (us)      LoadGen      vampy    gap  (same rank rule: gap)")
    for key, theirs in lg["percentiles_us"].items():
        mine = ours["e2e"]["percentiles_us"].get(key)
        gap = r["comparison"]["relative_gap"].get(key)
        mine_text = f"{mine:10.0f}" if mine is not None else "         -"
        gap_text = f"{gap * 100:+.2f}%" if gap is not None else "-"
        same = r["comparison"]["relative_gap_same_rank"].get(key)
        same_text = f"{same * 100:+.2f}%" if same is not None else "-"
        lines.append(f"    {key:<10} {theirs:10.0f} {mine_text}  {gap_text}  ({same_text})")
    lines.append(f"    model (vampy)   avg {ours['model_latency']['avg_us']:.0f}, queue avg {ours['queue']['avg_us']:.0f}")
    if r["outputs_written"]:
        lines.append(f"outputs written: {r['outputs_written']} to {r['config']['path_output']}")
    lines.append(f"LoadGen logs: {r['log_dir']}")
    return "\n".join(lines) + "\n"
