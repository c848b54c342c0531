"""Colorization and low-light presets (ZOO-EVAL.md 2.6: CZ-1, LLE-1, LLE-2): PSNR/SSIM as the SR scripts of the same code.

Each preset's `PixelScoring` holds an SR `Scoring` (presets.py): the output decode, the ground truth
(`<name><suffix>` resized to the output's size with OpenCV's bilinear) and the vendor PSNR/SSIM are
conventions.py's, so CZ-1 is scored exactly as SR gpen and LLE-1 as bicubic_plusplus. pairlie first
forms its image as L ** 0.2 * R from output_0 (L) and output_1 (R) in float32, as its script does.
Per-image rows hold `psnr` and `ssim`; `metrics` are their means (`mean_psnr`, `mean_ssim`), as printed.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from vampy.config import EvalConfig
from vampy.data.imaging import encode_png
from vampy.errors import InputError
from vampy.formats.datalist import read_datalist
from vampy.formats.files import make_output_dir, write_bytes_atomic
from vampy.formats.npz import HeaderCheck, NpyHeader, load_input_npz, read_npz_headers
from vampy.progress import Progress
from vampy.quality.conventions import decode_rgb, drawable, gt_name, image_size_hw, output_array, read_gt
from vampy.quality.evaluate import output_header_check, output_values_limit
from vampy.quality.families import FamilyPreset, PixelScoring
from vampy.quality.family_report import family_report, paired
from vampy.quality.metrics import SSIM_WINDOW_PX, psnr_vendor, ssim_vendor
from vampy.results.schema import EvalPresetReport, FileProblem, ScoredImage

# An output may be larger than its ground truth (which is resized to it): allow this many pixels whatever the ground truth's size.
OUTPUT_FLOOR_HW = (2048, 2048)


def evaluate_pixels(cfg: EvalConfig, preset: FamilyPreset, p: PixelScoring, progress: Progress) -> EvalPresetReport:
    """Score every paired output against its ground truth; the means are the script's last line."""
    pairs, failures = paired(read_datalist(Path(cfg.datalist)), Path(cfg.outputs_dir))
    if cfg.draw_dir is not None:
        make_output_dir(Path(cfg.draw_dir), "--draw_dir")
    images: list[ScoredImage] = []
    progress.start("eval", len(pairs))
    for entry, output in pairs:
        stem = entry.path.stem
        gt_path = Path(cfg.gt_dir) / gt_name(stem, p.scoring)
        try:
            pred = decode(output, p, gt_path)
            gt = read_gt(gt_path, p.scoring, (int(pred.shape[0]), int(pred.shape[1])))
            psnr, ssim = psnr_ssim(pred, gt)
        except InputError as exc:
            failures.append(FileProblem(str(output), str(exc)))
        else:
            images.append(ScoredImage(index=entry.index, name=stem, output_path=str(output), source_path=entry.text, gt_path=str(gt_path),
                                      height_px=gt.shape[0], width_px=gt.shape[1], metrics={"psnr": psnr, "ssim": ssim}))
            if cfg.draw_dir is not None:  # the script's cv2.imwrite(<name>.png): float pixels rounded, as OpenCV does
                write_bytes_atomic(Path(cfg.draw_dir), f"{stem}.png", encode_png(drawable(pred, p.scoring)))
        progress.advance()
    progress.finish()
    metrics = mean_psnr_ssim(images) if images else {}
    return family_report(cfg, preset, images, metrics, failures, len(images) if cfg.draw_dir else 0)


def psnr_ssim(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """The scripts' calculate_psnr and calculate_ssim; below 11 px the SSIM's valid crop [5:-5] is empty and the script's
    mean of it is nan, so nan it is (inf PSNR for identical images, as printed)."""
    ssim = ssim_vendor(pred, gt) if min(pred.shape[:2]) >= SSIM_WINDOW_PX else math.nan
    return psnr_vendor(pred, gt), ssim


def mean_psnr_ssim(images: list[ScoredImage]) -> dict[str, float]:
    """np.mean of the per-image lists, as the scripts print it (inf when one image is identical to its ground truth)."""
    return {"mean_psnr": float(np.mean([i.metrics["psnr"] for i in images])),
            "mean_ssim": float(np.mean([i.metrics["ssim"] for i in images]))}


def decode(output: Path, p: PixelScoring, gt_path: Path) -> np.ndarray:
    """The output as the script's HxWx3 pixels (BGR), from output_0, or pairlie's L ** gamma * R."""
    s = p.scoring
    if not gt_path.is_file():
        raise InputError(f"{gt_path}: no ground truth for {output.name} (preset {s.name}: <name>{s.gt_suffix})")
    # The ground truth's size first: it bounds what the output may declare before it is loaded.
    limit = output_values_limit(image_size_hw(gt_path), OUTPUT_FLOOR_HW)
    keys = (s.output_key,) if p.illumination_gamma is None else (s.output_key, p.reflectance_key)
    arrays = load_input_npz(output, keys=keys, check=_check_all(keys, limit))
    if any(key not in arrays for key in keys):
        arrays = {key: np.empty(0) for key in read_npz_headers(output)}  # names only, for the message
    if p.illumination_gamma is None:
        return decode_rgb(output_array(arrays, s, str(output)), s)
    return decode_rgb(retinex(arrays, p, str(output)), s)


def retinex(arrays: dict[str, np.ndarray], p: PixelScoring, where: str) -> np.ndarray:
    """pairlie: np.power(L, 0.2) * R in float32, (1, 3, H, W); L < 0 is taken as 0 (the script's NaN, a deviation)."""
    for key in (p.scoring.output_key, p.reflectance_key):
        if key not in arrays:
            raise InputError(f"{where}: no key {key} (keys: {', '.join(sorted(arrays))}); preset {p.scoring.name} reads L from "
                             f"{p.scoring.output_key} and R from {p.reflectance_key}")
    light = arrays[p.scoring.output_key].astype(np.float32)
    reflectance = output_array(arrays, dataclasses.replace(p.scoring, output_key=p.reflectance_key), where).astype(np.float32)
    if light.ndim != 4 or light.shape[:2] != (1, 1) or light.shape[2:] != reflectance.shape[2:]:
        raise InputError(f"{where}: {p.scoring.output_key} (L) has shape {light.shape}; expected (1, 1, H, W) with {p.reflectance_key}'s "
                         f"H, W {reflectance.shape[2:]}")
    if not np.isfinite(light).all():
        raise InputError(f"{where}: {p.scoring.output_key} (L) holds NaN or infinite values")
    gamma = np.float32(p.illumination_gamma or 1.0)
    product: np.ndarray = np.power(np.maximum(light, np.float32(0)), gamma) * reflectance
    return product


def _check_all(keys: tuple[str, ...], limit: int) -> HeaderCheck:
    """output_header_check for every key read (each refused from its header when too large or not 4-D)."""
    checks = [output_header_check(key, limit) for key in keys]

    def check(member: str, header: NpyHeader) -> str | None:
        return next((problem for one in checks if (problem := one(member, header))), None)

    return check
