"""`vampy infer --preset NAME` / `--scoring FILE`: the streamed images scored as `eval --preset NAME` scores them.

The pipeline of vampy/workflows/infer.py is unchanged; a `PresetPlan` swaps three of its steps
for the npz route's own code, so the scores equal image2npz --preset + run --datalist + eval --preset:

    decode   image2npz --preset's recipe (vampy/data/image2npz.py PREP_PRESETS: OpenCV RGB CHW at
             native size, or the Pillow chains of fsrnet / pfsrnet / sparnet), then the vdsp file;
             the ground truth's path by the preset's name rule (vampy/quality/conventions.gt_name)
    model    the output the preset reads (output_K is the model's K-th output, as run --datalist names it)
    write    vampy/quality/conventions: output check, decode, ground truth at the compare size, score;
             --save_dir gets eval --draw_dir's picture

Refused with a line naming the npz route: drrn/vdsr (their Y convention is infer's own, without
--preset), ecbsr (Y recoloured with --lr_dir chroma) and realsr (its image2npz writes the ground truth).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vampy.config import Image2NpzConfig, InferConfig
from vampy.data.image2npz import PREP_PRESETS, _prepare
from vampy.data.imaging import encode_png, image_to_chw
from vampy.errors import InputError, UsageError
from vampy.formats.files import write_bytes_atomic
from vampy.models.info import ModelInfo
from vampy.quality.conventions import decode_rgb, gt_name, output_array, read_gt, score
from vampy.quality.preset_eval import _drawable, resolve_scoring
from vampy.quality.presets import Scoring
from vampy.report.schema import InferFailure, InferPresetImage, InferPresetReport, InferTiming

_OUTPUT_KEY = re.compile(r"output_(\d+)$")


@dataclass(frozen=True)
class PresetPlan:
    scoring: Scoring
    recipe: str  # the image2npz --preset recipe the images go through
    output_index: int  # which model output the preset reads
    compare_hw: tuple[int, int] | None  # gt_size input_shape: --input_shape or the preset's default


def preset_plan(cfg: InferConfig, info: ModelInfo, mode: str) -> PresetPlan | None:
    """The plan for cfg's --preset / --scoring, checked against the model; None without either."""
    s = resolve_scoring(cfg.preset, cfg.scoring_path)
    if s is None:
        return None
    route = f"image2npz --preset {s.name}, run --datalist, eval --preset {s.name}"
    if s.legacy_y:
        raise UsageError(f"--preset {s.name}: its Y-channel convention is what vampy infer scores without --preset; drop --preset and give --scale {s.shave_px}")
    if s.layout != "rgb":
        raise UsageError(f"--preset {s.name}: a {s.layout} output is not scored by vampy infer; use the npz route: {route}")
    recipe = PREP_PRESETS.get(cfg.preset or "", "rgb")
    if recipe == "realsr":
        raise UsageError(f"--preset realsr: its image2npz writes the HR-512 ground truth it is scored against; use the npz route: {route}")
    if mode != "rgb":
        raise UsageError(f"--preset {s.name}: the model's input {info.inputs[0].name} has 1 channel; the preset scores RGB models (N, 3, H, W)")
    match = _OUTPUT_KEY.match(s.output_key)
    if match is None:
        raise UsageError(f"scoring {s.name}: output_key {s.output_key!r} must be output_K (the model's K-th output, as run --datalist names it)")
    index = int(match.group(1))
    if index >= len(info.outputs):
        raise UsageError(f"--preset {s.name} reads {s.output_key}, but the model has {len(info.outputs)} output(s)")
    compare_hw = cfg.input_hw or s.default_input_hw if s.gt_size == "input_shape" else None
    if s.gt_size == "input_shape" and compare_hw is None:
        raise UsageError(f"preset {s.name}: compares at --input_shape H W; give it")
    return PresetPlan(s, recipe, index, compare_hw)


def preset_chw(pp: PresetPlan, path: Path, source_bgr: np.ndarray) -> np.ndarray:
    """The npz image2npz --preset would write for this image (uint8 CHW)."""
    if pp.recipe == "rgb":
        return image_to_chw(source_bgr, "rgb", "opencv")
    # The Pillow chains read the file themselves, as the family's script does; they use no other field.
    cfg = Image2NpzConfig(dataset_dir=str(path.parent), pattern=path.name, target_dir=".", datalist_path=".", preset=pp.recipe)
    return _prepare(pp.recipe, path, cfg, f"{path.stem}.npz")


def preset_gt_path(pp: PresetPlan, gt_dir: Path, stem: str) -> Path:
    s = pp.scoring
    path = gt_dir / gt_name(stem, s)
    if not path.is_file():
        raise InputError(f"{path}: no ground truth for {stem} (preset {s.name}: {s.name_rule} + {s.gt_suffix})")
    return path


def score_preset(pp: PresetPlan, index: int, source: Path, gt_path: Path, output: np.ndarray, save_dir: str | None) -> InferPresetImage:
    """eval --preset's steps on one model output (batch dimension kept): decode, ground truth, score, picture."""
    s = pp.scoring
    out = output_array({s.output_key: output}, s, f"{source}: model output {s.output_key}")
    pred = decode_rgb(out, s)
    size_hw = pp.compare_hw or pred.shape[:2]
    gt = read_gt(gt_path, s, (int(size_hw[0]), int(size_hw[1])))
    if gt.shape != pred.shape:
        raise InputError(f"{source}: decoded output is {pred.shape[0]}x{pred.shape[1]} but the ground truth is compared at "
                         f"{gt.shape[0]}x{gt.shape[1]} (preset {s.name}: --input_shape)")
    psnr_db, ssim = score(pred, gt, s)
    output_path = None
    if save_dir is not None:
        output_path = str(write_bytes_atomic(Path(save_dir), f"{source.stem}.png", encode_png(_drawable(pred, s))))
    return InferPresetImage(index, source.stem, str(source), str(gt_path), output_path, gt.shape[0], gt.shape[1], psnr_db, ssim)


def warm_score(pp: PresetPlan, output: np.ndarray | None) -> None:
    """The writer's calls on the warm-up output, before the clock (best effort)."""
    if output is None:
        return
    try:
        pred = decode_rgb(output_array({pp.scoring.output_key: output}, pp.scoring, "warm-up"), pp.scoring)
        score(pred, pred.astype(np.uint8), pp.scoring)
        encode_png(_drawable(pred, pp.scoring))
    except Exception:  # noqa: BLE001 - best effort: the images' own problems are reported as they come
        return


def preset_report(
    pp: PresetPlan, base: dict[str, Any], images: Sequence[InferPresetImage], failures: Sequence[InferFailure], timing: InferTiming,
) -> InferPresetReport:
    """The report; `base` holds config, model, mode, intra_threads, notes and engine as infer's own report has them."""
    ssims = [i.ssim for i in images if i.ssim is not None]
    return InferPresetReport(
        config=base["config"], model=base["model"], mode=base["mode"], intra_threads=base["intra_threads"], preset=pp.scoring.name,
        scoring=pp.scoring.to_dict(), images=tuple(images), mean_psnr_db=float(np.mean([i.psnr_db for i in images])),
        mean_ssim=float(np.mean(ssims)) if ssims else None, failures=tuple(failures), timing=timing,
        saved=sum(1 for i in images if i.output_path), deviations=pp.scoring.deviations, notes=base["notes"], engine=base["engine"],
    )
