"""`vampy eval`: the vendor's eval script's flags -> EvalConfig -> per-image table + mean (+ JSON)."""
from __future__ import annotations

import sys
from typing import Any, Optional, Tuple

import typer

EVAL_HELP = (
    "Score super-resolution outputs against ground truth: by default on the Y channel (PSNR and SSIM of the "
    "model output and of the bicubic input, per image and mean); with --preset NAME as that zoo family's "
    "scoring script does (RGB outputs, face models, ECBSR's Y with chroma: --list_presets). Flags as the "
    "vendor's eval script. Exit 6 when some images could not be scored (listed), the rest scored."
)


def register(app: typer.Typer) -> None:
    app.command(name="eval", no_args_is_help=True, help=EVAL_HELP)(eval_command)


def eval_command(
    src_dir: Optional[str] = typer.Option(None, "--src_dir", help="Folder of the source (bicubic-upscaled) images the npz inputs were made from (the Y eval, and --preset drrn/vdsr)."),
    gt_dir: Optional[str] = typer.Option(None, "--gt_dir", help="Folder of the ground-truth images."),
    input_npz_path: Optional[str] = typer.Option(None, "--input_npz_path", help="The datalist the outputs were made from."),
    out_npz_dir: Optional[str] = typer.Option(None, "--out_npz_dir", help="Folder of the output npz files."),
    input_shape: Optional[Tuple[int, int]] = typer.Option(None, "--input_shape", help="H W to compare at (ground truth and source resized bilinearly); default 256 256. With a preset: the size that preset's script uses it for (drrn, vdsr, ecbsr, fsrnet, sparnet)."),
    native: bool = typer.Option(False, "--native", help="Compare at the ground truth's own size (no resize); not with --input_shape."),
    vamp_flag: bool = typer.Option(False, "--vamp_flag", help="Pair the i-th of the sorted output files with the i-th datalist line (vamp's output_NNNNNN.npz); without it, pair by input name. Presets always pair by order, as their scripts do."),
    scale: int = typer.Option(4, "--scale", help="Border to shave before scoring, in pixels (the SR scale, by convention)."),
    ycbcr: str = typer.Option("opencv", "--ycbcr", help="Y definition: opencv (COLOR_BGR2YCrCb) or bt601 (MATLAB rgb2ycbcr, the VDSR paper's)."),
    gt_pattern: str = typer.Option("{base}.*", "--gt_pattern", help="Ground-truth file name in --gt_dir; {stem} is the source name, {base} the same without _scale_N."),
    draw_dir: Optional[str] = typer.Option(None, "--draw_dir", help="Write NAME.png images here (the decoded output; for Y models with chroma from the source)."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Score as this zoo family's script does (see --list_presets and docs/eval.md); without it: the Y-channel eval (= vdsr)."),
    scoring: Optional[str] = typer.Option(None, "--scoring", help="YAML/JSON file of scoring fields (docs/eval.md), over --preset's or the defaults: for a model the zoo does not have."),
    lr_dir: Optional[str] = typer.Option(None, "--lr_dir", help="ecbsr: folder of the LR images (NAME.png) whose chroma recolours the Y output."),
    model_type: Optional[str] = typer.Option(None, "--model_type", help="real_esrgan: x4plus (GT suffix x4), anything else x2; as its script."),
    list_presets: bool = typer.Option(False, "--list_presets", help="Print the presets and their parameters, then exit."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Write the full report as JSON."),
    html: Optional[str] = typer.Option(None, "--html", help="Also write the self-contained HTML page of `vampy report` for this result."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar."),
) -> None:
    from vampy.api import eval_config
    from vampy.cli.progress import RichProgress
    from vampy.errors import PartialResult
    from vampy.quality.preset_eval import run_eval
    from vampy.report.schema import write_json

    if list_presets:
        _print_presets()
        return
    cfg = eval_config(
        src_dir=src_dir, gt_dir=_need("--gt_dir", gt_dir), input_npz_path=_need("--input_npz_path", input_npz_path),
        out_npz_dir=_need("--out_npz_dir", out_npz_dir), input_shape=input_shape, native=native, vamp_flag=vamp_flag, scale=scale,
        ycbcr=ycbcr, gt_pattern=gt_pattern, draw_dir=draw_dir, json=json_path, preset=preset, scoring=scoring, lr_dir=lr_dir,
        model_type=model_type,
    )
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
        raise PartialResult(f"{len(report.failures)} of {len(report.failures) + len(report.images)} image(s) could not be scored (listed above); the mean covers the rest")


def _need(flag: str, value: Optional[str]) -> str:
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
    table = Table(title=f"preset {report.preset} (convention {s['convention']}): {s['metric']} PSNR/SSIM, {s['colour']}, shave {s['shave_px']} px")
    for column in ("image", "size", "PSNR (dB)", "SSIM"):
        table.add_column(column, justify="left" if column == "image" else "right")
    for image in report.images:
        table.add_row(image.name, f"{image.height_px}x{image.width_px}", f"{image.psnr_db:.4f}", _ssim(image.ssim))
    table.add_section()
    table.add_row(f"mean of {len(report.images)}", "", f"{report.mean_psnr_db:.4f}", _ssim(report.mean_ssim), style="bold")
    Console(width=120).print(table)


def _ssim(value: Optional[float]) -> str:
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
