"""`vampy infer`: the vendor's streaming script's flags -> InferConfig -> per-image table, mean, throughput."""
from __future__ import annotations

import sys
from typing import Any, Optional, Tuple

import typer

INFER_HELP = (
    "Stream a folder of low-resolution (bicubic-upscaled) images through the vdsp preprocessing and the model, "
    "write the colourised super-resolved PNGs and score them on Y against the ground truth: PSNR and SSIM of the "
    "model and of the bicubic input, per image and mean, and the pipeline's throughput. Reading, inference and "
    "writing overlap (bounded queues). The numbers equal image2npz + run --datalist + eval's on the same model "
    "and images. Exit 6 when some images failed (listed), the rest processed; 3 when none could be."
)


def register(app: typer.Typer) -> None:
    app.command(name="infer", no_args_is_help=True, help=INFER_HELP)(infer_command)


def infer_command(
    lr_image_dir: str = typer.Option(..., "--lr_image_dir", help="Folder of the low-resolution (bicubic-upscaled) images, e.g. Set5 x4."),
    model: str = typer.Option(..., "-m", "--model_prefix_path", "--model", help="Model: a .onnx file, a vamp prefix (dir/mod -> dir/mod.onnx) or a folder holding mod.onnx."),
    vdsp_params: Optional[str] = typer.Option(None, "--vdsp_params_info", "--vdsp_params", help="vdsp_params preprocessing file (JSON or YAML), as `vampy run` takes it."),
    hr_image_dir: str = typer.Option(..., "--hr_image_dir", help="Folder of the ground-truth images (may be --lr_image_dir itself; see --gt_pattern)."),
    save_dir: Optional[str] = typer.Option(None, "--save_dir", help="Write NAME.png colour images here (Y from the model, chroma from the input), as eval's --draw_dir."),
    device: int = typer.Option(0, "--device", "-d", help="Device id, recorded in the report (vampy runs on the CPU)."),
    batch: int = typer.Option(1, "--batch", "-b", help="Images per model request (consecutive images of one shape; needs a model with a dynamic batch when > 1)."),
    pattern: str = typer.Option("*", "--pattern", help="Glob relative to --lr_image_dir, e.g. '*_scale_4.bmp' (quote it); only image files count."),
    mode: Optional[str] = typer.Option(None, "--mode", help="What image2npz --mode the images go through: y3, rgb or gray (default: rgb for a 3-channel model, else y3)."),
    ycbcr: str = typer.Option("opencv", "--ycbcr", help="Y definition for y3/gray and for scoring: opencv (COLOR_BGR2YCrCb) or bt601 (MATLAB rgb2ycbcr)."),
    input_shape: Optional[Tuple[int, int]] = typer.Option(None, "--input_shape", help="H W the vdsp preprocessing resizes to, and the size scores are computed at (default: the vdsp file's / the model's)."),
    native: bool = typer.Option(False, "--native", help="Each image at its own size (model with dynamic H/W), scored at its ground truth's size; not with --input_shape."),
    scale: int = typer.Option(4, "--scale", help="Border to shave before scoring, in pixels (the SR scale, by convention)."),
    gt_pattern: str = typer.Option("{base}.*", "--gt_pattern", help="Ground-truth file name in --hr_image_dir; {stem} is the image name, {base} the same without _scale_N."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Engine threads (default: all cores, as `vampy run -i 1 -p 1`)."),
    engine: str = typer.Option("onnxruntime", "--engine", help="Runtime: onnxruntime (default) or openvino."),
    provider: Optional[str] = typer.Option(None, "--provider", help="onnxruntime only: cpu (default), cuda or tensorrt."),
    infer_precision: Optional[str] = typer.Option(None, "--infer_precision", help="openvino only: f32, bf16 or f16 (default: the CPU's own choice)."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Score as this `vampy eval --preset` does (docs/eval.md): images fed as image2npz --preset, ground truth named by the preset (RGB models; ecbsr: a Y model recoloured with the input's chroma; realsr: the originals in both folders); --gt_pattern, --ycbcr and --scale do not apply."),
    scoring: Optional[str] = typer.Option(None, "--scoring", help="YAML/JSON file of scoring fields (docs/eval.md), over --preset's or the defaults, as `vampy eval --scoring`."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Write the report (per-image scores, failures, timing) as JSON."),
    html: Optional[str] = typer.Option(None, "--html", help="Also write the self-contained HTML page of `vampy report` for this result."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar."),
) -> None:
    from vampy.api import infer_config
    from vampy.cli.progress import RichProgress
    from vampy.errors import PartialResult, UsageError
    from vampy.workflows.infer import execute, prepare
    from vampy.report.schema import write_json

    cfg = infer_config(
        lr_image_dir=lr_image_dir, model=model, hr_image_dir=hr_image_dir, vdsp_params=vdsp_params, save_dir=save_dir,
        device=device, batch=batch, pattern=pattern, mode=mode, ycbcr=ycbcr, input_shape=input_shape, native=native,
        scale=scale, gt_pattern=gt_pattern, threads=threads, engine=engine, provider=provider, infer_precision=infer_precision,
        json=json_path, preset=preset, scoring=scoring,
    )
    if html and (cfg.preset or cfg.scoring_path):
        raise UsageError("--html does not show --preset/--scoring results yet; use --json")
    if html:
        from vampy.report.html import check_html_path

        check_html_path(html, "--html")  # a bad page path fails now, not after the work
    prepared = prepare(cfg)
    with RichProgress(quiet=quiet) as progress:
        report = execute(prepared, progress)
    if prepared.preset is None:
        _print_table(report)
    else:
        from vampy.cli.eval_cmd import _print_preset_table

        _print_preset_table(report)
    typer.echo(summary_text(report))
    if json_path:
        write_json(json_path, report.to_dict())
    if html:
        from vampy.report.html import write_page

        write_page([report.to_dict()], html)
    for note in report.notes:
        sys.stderr.write(f"vampy: note: {note}\n")
    for deviation in getattr(report, "deviations", ()):
        sys.stderr.write(f"vampy: differs from the family's script: {deviation}\n")
    for failure in report.failures:
        sys.stderr.write(f"vampy: not processed ({failure.stage}): {failure.reason}\n")
    if report.failures:
        total = len(report.failures) + len(report.images)
        raise PartialResult(f"{len(report.failures)} of {total} image(s) failed (listed above); the mean covers the rest")


def _print_table(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    from vampy.cli.eval_cmd import _cells

    size = "native size" if report.compare_hw is None else "x".join(str(d) for d in report.compare_hw)
    table = Table(title=f"Y channel ({report.config['ycbcr']}), {size}, shave {report.config['shave_px']} px, {report.mode} input")
    for column in ("image", "PSNR (dB)", "SSIM", "bicubic PSNR (dB)", "bicubic SSIM", "gain (dB)"):
        table.add_column(column, justify="left" if column == "image" else "right")
    for image in report.images:
        table.add_row(image.name, *_cells(image.scores))
    table.add_section()
    table.add_row(f"mean of {len(report.images)}", *_cells(report.mean), style="bold")
    Console(width=120).print(table)


def summary_text(report: Any) -> str:
    """The mean at full precision (as the vendor's script prints it), throughput, and where the images went."""
    t = report.timing
    preset = getattr(report, "preset", None)
    mean_lines = [f"mean psnr: {report.mean.psnr_db!r}"] if preset is None else \
        [f"mean psnr: {report.mean_psnr_db!r}"] + ([f"mean ssim: {report.mean_ssim!r}"] if report.mean_ssim is not None else [])
    lines = [
        *mean_lines,
        f"throughput (images/s): {t.throughput_ips:.4f} ({t.images} images in {t.pipeline_s:.3f} s, first read to last write; "
        f"batch {report.config['batch_size']}, {report.intra_threads} intra-op threads)",
        f"stage busy (s): decode {t.decode_busy_s:.3f}, model {t.model_s:.3f} (of infer {t.infer_busy_s:.3f}), "
        f"score+write {t.write_busy_s:.3f}; warm-up {t.warmup_s:.3f} s and setup {t.setup_s:.3f} s excluded",
    ]
    if report.engine:
        e = report.engine
        lines.append(f"engine: {e['engine']} {e['version']}, {e['device']}, precision {e['precision']}")
    if report.config["save_dir"]:
        lines.append(f"saved {report.saved} PNG(s) to {report.config['save_dir']}")
    return "\n".join(lines)
