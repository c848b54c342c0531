"""`vampy eval`: the vendor's eval script's flags -> EvalConfig -> per-image table + mean (+ JSON)."""
from __future__ import annotations

import sys
from typing import Any

import typer

from vampy.cli.flags import command
from vampy.config.flags import EVAL_FLAGS

EVAL_HELP = (
    "Score super-resolution outputs against ground truth: by default on the Y channel (PSNR and SSIM of the "
    "model output and of the bicubic input, per image and mean); with --preset NAME as that zoo family's "
    "scoring script does (RGB outputs, face models, ECBSR's Y with chroma: --list_presets). Flags as the "
    "vendor's eval script. Exit 6 when some images could not be scored (listed), the rest scored."
)


def register(app: typer.Typer) -> None:
    # The vendor's required flags are checked by the body: --list_presets needs none of them.
    app.command(name="eval", no_args_is_help=True, help=EVAL_HELP)(command(EVAL_FLAGS, eval_command, required_in_cli=False))


def eval_command(list_presets: bool, html: str | None, quiet: bool, **flags: Any) -> None:
    """`vampy eval` with its declared flags (vampy/config/flags.py EVAL_FLAGS)."""
    from vampy.api import eval_config
    from vampy.cli.progress import RichProgress
    from vampy.errors import PartialResult
    from vampy.quality.preset_eval import run_eval
    from vampy.results.schema import write_json

    if list_presets:
        _print_presets()
        return
    for name in ("gt_dir", "input_npz_path", "out_npz_dir"):
        _need(f"--{name}", flags[name])
    cfg = eval_config(**flags)
    json_path = cfg.json_path
    if html:
        from vampy.report.html import check_html_path

        check_html_path(html, "--html")  # a bad page path fails now, not after the work
    with RichProgress(quiet=quiet) as progress:
        report = run_eval(cfg, progress)
    if report.kind == "eval" and hasattr(report, "scoring"):
        _print_preset_table(report)
    else:
        _print_table(report)
    for deviation in report.deviations:
        sys.stderr.write(f"vampy: differs from the family's script: {deviation}\n")
    if json_path:
        write_json(json_path, report.to_dict())
    if html:
        from vampy.report.html import write_page

        write_page([report.to_dict()], html)
    for problem in report.failures:
        sys.stderr.write(f"vampy: not scored: {problem.reason}\n")
    if report.failures:
        raise PartialResult(f"{len(report.failures)} of {len(report.failures) + len(report.images)} image(s) "
                            "could not be scored (listed above); the mean covers the rest")


def _need(flag: str, value: str | None) -> str:
    from vampy.errors import UsageError

    if value is None:
        raise UsageError(f"{flag} is required (the vendor's eval flags: --gt_dir, --input_npz_path, --out_npz_dir)")
    return value


def _print_presets() -> None:
    from rich.console import Console
    from rich.table import Table

    from vampy.quality.presets import preset_rows

    table = Table(title="vampy eval --preset NAME (docs/eval.md)")
    for column in ("preset", "conv.", "output decode", "ground truth", "metric", "family (script)"):
        table.add_column(column, overflow="fold")
    for row in preset_rows():
        table.add_row(*row)
    Console(width=200).print(table)


def _print_preset_table(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    s = report.scoring
    table = Table(title=f"preset {report.preset} (convention {s['convention']}): {s['metric']} PSNR/SSIM, {s['colour']}, "
                        f"shave {s['shave_px']} px")
    for column in ("image", "size", "PSNR (dB)", "SSIM"):
        table.add_column(column, justify="left" if column == "image" else "right")
    for image in report.images:
        table.add_row(image.name, f"{image.height_px}x{image.width_px}", f"{image.psnr_db:.4f}", _ssim(image.ssim))
    table.add_section()
    table.add_row(f"mean of {len(report.images)}", "", f"{report.mean_psnr_db:.4f}", _ssim(report.mean_ssim), style="bold")
    Console(width=120).print(table)


def _ssim(value: float | None) -> str:
    return "-" if value is None else f"{value:.5f}"


def _print_table(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    size = "native size" if report.config["input_hw"] is None else "x".join(str(d) for d in report.config["input_hw"])
    table = Table(title=f"Y channel ({report.config['ycbcr']}), {size}, shave {report.config['shave_px']} px")
    for column in ("image", "PSNR (dB)", "SSIM", "bicubic PSNR (dB)", "bicubic SSIM", "gain (dB)"):
        table.add_column(column, justify="left" if column == "image" else "right")
    for image in report.images:
        table.add_row(image.name, *_cells(image.scores))
    table.add_section()
    table.add_row(f"mean of {len(report.images)}", *_cells(report.mean), style="bold")
    Console(width=120).print(table)


def _cells(scores: Any) -> list[str]:
    gain_db = scores.psnr_db - scores.bicubic_psnr_db
    return [f"{scores.psnr_db:.3f}", f"{scores.ssim:.4f}", f"{scores.bicubic_psnr_db:.3f}", f"{scores.bicubic_ssim:.4f}", f"{gain_db:+.3f}"]
