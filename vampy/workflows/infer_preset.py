"""`vampy infer --preset NAME` / `--scoring FILE`: the streamed images scored as `eval --preset NAME` scores them.

The pipeline of vampy/workflows/infer.py is unchanged; a `PresetPlan` swaps three of its steps
for the npz route's own code, so the scores equal image2npz --preset + run --datalist + eval --preset:

    decode   image2npz --preset's recipe (vampy/data/image2npz.py PREP_PRESETS: OpenCV RGB CHW at
             native size, ecbsr's truncated SRCNN Y three times, or the Pillow chains of fsrnet /
             pfsrnet / sparnet / realsr), then the vdsp file; the ground truth's path by the
             preset's name rule (vampy/quality/conventions.gt_name)
    model    the output the preset reads (output_K is the model's K-th output, as run --datalist names it)
    write    vampy/quality/conventions: output check, decode, ground truth at the compare size, score;
             --save_dir gets eval --draw_dir's picture

ecbsr (layout y_chroma): the model's Y is recoloured by eval's own decode_y_chroma with the chroma
of the input image itself (eval's --lr_dir image), resized to the model's input size (the vdsp
file's or --input_shape: what eval's --input_shape stands for; with --native the image's own
size). The Y output must be 1 channel and twice that size.

realsr: the input images are the originals (image2npz --preset realsr's --dataset_path): each is
fed as its PIL-bicubic LR-128, and its ground truth is --hr_image_dir/NAME.png made into the
PIL-bicubic HR-512 as image2npz writes to --hr_path, in memory. --hr_image_dir is the originals'
folder again, or the folder image2npz --hr_path wrote (512x512 already: Pillow's resize to the
same size is a copy), and either gives eval --preset realsr's scores.

Refused with a line naming the fix: drrn/vdsr (their Y convention is infer's own, without --preset).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vampy.config import Image2NpzConfig, InferConfig
from vampy.data.image2npz import PREP_PRESETS, REALSR_HR_PX, REALSR_LR_PX, open_pil, prepare_image, realsr_image
from vampy.data.imaging import encode_png, image_to_chw
from vampy.errors import InputError, UsageError
from vampy.formats.files import write_bytes_atomic
from vampy.models.info import ModelInfo
from vampy.quality.conventions import Y_CHROMA_SCALE, decode_rgb, decode_y_chroma, gt_name, output_array, read_gt, score
from vampy.quality.evaluate import mean_metrics
from vampy.quality.preset_eval import drawable, preset_metrics, resolve_scoring
from vampy.quality.presets import Scoring
from vampy.results.schema import InferFailure, InferPresetReport, InferTiming, ScoredImage

_OUTPUT_KEY = re.compile(r"output_(\d+)$")


@dataclass(frozen=True)
class PresetPlan:
    scoring: Scoring
    recipe: str  # the image2npz --preset recipe the images go through
    output_index: int  # which model output the preset reads
    compare_hw: tuple[int, int] | None  # gt_size input_shape: --input_shape or the preset's default
    chroma_hw: tuple[int, int] | None = None  # y_chroma: the model's input size (None: each image's own, --native)


def preset_plan(cfg: InferConfig, info: ModelInfo, mode: str, model_hw: tuple[int, int] | None = None) -> PresetPlan | None:
    """The plan for cfg's --preset / --scoring, checked against the model; None without either.

    model_hw: the size the vdsp file (or --input_shape) resizes the images to, None at native size.
    """
    s = resolve_scoring(cfg.preset, cfg.scoring_path)
    if s is None:
        return None
    if s.legacy_y:
        raise UsageError(f"--preset {s.name}: its Y-channel convention is what vampy infer scores without --preset; "
                         f"drop --preset and give --scale {s.shave_px}")
    if s.layout == "y":
        raise UsageError(f"scoring {s.name}: layout y is scored by the drrn/vdsr convention, vampy infer without --preset; "
                         "use layout rgb or y_chroma")
    # A --scoring file names no recipe: a y_chroma one is fed as ecbsr (the only family that scores
    # so), anything else as plain RGB.
    recipe = PREP_PRESETS.get(cfg.preset or "") or ("ecbsr_y3" if s.layout == "y_chroma" else "rgb")
    if s.layout == "rgb" and mode != "rgb":
        raise UsageError(f"--preset {s.name}: the model's input {info.inputs[0].name} has 1 channel; "
                         "the preset scores RGB models (N, 3, H, W)")
    match = _OUTPUT_KEY.match(s.output_key)
    if match is None:
        raise UsageError(f"scoring {s.name}: output_key {s.output_key!r} must be output_K "
                         "(the model's K-th output, as run --datalist names it)")
    index = int(match.group(1))
    if index >= len(info.outputs):
        raise UsageError(f"--preset {s.name} reads {s.output_key}, but the model has {len(info.outputs)} output(s)")
    if s.layout == "y_chroma":
        _check_y_output(s, info, index)
    if recipe == "realsr" and (s.gt_resize != "none" or s.gt_size != "output"):
        raise UsageError(f"scoring {s.name}: the realsr ground truth is image2npz's HR-{REALSR_HR_PX}, compared as it is; "
                         "keep gt_resize none and gt_size output")
    compare_hw = cfg.input_hw or s.default_input_hw if s.gt_size == "input_shape" else None
    if s.gt_size == "input_shape" and compare_hw is None:
        raise UsageError(f"preset {s.name}: compares at --input_shape H W; give it")
    return PresetPlan(s, recipe, index, compare_hw, model_hw if s.layout == "y_chroma" else None)


def _check_y_output(s: Scoring, info: ModelInfo, index: int) -> None:
    """A y_chroma preset reads a Y output (N, 1, 2H, 2W): refuse a model whose output says otherwise."""
    tensor = info.outputs[index]
    shape = tuple(tensor.shape)
    if (len(shape) and len(shape) != 4) or (len(shape) == 4 and shape[1] not in (None, 1)):
        dims = "x".join("?" if d is None else str(d) for d in shape)
        twin = "; an RGB-output ECBSR is --preset ecbsr-basicsr" if s.name == "ecbsr" else ""
        raise UsageError(f"--preset {s.name} reads {s.output_key} as Y (N, 1, 2H, 2W), "
                         f"but the model's output '{tensor.name}' is {dims}{twin}")


def preset_chw(pp: PresetPlan, path: Path, source_bgr: np.ndarray) -> np.ndarray:
    """The npz image2npz --preset would write for this image (uint8 CHW)."""
    if pp.recipe == "rgb":
        return image_to_chw(source_bgr, "rgb", "opencv")
    if pp.recipe == "realsr":  # image2npz's chain without its --hr_path write (the writer makes the HR from --hr_image_dir)
        return np.ascontiguousarray(_realsr_rgb(path, REALSR_LR_PX).transpose(2, 0, 1))
    # The other chains read the file themselves, as the family's script does; they use no other field.
    cfg = Image2NpzConfig(dataset_dir=str(path.parent), pattern=path.name, target_dir=".", datalist_path=".", preset=pp.recipe)
    return prepare_image(pp.recipe, path, cfg, f"{path.stem}.npz")


def _realsr_rgb(path: Path, side_px: int) -> np.ndarray:
    """image2npz --preset realsr's image: convert('RGB'), PIL bicubic to side x side, read back as RGB (HxWx3 uint8)."""
    return np.asarray(realsr_image(open_pil(path), side_px))


