"""`vampy eval`: pair model outputs with ground truth and score them on Y (PSNR, SSIM, bicubic alongside).

Pairing. With --vamp_flag (pair_by_order) the i-th of sorted(outputs_dir/*.npz) goes with the
i-th datalist entry, as the vendor's readers do; the counts must match. Without it, the output
for datalist entry .../NAME.npz is outputs_dir/NAME.npz. Either way NAME (the input npz's stem)
finds the source image src_dir/NAME.<image suffix> and the ground truth gt_dir/<gt_pattern>.

Reading an output as the vendor's VDSR reader does: output_0[0][0] as float32, clipped to [0, 1],
x255, rounded to uint8.

Compare size. At --input_shape H W the ground truth's Y and the source's Y are resized to W x H
with cv2.INTER_LINEAR (Y first, then resize: the source's resized Y is exactly what the vdsp
BILINEAR_CV resize fed the model, so the bicubic column scores the model's own input). With
--native nothing is resized. Bilinear for the ground truth is measured, not guessed: with the
pretrained VDSR (../shared/data) at 1x256x256, OpenCV Y, shave 4, Set5 x4, the vendor's table says
30.958 and the ground-truth interpolations give: INTER_LINEAR 30.930, INTER_AREA 30.998,
INTER_CUBIC 29.584, INTER_LANCZOS4 29.566, INTER_NEAREST 28.010. LINEAR is the closest (and
cv2.resize's default, which the vendor's script most likely relied on).

Failures. Problems with the whole run (datalist unreadable, outputs folder missing, output count
differing from the datalist under --vamp_flag) raise InputError. Problems with one image (no source
or ground truth, an unreadable output, a wrong output shape) are listed in report.failures with a
reason naming the file, and every other image is still scored; if none can be scored, InputError.
"""
from __future__ import annotations

import bisect
import fnmatch
import glob as globlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vampy.config import EvalConfig
from vampy.data.imaging import IMAGE_SUFFIXES, colourise, encode_png, read_image, resize_plane, to_y
from vampy.errors import InputError
from vampy.formats.datalist import DatalistEntry, output_name, read_datalist
from vampy.formats.files import make_output_dir, write_bytes_atomic
from vampy.formats.npz import HeaderCheck, NpyHeader, load_input_npz, read_npz_headers
from vampy.progress import NullProgress, Progress
from vampy.quality.metrics import psnr_y, ssim_y
from vampy.results.schema import EvalReport, EvalScores, FileProblem, ScoredImage

OUTPUT_KEY = "output_0"
_SCALE_SUFFIX = re.compile(r"_scale_\d+$")


@dataclass(frozen=True)
class _Pair:
    entry: DatalistEntry
    name: str  # the input npz's stem: names the source image and the ground truth
    output: Path


def gt_base_name(name: str) -> str:
    """`baby_GT_scale_4` -> `baby_GT`: the default ground-truth rule strips a `_scale_N` suffix."""
    return _SCALE_SUFFIX.sub("", name)


def evaluate(cfg: EvalConfig, progress: Progress | None = None) -> EvalReport:
    """Score every datalist entry's output; see the module doc for pairing, sizes and failures."""
    progress = progress or NullProgress()
    pairs = _pairs(cfg, read_datalist(Path(cfg.datalist)))
    folders = (FolderIndex(Path(cfg.src_dir)), FolderIndex(Path(cfg.gt_dir)))
    if cfg.draw_dir is not None:
        make_output_dir(Path(cfg.draw_dir), "--draw_dir")
    images: list[ScoredImage] = []
    failures: list[FileProblem] = []
    progress.start("eval", len(pairs))
    for pair in pairs:
        try:
            images.append(_score(cfg, pair, *folders))
        except InputError as exc:
            failures.append(FileProblem(str(pair.output), str(exc)))
        progress.advance()
    progress.finish()
    if not images:
        raise InputError(f"no image could be scored ({len(failures)} failed); the first: {failures[0].reason}")
    return EvalReport(cfg.to_dict(), tuple(images), mean_metrics(images), tuple(failures), len(images) if cfg.draw_dir else 0)


