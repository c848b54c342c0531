"""`vampy image2npz`: images -> NAME.npz (input_0: uint8 CHW) per image, and the datalist.

With --keep_folders (and --preset imagenet_topk, whose image2npz.py does it) each npz keeps the image's
folder under --dataset_path (`val/n01440764/x.JPEG` -> `TARGET/n01440764/x.npz`): the classification
scorers read each image's label from that folder in the datalist line.
"""
from __future__ import annotations

import glob as globlib
import io
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from vampy.config import Image2NpzConfig
from vampy.data.imaging import image_to_chw, read_image
from vampy.errors import InputError, UsageError
from vampy.formats.files import make_output_dir, write_atomic
from vampy.formats.npz import write_npz_atomic
from vampy.progress import NullProgress, Progress
from vampy.results.schema import FileProblem, Image2NpzResult


def images_to_npz(cfg: Image2NpzConfig, progress: Progress | None = None) -> Image2NpzResult:
    """Write NAME.npz (input_0: uint8 CHW) per matching image, sorted by name, then the datalist."""
    progress = progress or NullProgress()
    recipe = _recipe(cfg)
    dataset_dir = Path(cfg.dataset_dir)
    keep_folders = cfg.keep_folders or cfg.preset in KEEP_FOLDERS_PRESETS
    images = _matching_images(dataset_dir, effective_pattern(cfg.pattern, keep_folders))
    target = Path(cfg.target_dir)
    make_output_dir(target, "--target_path")
    written: list[Path] = []
    skipped: list[FileProblem] = []
    progress.start("image2npz", len(images))
    for image_path, name in _output_names(images, skipped, dataset_dir if keep_folders else None):
        try:
            if recipe is None:
                chw = image_to_chw(read_image(image_path), cfg.mode, cfg.ycbcr)
            else:
                chw = prepare_image(recipe, image_path, cfg, name)
        except InputError as exc:
            skipped.append(FileProblem(str(image_path), str(exc)))
        else:
            folder = target / Path(name).parent
            make_output_dir(folder, "--target_path")
            written.append(write_npz_atomic(folder, Path(name).name, {"input_0": chw}))
        progress.advance()
    progress.finish()
    if not written:
        raise InputError(
            f"{cfg.dataset_dir}: none of the {len(images)} matching files could be read as an image (first: {skipped[0].reason})"
        )
    datalist = _write_datalist(Path(cfg.datalist_path), written, cfg.relative)
    return Image2NpzResult(
        str(datalist), str(target), cfg.preset or cfg.mode, cfg.ycbcr, tuple(str(p) for p in written),
        tuple(sorted(skipped, key=lambda s: s.path)),
    )



def _matching_images(dataset_dir: Path, pattern: str) -> list[Path]:
    if not dataset_dir.is_dir():
        raise InputError(f"--dataset_path {dataset_dir}: no such folder")
    matches = [Path(p) for p in globlib.glob(os.path.join(globlib.escape(str(dataset_dir)), pattern), recursive=True)]
    files = sorted((p for p in matches if p.is_file()), key=lambda p: p.relative_to(dataset_dir).as_posix())
    if not files:
        raise InputError(f"--pattern {pattern!r}: no file in {dataset_dir} matches{subfolder_hint(dataset_dir, pattern)}")
    return files



def _output_names(images: list[Path], skipped: list[FileProblem], keep_under: Path | None) -> list[tuple[Path, str]]:
    """NAME.npz per image (SUB/NAME.npz under `keep_under`, the folders kept); a second image with the same
    name (a.png, a.jpg) is skipped, not overwritten."""
    first_by_name: dict[str, Path] = {}
    pairs: list[tuple[Path, str]] = []
    for image in images:
        name = f"{image.stem}.npz"
        if keep_under is not None:
            name = (image.parent.relative_to(keep_under) / name).as_posix()
        if name in first_by_name:
            skipped.append(FileProblem(str(image), f"{image}: same output name {name} as {first_by_name[name]}; rename one of them, "
                                                   "or give --keep_folders to keep each image's folder"))
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


