"""`vampy image2npz`: images -> NAME.npz (input_0: uint8 CHW) per image, and the datalist."""
from __future__ import annotations

import glob as globlib
import io
import os
from pathlib import Path

from vampy.config import Image2NpzConfig
from vampy.data.imaging import image_to_chw, read_image
from vampy.errors import InputError
from vampy.formats.files import make_output_dir, write_atomic
from vampy.formats.npz import write_npz_atomic
from vampy.progress import NullProgress, Progress
from vampy.report.schema import FileProblem, Image2NpzResult


def images_to_npz(cfg: Image2NpzConfig, progress: Progress | None = None) -> Image2NpzResult:
    """Write NAME.npz (input_0: uint8 CHW) per matching image, sorted by name, then the datalist."""
    progress = progress or NullProgress()
    images = _matching_images(Path(cfg.dataset_dir), cfg.pattern)
    target = Path(cfg.target_dir)
    make_output_dir(target, "--target_path")
    written: list[Path] = []
    skipped: list[FileProblem] = []
    progress.start("image2npz", len(images))
    for image_path, name in _output_names(images, skipped):
        try:
            chw = image_to_chw(read_image(image_path), cfg.mode, cfg.ycbcr)
        except InputError as exc:
            skipped.append(FileProblem(str(image_path), str(exc)))
        else:
            written.append(write_npz_atomic(target, name, {"input_0": chw}))
        progress.advance()
    progress.finish()
    if not written:
        raise InputError(f"{cfg.dataset_dir}: none of the {len(images)} matching files could be read as an image (first: {skipped[0].reason})")
    datalist = _write_datalist(Path(cfg.datalist_path), written, cfg.relative)
    return Image2NpzResult(
        str(datalist), str(target), cfg.mode, cfg.ycbcr, tuple(str(p) for p in written),
        tuple(sorted(skipped, key=lambda s: s.path)),
    )



def _matching_images(dataset_dir: Path, pattern: str) -> list[Path]:
    if not dataset_dir.is_dir():
        raise InputError(f"--dataset_path {dataset_dir}: no such folder")
    matches = [Path(p) for p in globlib.glob(os.path.join(globlib.escape(str(dataset_dir)), pattern), recursive=True)]
    files = sorted((p for p in matches if p.is_file()), key=lambda p: p.relative_to(dataset_dir).as_posix())
    if not files:
        raise InputError(f"--pattern {pattern!r}: no file in {dataset_dir} matches")
    return files



def _output_names(images: list[Path], skipped: list[FileProblem]) -> list[tuple[Path, str]]:
    """NAME.npz per image; a second image with the same NAME (a.png, a.jpg) is skipped, not overwritten."""
    first_by_name: dict[str, Path] = {}
    pairs: list[tuple[Path, str]] = []
    for image in images:
        name = f"{image.stem}.npz"
        if name in first_by_name:
            skipped.append(FileProblem(str(image), f"{image}: same output name {name} as {first_by_name[name]}; rename one of them"))
            continue
        first_by_name[name] = image
        pairs.append((image, name))
    return pairs



def _write_datalist(datalist: Path, npz_paths: list[Path], relative: bool) -> Path:
    folder = Path(os.path.abspath(datalist)).parent
    make_output_dir(folder, "--text_path")
    if relative:
        lines = [Path(os.path.relpath(os.path.abspath(p), folder)).as_posix() for p in npz_paths]
    else:
        lines = [os.path.abspath(p) for p in npz_paths]
    buffer = io.StringIO()
    buffer.writelines(f"{line}\n" for line in lines)
    return write_atomic(folder, datalist.name, lambda fh: fh.write(buffer.getvalue().encode("utf-8")))
