"""`vampy eval`: the vendor's eval script's flags -> EvalConfig -> per-image table + mean (+ JSON)."""
from __future__ import annotations

import sys
from typing import Any

import typer

from vampy.cli.flags import command
from vampy.config.flags import EVAL_FLAGS

EVAL_HELP = (
    "Score a run's outputs against ground truth. Without --preset: super-resolution on the Y channel (PSNR and "
    "SSIM of the model output and of the bicubic input, per image and mean). With --preset NAME: as that zoo "
    "family's own scoring script does, with that script's flags (super-resolution, classification, segmentation, "
    "detection, text detection and recognition, NLP, salient objects, low light, colorization); "
    "--list_presets prints each preset's flags and metrics. Exit 6 when some images or lines could not be "
    "scored (listed), the rest scored."
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
    cfg = eval_config(**flags)  # it checks the flags the preset (or the Y eval) needs
    json_path = cfg.json_path
    if html:
        from vampy.report.html import check_html_path

        check_html_path(html, "--html")  # a bad page path fails now, not after the work
    with RichProgress(quiet=quiet) as progress:
        report = run_eval(cfg, progress)
    if report.preset in family_names():
        print_family_table(report)
    elif report.kind == "eval" and hasattr(report, "scoring"):
        print_preset_table(report)
    else:
        _print_table(report)
    for deviation in () if quiet else report.deviations:
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
                            "could not be scored (listed above); the figures cover the rest")


def family_names() -> set[str]:
    from vampy.quality.families import FAMILY_PRESETS

    return set(FAMILY_PRESETS)


def print_family_table(report: Any) -> None:
    """A non-SR preset: each image's metrics, the report's metrics, then the vendor script's own result line."""
    from rich.console import Console
    from rich.table import Table

    from vampy.quality.families import FAMILY_PRESETS
    from vampy.quality.family_eval import vendor_line
    from vampy.quality.family_report import per_class_text

    preset = FAMILY_PRESETS[report.preset]
    table = Table(title=f"preset {preset.name} (convention {preset.convention}): {preset.scripts}")
    names = list(dict.fromkeys(name for image in report.images for name in image.metrics))
    for column in ("image", *names):
        table.add_column(column, justify="left" if column == "image" else "right")
    for image in report.images:
        table.add_row(image.name, *(_figure(image.metrics.get(name)) for name in names))
    Console(width=160).print(table)
    for name, value in report.metrics.items():
        if not isinstance(value, (list, dict)):
            print(f"{name}: {value}")
    per_class = per_class_text(getattr(report, "per_class_iou", None))  # the segmentation presets only
    if per_class:
        print(per_class)
    # The scripts name the last file (.png); TR-1's prints its --datasets_name first.
    dataset = _sod_dataset(report.config) if preset.family == "sod" else str(report.config.get("datasets_name", ""))
    print(vendor_line(preset, report.metrics, f"{report.images[-1].name}.png", dataset, int(report.config.get("num_bits", 3))))


def _sod_dataset(config: dict[str, Any]) -> str:
    """PySOD titles its table with the dataset's name; its configs name ECSSD/mask, so the masks' parent folder."""
    from pathlib import Path

    return Path(str(config.get("gt_dir") or "")).resolve().parent.name


def _figure(value: float | None) -> str:
    """Four decimals; a count (an int, e.g. detections per image) as itself."""
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.4f}"


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
    from vampy.quality.families import family_rows

    others = Table(title="the other families (vampy eval --preset NAME, the vendor scripts' flags)")
    for column in ("preset", "conv.", "flags", "metrics", "scripts"):
        others.add_column(column, overflow="fold")
    for row in family_rows():
        others.add_row(*row)
    Console(width=200).print(others)


def print_preset_table(report: Any) -> None:
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