# Each zoo family's image2npz (SR-ZOO.md section 2) by preset name: the recipe its docs use (2b).
PREP_PRESETS: dict[str, str] = {
    **{name: "rgb" for name in ("bicubic_plusplus", "bsrgan", "dipnet-basicsr", "ecbsr-basicsr", "edsr", "edsr-basicsr", "esrgan",
                                "gpen", "lesrcnn", "msrn", "ncnet", "rcan", "rcan-basicsr", "real_esrgan")},
    "drrn": "y3", "vdsr": "y3", "ecbsr": "ecbsr_y3", "fsrnet": "fsrnet", "pfsrnet": "pfsrnet", "realsr": "realsr", "sparnet": "sparnet",
}
# The classification family's image2npz.py (ZOO-EVAL.md CLS-1): RGB, written as input_npz/<synset>/<name>.npz.
FAMILY_PREP_PRESETS: dict[str, str] = {"imagenet_topk": "rgb"}
KEEP_FOLDERS_PRESETS = frozenset(FAMILY_PREP_PRESETS)
RECURSIVE_PATTERN = "**/*"  # --pattern's default where the folders are kept: every file under --dataset_path


def effective_pattern(pattern: str, keep_folders: bool) -> str:
    """--pattern as given, except that its default * means every file in the subfolders where the folders are kept."""
    return RECURSIVE_PATTERN if keep_folders and pattern == "*" else pattern


def subfolder_hint(folder: Path, pattern: str) -> str:
    """'; its images are in subfolders: ...' when a pattern without ** found nothing and the folder has subfolders."""
    if "**" in pattern or not any(p.is_dir() for p in folder.iterdir()):
        return ""
    return f"; {folder} has subfolders: give --pattern '**/{pattern}' to look inside them"


def _recipe(cfg: Image2NpzConfig) -> str | None:
    if cfg.preset is None:
        return None
    recipes = {**PREP_PRESETS, **FAMILY_PREP_PRESETS}
    if cfg.preset not in recipes:
        raise UsageError(f"--preset {cfg.preset!r}: image2npz has no recipe of that name; choose one of {', '.join(recipes)}. "
                         "The other zoo presets (vampy eval --list_presets) take plain RGB npz files: drop --preset")
    recipe = recipes[cfg.preset]
    if recipe == "realsr":
        if cfg.hr_path is None:
            raise UsageError("--preset realsr writes the HR-512 ground truth too: give --hr_path")
        make_output_dir(Path(cfg.hr_path), "--hr_path")
    return recipe


def prepare_image(recipe: str, path: Path, cfg: Image2NpzConfig, npz_name: str) -> np.ndarray:
    """uint8 CHW by the family's script: OpenCV reads for rgb / y3 / ecbsr_y3, Pillow chains for the others."""
    if recipe in ("rgb", "y3"):
        return image_to_chw(read_image(path), recipe, "opencv")
    if recipe == "ecbsr_y3":  # SRCNN-style Y = 16 + (64.738 R + 129.057 G + 25.064 B) / 256, truncated (Q10)
        rgb = cv2.cvtColor(read_image(path), cv2.COLOR_BGR2RGB).astype(np.float64)
        y = (16.0 + (64.738 * rgb[:, :, 0] + 129.057 * rgb[:, :, 1] + 25.064 * rgb[:, :, 2]) / 256.0).astype(np.uint8)
        return np.ascontiguousarray(np.stack([y, y, y]))
    image = open_pil(path)
    bicubic, bilinear = Image.Resampling.BICUBIC, Image.Resampling.BILINEAR
    if recipe == "fsrnet":
        image = image.resize([16, 16], bicubic).resize([128, 128], bicubic)
    elif recipe == "sparnet":
        image = image.resize((16, 16), bicubic)
    elif recipe == "pfsrnet":  # torchvision CenterCrop(178), Resize(128), Resize(64), Resize(32), Resize(16) on PIL
        width, height = image.size
        top, left = int(round((height - 178) / 2.0)), int(round((width - 178) / 2.0))
        image = image.convert("RGB").crop((left, top, left + 178, top + 178))
        for side in (128, 64, 32, 16):
            image = image.resize((side, side), bilinear)
    elif recipe == "realsr":  # LR-128 and HR-512, each from the original (Q16)
        hr_png = io.BytesIO()
        realsr_image(image, REALSR_HR_PX).save(hr_png, format="PNG")
        write_atomic(Path(str(cfg.hr_path)), f"{Path(npz_name).stem}.png", lambda fh: fh.write(hr_png.getvalue()))  # never through a link
        image = realsr_image(image, REALSR_LR_PX)
    return np.ascontiguousarray(np.asarray(image.convert("RGB")).transpose(2, 0, 1))


REALSR_LR_PX, REALSR_HR_PX = 128, 512


def realsr_image(original: Image.Image, side_px: int) -> Image.Image:
    """realsr's LR-128 or HR-512 from the original: RGB first, then PIL bicubic (vampy infer --preset realsr uses it too)."""
    return original.convert("RGB").resize((side_px, side_px), Image.Resampling.BICUBIC)


def open_pil(path: Path) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"{path}: not an image Pillow can read ({exc})") from None
