"""`vampy image2npz`: images -> one NAME.npz (key input_0, uint8 CHW) each, plus the datalist.

Flag names are the vendor script's (`--dataset_path`, `--target_path`, `--text_path`).
"""
from __future__ import annotations

import sys
from typing import Any

import typer

IMAGE2NPZ_HELP = (
    "Turn images into vamp input npz files (key input_0, uint8, CHW, at the image's own size) and write the "
    "datalist, one npz path per line in name order. Unreadable images are listed and skipped."
)


def register(app: typer.Typer) -> None:
    app.command(name="image2npz", no_args_is_help=True, help=IMAGE2NPZ_HELP)(image2npz_command)


def image2npz_command(
    dataset_path: str = typer.Option(..., "--dataset_path", help="Folder holding the images."),
    pattern: str = typer.Option("*", "--pattern",
                                help="Glob relative to --dataset_path, e.g. '*_scale_4.bmp' (quote it); ** recurses. With --keep_folders "
                                     "or --preset imagenet_topk the default * means **/* (every file in the subfolders)."),
    mode: str = typer.Option("rgb", "--mode", help="rgb: (3,H,W) RGB; y3: (3,H,W) the Y plane three times (SR models); gray: (1,H,W) Y."),
    ycbcr: str = typer.Option("opencv", "--ycbcr",
                              help="Y for y3/gray: opencv (COLOR_BGR2YCrCb, full range) or bt601 (MATLAB rgb2ycbcr, 16-235)."),
    target_path: str = typer.Option(..., "--target_path", help="Folder for the npz files (created if needed)."),
    text_path: str = typer.Option(..., "--text_path", help="Datalist file to write."),
    relative: bool = typer.Option(False, "--relative", help="Write paths relative to the datalist's folder (default: absolute)."),
    preset: str | None = typer.Option(None, "--preset",
                                      help="Prepare as this zoo family's image2npz does (overrides --mode; docs/eval.md): "
                                           "rgb families, drrn/vdsr Y x3, ecbsr truncating Y, "
                                           "fsrnet/pfsrnet/sparnet/realsr Pillow chains; imagenet_topk RGB with the folders kept."),
    hr_path: str | None = typer.Option(None, "--hr_path", help="--preset realsr: folder for the HR-512 ground-truth PNGs its eval reads."),
    keep_folders: bool = typer.Option(False, "--keep_folders",
                                      help="Keep each image's folder under --dataset_path: DATASET/SUB/NAME.jpg -> TARGET/SUB/NAME.npz "
                                           "(ImageNet's synset folders, which the classification scorers read the label from). "
                                           "Use with a recursive --pattern such as '**/*.JPEG'."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar."),
) -> None:
    from vampy.cli.progress import RichProgress
    from vampy.config import Image2NpzConfig
    from vampy.data.image2npz import images_to_npz

    cfg = Image2NpzConfig(
        dataset_dir=dataset_path, pattern=pattern, target_dir=target_path, datalist_path=text_path,
        mode=mode, ycbcr=ycbcr, relative=relative, preset=preset, hr_path=hr_path, keep_folders=keep_folders,
    )
    with RichProgress(quiet=quiet) as progress:
        result = images_to_npz(cfg, progress)
    typer.echo(summary_line(result))
    for problem in result.skipped:
        sys.stderr.write(f"vampy: skipped {problem.path}: {problem.reason}\n")


def summary_line(result: Any) -> str:
    skipped = f", skipped {len(result.skipped)} (unreadable, or a name already written; listed on stderr)" if result.skipped else ""
    return (
        f"wrote {len(result.written)} npz ({result.mode}{'' if result.mode not in ('y3', 'gray') else f', {result.ycbcr} Y'}) "
        f"to {result.target_dir} "
        f"and the datalist {result.datalist_path}{skipped}"
    )