def preset_gt_path(pp: PresetPlan, gt_dir: Path, stem: str) -> Path:
    s = pp.scoring
    path = gt_dir / gt_name(stem, s)
    if not path.is_file():
        what = f"; with realsr --hr_image_dir holds the originals the HR-{REALSR_HR_PX} is made from" if pp.recipe == "realsr" else ""
        raise InputError(f"{path}: no ground truth for {stem} (preset {s.name}: {s.name_rule} + {s.gt_suffix}){what}")
    return path


def _ground_truth(pp: PresetPlan, gt_path: Path, size_hw: tuple[int, int]) -> np.ndarray:
    """eval's ground truth (uint8 HxWx3, the record's colour order); realsr's as image2npz writes it and eval reads it."""
    s = pp.scoring
    if pp.recipe != "realsr":
        return read_gt(gt_path, s, size_hw)
    rgb = _realsr_rgb(gt_path, REALSR_HR_PX)  # the PNG image2npz saves is lossless: the array eval reads back
    return np.ascontiguousarray(rgb[:, :, ::-1] if s.colour == "bgr" else rgb)


def _decode(pp: PresetPlan, out: np.ndarray, source_bgr: np.ndarray, where: str) -> np.ndarray:
    """The output as eval --preset decodes it: RGB, or Y recoloured with the input image's chroma (eval's --lr_dir image)."""
    s = pp.scoring
    if s.layout != "y_chroma":
        return decode_rgb(out, s)
    if out.shape[1] != 1:
        raise InputError(f"{where}: {s.output_key} has shape {out.shape}; preset {s.name} reads Y (1, 1, 2H, 2W)")
    model_hw = pp.chroma_hw or (int(source_bgr.shape[0]), int(source_bgr.shape[1]))
    want_hw = (Y_CHROMA_SCALE * model_hw[0], Y_CHROMA_SCALE * model_hw[1])
    if tuple(out.shape[2:]) != want_hw:
        raise InputError(f"{where}: Y output is {out.shape[2]}x{out.shape[3]} for a {model_hw[0]}x{model_hw[1]} model input; "
                         f"preset {s.name} recolours x{Y_CHROMA_SCALE} outputs ({want_hw[0]}x{want_hw[1]})")
    return decode_y_chroma(out, source_bgr, model_hw, s, where)