def _pairs(cfg: EvalConfig, entries: list[DatalistEntry]) -> list[_Pair]:
    outputs_dir = Path(cfg.outputs_dir)
    if not outputs_dir.is_dir():
        raise InputError(f"--out_npz_dir {outputs_dir}: no such folder")
    if not cfg.pair_by_order:
        pairs = [_Pair(e, e.path.stem, outputs_dir / f"{e.path.stem}.npz") for e in entries]
        if not any(p.output.is_file() for p in pairs) and (outputs_dir / output_name(0)).is_file():
            raise InputError(
                f"--out_npz_dir {outputs_dir}: holds vamp's output_NNNNNN.npz, none named after the inputs; "
                "add --vamp_flag to pair them with the datalist by order"
            )
        return pairs
    outputs = sorted(p for p in outputs_dir.glob("*.npz") if p.is_file())
    if len(outputs) != len(entries):
        raise InputError(
            f"--out_npz_dir {outputs_dir}: {len(outputs)} npz files for {len(entries)} lines of {cfg.datalist}; "
            "--vamp_flag pairs them by sorted order, so the counts must match (a partial run? see failures.json there)"
        )
    return [_Pair(e, e.path.stem, out) for e, out in zip(entries, outputs)]


def _score(cfg: EvalConfig, pair: _Pair, sources: FolderIndex, ground_truth: FolderIndex) -> ScoredImage:
    source_path = _find_one(sources, globlib.escape(pair.name) + ".*", f"source image for {pair.entry.text}", images_only=True)
    gt_path = find_ground_truth(ground_truth, cfg.gt_pattern, pair.name, source_path.name)
    gt_bgr, source_bgr = read_image(gt_path), read_image(source_path)
    # The images first: their sizes bound what the output may declare before it is loaded.
    sr_y = read_output_y(pair.output, output_values_limit(gt_bgr.shape[:2], cfg.input_hw))
    source_y, gt_y = compare_planes(source_bgr, gt_bgr, cfg.input_hw, cfg.ycbcr, cfg.shave_px)
    height_px, width_px = gt_y.shape
    check_size(pair.output, sr_y, gt_y, "--input_shape" if cfg.input_hw else "--native: the ground truth's size")
    check_size(source_path, source_y, gt_y, "--native: the ground truth's size")
    scores = score_planes(sr_y, source_y, gt_y, cfg.shave_px, gt_path)
    if cfg.draw_dir is not None:
        write_bytes_atomic(Path(cfg.draw_dir), f"{pair.name}.png", encode_png(colourise(sr_y, source_bgr, cfg.ycbcr)))
    return ScoredImage(
        index=pair.entry.index, name=pair.name, output_path=str(pair.output), source_path=str(source_path), gt_path=str(gt_path),
        height_px=height_px, width_px=width_px, metrics=scores.to_metrics(),
    )


def find_ground_truth(gt_dir: FolderIndex, gt_pattern: str, name: str, source_name: str) -> Path:
    """The one file in gt_dir matching gt_pattern for source NAME ({stem}, {base}); InputError otherwise."""
    pattern = gt_pattern.format(stem=globlib.escape(name), base=globlib.escape(gt_base_name(name)))
    return _find_one(gt_dir, pattern, f"ground truth for {source_name}", images_only=False)


_GLOB_MAGIC = re.compile(r"[*?[]")


