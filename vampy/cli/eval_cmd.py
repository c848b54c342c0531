"""`vampy eval`: the vendor's eval script's flags -> EvalConfig -> per-image table + mean (+ JSON)."""
from __future__ import annotations

import sys
from typing import Any, Optional, Tuple

import typer

EVAL_HELP = (
    "Score super-resolution outputs against ground truth on the Y channel: PSNR and SSIM of the model "
    "output and of the bicubic input, per image and mean. Flags as the vendor's eval script. Exit 6 when "
    "some images could not be scored (listed), the rest scored."
)


def register(app: typer.Typer) -> None:
    app.command(name="eval", no_args_is_help=True, help=EVAL_HELP)(eval_command)


def eval_command(
    src_dir: str = typer.Option(..., "--src_dir", help="Folder of the source (bicubic-upscaled) images the npz inputs were made from."),
    gt_dir: str = typer.Option(..., "--gt_dir", help="Folder of the ground-truth images."),
    input_npz_path: str = typer.Option(..., "--input_npz_path", help="The datalist the outputs were made from."),
    out_npz_dir: str = typer.Option(..., "--out_npz_dir", help="Folder of the output npz files."),
    input_shape: Optional[Tuple[int, int]] = typer.Option(None, "--input_shape", help="H W to compare at (ground truth and source resized bilinearly); default 256 256."),
    native: bool = typer.Option(False, "--native", help="Compare at the ground truth's own size (no resize); not with --input_shape."),
    vamp_flag: bool = typer.Option(False, "--vamp_flag", help="Pair the i-th of the sorted output files with the i-th datalist line (vamp's output_NNNNNN.npz); without it, pair by input name."),
    scale: int = typer.Option(4, "--scale", help="Border to shave before scoring, in pixels (the SR scale, by convention)."),
    ycbcr: str = typer.Option("opencv", "--ycbcr", help="Y definition: opencv (COLOR_BGR2YCrCb) or bt601 (MATLAB rgb2ycbcr, the VDSR paper's)."),
    gt_pattern: str = typer.Option("{base}.*", "--gt_pattern", help="Ground-truth file name in --gt_dir; {stem} is the source name, {base} the same without _scale_N."),
    draw_dir: Optional[str] = typer.Option(None, "--draw_dir", help="Write NAME.png colour images (Y from the model, chroma from the source) here."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Write the full report as JSON."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar."),
) -> None:
    from vampy.api import eval_config
    from vampy.cli.progress import RichProgress
    from vampy.errors import PartialResult
    from vampy.quality.evaluate import evaluate
    from vampy.report.schema import write_json

    cfg = eval_config(
        src_dir=src_dir, gt_dir=gt_dir, input_npz_path=input_npz_path, out_npz_dir=out_npz_dir, input_shape=input_shape,
        native=native, vamp_flag=vamp_flag, scale=scale, ycbcr=ycbcr, gt_pattern=gt_pattern, draw_dir=draw_dir, json=json_path,
    )
    with RichProgress(quiet=quiet) as progress:
        report = evaluate(cfg, progress)
    _print_table(report)
    if json_path:
        write_json(json_path, report.to_dict())
    for problem in report.failures:
        sys.stderr.write(f"vampy: not scored: {problem.reason}\n")
    if report.failures:
        raise PartialResult(f"{len(report.failures)} of {len(report.failures) + len(report.images)} image(s) could not be scored (listed above); the mean covers the rest")


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