def score_preset(
    pp: PresetPlan, index: int, source: Path, source_bgr: np.ndarray, gt_path: Path, output: np.ndarray, save_dir: str | None,
) -> ScoredImage:
    """eval --preset's steps on one model output (batch dimension kept): decode, ground truth, score, picture."""
    s = pp.scoring
    where = f"{source}: model output {s.output_key}"
    pred = _decode(pp, output_array({s.output_key: output}, s, where), source_bgr, where)
    size_hw = pp.compare_hw or pred.shape[:2]
    gt = _ground_truth(pp, gt_path, (int(size_hw[0]), int(size_hw[1])))
    if gt.shape != pred.shape:
        rule = f"image2npz --preset realsr's HR-{REALSR_HR_PX}" if pp.recipe == "realsr" else "--input_shape"
        raise InputError(f"{source}: decoded output is {pred.shape[0]}x{pred.shape[1]} but the ground truth is compared at "
                         f"{gt.shape[0]}x{gt.shape[1]} (preset {s.name}: {rule})")
    psnr_db, ssim = score(pred, gt, s)
    output_path = None
    if save_dir is not None:
        output_path = str(write_bytes_atomic(Path(save_dir), f"{source.stem}.png", encode_png(drawable(pred, s))))
    return ScoredImage(index=index, name=source.stem, output_path=output_path, source_path=str(source), gt_path=str(gt_path),
                       height_px=gt.shape[0], width_px=gt.shape[1], metrics=preset_metrics(psnr_db, ssim))


def warm_score(pp: PresetPlan, output: np.ndarray | None) -> None:
    """The writer's calls on the warm-up output, before the clock (best effort)."""
    if output is None:
        return
    try:
        out = output_array({pp.scoring.output_key: output}, pp.scoring, "warm-up")
        half_hw = (max(1, out.shape[2] // Y_CHROMA_SCALE), max(1, out.shape[3] // Y_CHROMA_SCALE))
        pred = _decode(pp, out, np.zeros((*(pp.chroma_hw or half_hw), 3), np.uint8), "warm-up")
        score(pred, pred.astype(np.uint8), pp.scoring)
        encode_png(drawable(pred, pp.scoring))
    except Exception:  # noqa: BLE001 - best effort: the images' own problems are reported as they come
        return


def preset_report(
    pp: PresetPlan, base: dict[str, Any], images: Sequence[ScoredImage], failures: Sequence[InferFailure], timing: InferTiming,
) -> InferPresetReport:
    """The report; `base` holds config, model, mode, intra_threads, notes and engine as infer's own report has them."""
    return InferPresetReport(
        config=base["config"], model=base["model"], mode=base["mode"], intra_threads=base["intra_threads"], preset=pp.scoring.name,
        scoring=pp.scoring.to_dict(), images=tuple(images), metrics=mean_metrics(images), failures=tuple(failures), timing=timing,
        saved=sum(1 for i in images if i.output_path), deviations=pp.scoring.deviations, notes=base["notes"], engine=base["engine"],
    )
