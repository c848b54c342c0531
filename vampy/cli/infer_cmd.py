"""`vampy infer`: the vendor's streaming script's flags -> InferConfig -> per-image table, mean, throughput."""
from __future__ import annotations

import sys
from typing import Any

import typer

from vampy.cli.flags import command
from vampy.cli.signals import on_sigterm
from vampy.config.flags import INFER_FLAGS

INFER_HELP = (
    "Stream a folder of images through the vdsp preprocessing and the model and score each output as it comes, "
    "with the pipeline's throughput; reading, inference and writing overlap (bounded queues). The numbers equal "
    "image2npz + run --datalist + eval's on the same model and images. Without --preset: super-resolution from "
    "low-resolution (bicubic-upscaled) images, scored on Y against --hr_image_dir (PSNR and SSIM), the colourised "
    "PNGs written to --save_dir. With --preset NAME: scored as `vampy eval --preset NAME` does, for the "
    "super-resolution presets, imagenet_topk (--label_txt; each image's synset folder is its label) and the "
    "segmentation presets (--gt_dir: the label files). Exit 6 when some images failed (listed), the rest "
    "processed; 3 when none could be."
)


def register(app: typer.Typer) -> None:
    app.command(name="infer", no_args_is_help=True, help=INFER_HELP)(command(INFER_FLAGS, infer_command))


def infer_command(html: str | None, quiet: bool, **flags: Any) -> None:
    """`vampy infer` with its declared flags (vampy/config/flags.py INFER_FLAGS)."""
    from vampy.api import infer_config
    from vampy.cli.progress import RichProgress
    from vampy.errors import PartialResult, UsageError
    from vampy.quality.families import family_preset
    from vampy.results.schema import write_json
    from vampy.workflows.infer import execute, prepare

    cfg = infer_config(**flags)
    json_path = cfg.json_path
    if html and (cfg.preset or cfg.scoring_path) and family_preset(cfg.preset) is None:
        raise UsageError("--html does not show --preset/--scoring results of the super-resolution presets yet; use --json")
    if html:
        from vampy.report.html import check_html_path

        check_html_path(html, "--html")  # a bad page path fails now, not after the work
    prepared = prepare(cfg)
    terminated = on_sigterm()  # SIGTERM stops the stream as Ctrl-C does: the images scored so far are reported
    with RichProgress(quiet=quiet) as progress:
        report = execute(prepared, progress)
    if prepared.family is not None:  # classification, segmentation: eval --preset's table and the script's line
        from vampy.cli.eval_cmd import print_family_table

        print_family_table(report)
    elif prepared.preset is None:
        _print_table(report)
    else:
        from vampy.cli.eval_cmd import print_preset_table

        print_preset_table(report)
    typer.echo(summary_text(report))
    if json_path:
        write_json(json_path, report.to_dict())
    if html:
        from vampy.report.html import write_page

        write_page([report.to_dict()], html)
    for note in report.notes:
        sys.stderr.write(f"vampy: note: {note}\n")
    for deviation in () if quiet else getattr(report, "deviations", ()):
        sys.stderr.write(f"vampy: differs from the family's script: {deviation}\n")
    for failure in report.failures:
        sys.stderr.write(f"vampy: not processed ({failure.stage}): {failure.reason}\n")
    if report.incomplete_reason:
        sys.stderr.write(f"vampy: infer INCOMPLETE: {report.incomplete_reason}\n")
        raise typer.Exit(143 if terminated else 130)
    if report.failures:
        total = len(report.failures) + len(report.images)
        raise PartialResult(f"{len(report.failures)} of {total} image(s) failed (listed above); the figures cover the rest")


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
    if preset is None:
        mean_lines = [f"mean psnr: {report.mean.psnr_db!r}"]
    elif "psnr_db" not in report.metrics:  # a classification or segmentation preset: the family table printed its figures
        mean_lines = []
    else:
        ssim = [f"mean ssim: {report.mean_ssim!r}"] if report.mean_ssim is not None else []
        mean_lines = [f"mean psnr: {report.mean_psnr_db!r}", *ssim]
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
    if report.config.get("result_txt"):
        lines.append(f"wrote the decode lines to {report.config['result_txt']}")
    return "\n".join(lines)