class FolderIndex:
    """A folder's entry names, listed once, for the per-image lookups of eval and infer.

    Why: a glob per image re-reads the whole folder, so a run costs O(images x entries): with 10,000
    images beside their ground truth that was 11 ms a lookup, nearly two minutes a run. Here a
    lookup bisects the sorted names to those starting with the pattern's literal prefix and
    fnmatches only them. Matches are glob's for a pattern within the folder (case-sensitive, hidden
    names only for a pattern starting with "."); a plain name is checked directly and a pattern
    with a "/" still globs. Files added to the folder after the listing are not seen.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            self._names = sorted(os.listdir(folder))
        except OSError:
            self._names = []  # a missing folder matches nothing, as glob's answer would be

    def files(self, pattern: str) -> list[Path]:
        """Regular files (or links to them) in the folder whose names match the glob pattern, sorted."""
        if "/" in pattern or os.sep in pattern:
            return sorted(p for p in map(Path, globlib.glob(str(Path(globlib.escape(str(self.folder))) / pattern))) if p.is_file())
        magic = _GLOB_MAGIC.search(pattern)
        if magic is None:  # a plain name: glob only checks that it exists (whatever the listing says)
            path = self.folder / pattern
            return [path] if pattern and path.is_file() else []
        prefix = pattern[: magic.start()]
        hidden_ok = pattern.startswith(".")
        found: list[Path] = []
        for k in range(bisect.bisect_left(self._names, prefix), len(self._names)):
            name = self._names[k]
            if not name.startswith(prefix):
                break
            if (hidden_ok or not name.startswith(".")) and fnmatch.fnmatchcase(name, pattern) and (self.folder / name).is_file():
                found.append(self.folder / name)
        return found


def compare_planes(
    source_bgr: np.ndarray, gt_bgr: np.ndarray, compare_hw: tuple[int, int] | None, ycbcr: str, scale: int
) -> tuple[np.ndarray, np.ndarray]:
    """(source Y, ground-truth Y) at the compare size: Y first, then bilinear resize (see the module doc).

    compare_hw None: the ground truth's own size (after _modcrop), nothing resized.
    """
    if compare_hw is None:
        gt_bgr = _modcrop(gt_bgr, source_bgr.shape[:2], scale)
    height_px, width_px = compare_hw or gt_bgr.shape[:2]
    gt_y = resize_plane(to_y(gt_bgr, ycbcr), height_px, width_px)
    source_y = resize_plane(to_y(source_bgr, ycbcr), height_px, width_px)
    return source_y, gt_y


def _modcrop(gt_bgr: np.ndarray, source_hw: tuple[int, ...], scale: int) -> np.ndarray:
    """At native size, a source made from a ground truth cropped to a multiple of the scale (the
    usual `modcrop`: Set5's x3 images are up to 2 px smaller) is compared with the same crop,
    top-left, as MATLAB's modcrop does. A larger difference stays an error (check_size)."""
    h, w = gt_bgr.shape[:2]
    sh, sw = int(source_hw[0]), int(source_hw[1])
    if sh <= h < sh + max(scale, 1) and sw <= w < sw + max(scale, 1):
        return gt_bgr[:sh, :sw]
    return gt_bgr


def _find_one(index: FolderIndex, pattern: str, what: str, images_only: bool) -> Path:
    matches = index.files(pattern)
    if images_only:
        matches = [p for p in matches if p.suffix.lower() in IMAGE_SUFFIXES]
    where = index.folder / pattern
    if not matches:
        raise InputError(f"{where}: no {what}")
    if len(matches) > 1:
        raise InputError(f"{where}: {len(matches)} files match as the {what} ({', '.join(p.name for p in matches[:3])}); keep one")
    return matches[0]


# An output may hold more values than its ground truth has pixels (channels, a batch, a model that
# upscales more than the data did), but not orders of magnitude more: 16x holds any real model's
# output and keeps a 261 KB npz declaring uint8 1x1x16384x16384 from costing gigabytes.
OUTPUT_VALUES_PER_GT_PIXEL = 16
OUTPUT_RANK = 4  # (N, C, H, W), as vamp writes


def output_values_limit(gt_hw: Sequence[int], compare_hw: Sequence[int] | None) -> int:
    """The most values an output scored against this ground truth may declare (16x the larger of its
    pixels and the compare size's)."""
    pixels = max(int(gt_hw[0]) * int(gt_hw[1]), int(compare_hw[0]) * int(compare_hw[1]) if compare_hw else 0)
    return OUTPUT_VALUES_PER_GT_PIXEL * max(pixels, 1)


def output_header_check(key: str, max_values: int) -> HeaderCheck:
    """Refuses, from its header alone, an output `key` that is not (N, C, H, W) or declares more than
    max_values values; the members eval does not read are never loaded, so they are not judged."""

    def check(member: str, header: NpyHeader) -> str | None:
        if member != key:
            return None
        if len(header.shape) != OUTPUT_RANK:
            return f"{key} has shape {header.shape}; expected (N, C, H, W) with the batch dimension kept, as vamp writes"
        if header.values > max_values:
            return (f"{key} declares shape {header.shape} ({header.values} values), over the {max_values} its ground truth "
                    f"allows ({OUTPUT_VALUES_PER_GT_PIXEL}x its pixels); not an output of this datalist's model")
        return None

    return check


def read_output_y(path: Path, max_values: int | None = None) -> np.ndarray:
    """The vendor's reader: output_0[0][0] as float32, clipped to [0, 1], x255, rounded to uint8.

    max_values (output_values_limit): refused from the header, before loading, when larger.
    """
    check = output_header_check(OUTPUT_KEY, max_values) if max_values is not None else None
    arrays = load_input_npz(path, keys=(OUTPUT_KEY,), check=check)
    if OUTPUT_KEY not in arrays:
        raise InputError(f"{path}: no key {OUTPUT_KEY} (keys: {', '.join(sorted(read_npz_headers(path)))})")
    return output_y(arrays[OUTPUT_KEY], f"{path}: {OUTPUT_KEY}")


def output_y(output: np.ndarray, where: str) -> np.ndarray:
    """One model output as the vendor reads it: [0][0] as float32, clipped to [0, 1], x255, rounded to uint8.

    `where` names the output in messages (the npz file and key, or the image and model output).
    """
    if output.ndim != 4 or 0 in output.shape[:2]:
        raise InputError(f"{where} has shape {output.shape}; expected (N, C, H, W) with the batch dimension kept, as vamp writes")
    if not np.issubdtype(output.dtype, np.number) or np.issubdtype(output.dtype, np.complexfloating):
        raise InputError(f"{where} has dtype {output.dtype}; expected a real number type")
    plane = output[0][0].astype(np.float32)  # the plane first: the other channels are never converted
    if not np.isfinite(plane).all():
        raise InputError(f"{where} holds NaN or infinite values")
    y_u8: np.ndarray = np.round(np.clip(plane, 0.0, 1.0) * 255.0).astype(np.uint8)
    return y_u8


def check_size(path: Path | str, plane: np.ndarray, gt_y: np.ndarray, rule: str) -> None:
    if plane.shape != gt_y.shape:
        height, width = plane.shape
        raise InputError(f"{path}: is {height}x{width} (HxW) but the ground truth is compared at {gt_y.shape[0]}x{gt_y.shape[1]} ({rule})")


def score_planes(sr_y: np.ndarray, source_y: np.ndarray, gt_y: np.ndarray, shave_px: int, gt_path: Path) -> EvalScores:
    try:
        return EvalScores(
            psnr_y(sr_y, gt_y, shave_px), ssim_y(sr_y, gt_y, shave_px),
            psnr_y(source_y, gt_y, shave_px), ssim_y(source_y, gt_y, shave_px),
        )
    except ValueError as exc:
        raise InputError(f"{gt_path}: cannot score at this size: {exc} (lower --scale?)") from None


def mean_metrics(images: Sequence[ScoredImage]) -> dict[str, float]:
    """The mean of each metric over the images that have it, in the order the images name them: one
    definition of the mean for eval, infer and every --preset (a convention without SSIM has no
    ssim in any image, so none in the mean)."""
    names = dict.fromkeys(name for image in images for name in image.metrics)
    return {name: float(np.mean([image.metrics[name] for image in images if name in image.metrics])) for name in names}
