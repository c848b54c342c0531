"""`vampy eval --preset NAME` / `--scoring FILE`: score outputs the way one zoo family's script does.

Pairing is the scripts' (SR-ZOO.md Q1): datalist line i goes with sorted(out_npz_dir/*.npz)[i], and
the ground-truth name comes from the datalist line's stem (Q18), by the record's name rule. The
counts must match. One image that cannot be scored (ground truth missing, an output without the
record's key or of the wrong shape) is listed in failures, naming the file, and the rest are
scored (the CLI exits 6); none scored is an InputError. drrn/vdsr (convention E) go to today's
Y-channel eval (vampy/quality/evaluate.py), which is that convention.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from vampy.config import EvalConfig
from vampy.data.imaging import encode_png, read_image
from vampy.errors import InputError
from vampy.formats.datalist import read_datalist
from vampy.formats.files import make_output_dir, write_bytes_atomic
from vampy.formats.npz import load_input_npz, read_npz_headers
from vampy.progress import NullProgress, Progress
from vampy.quality.conventions import decode_rgb, decode_y_chroma, drawable, gt_name, image_size_hw, output_array, read_gt, score
from vampy.quality.evaluate import evaluate, mean_metrics, output_header_check, output_values_limit
from vampy.quality.families import FAMILY_PRESETS, family_preset
from vampy.quality.family_eval import evaluate_family
from vampy.quality.presets import Scoring, get_preset, load_scoring, real_esrgan_preset
from vampy.results.schema import EvalPresetReport, EvalReport, FileProblem, ScoredImage


def resolve_scoring(preset: str | None, scoring_path: str | None, model_type: str | None = None) -> Scoring | None:
    """The record a config asks for: the preset, overridden by the --scoring file's fields; None: neither."""
    if preset is None and scoring_path is None:
        return None
    base = None
    if preset is not None:
        base = real_esrgan_preset(model_type) if preset == "real_esrgan" else get_preset(preset, tuple(FAMILY_PRESETS))
    return load_scoring(scoring_path, base) if scoring_path else base


def run_eval(cfg: EvalConfig, progress: Progress | None = None) -> EvalReport | EvalPresetReport:
    """`vampy eval`: today's Y-channel eval without a preset, else the preset's convention."""
    family = family_preset(cfg.preset)
    if family is not None:  # classification, segmentation, salient objects, low light, colorization
        return evaluate_family(cfg, family, progress)
    scoring = resolve_scoring(cfg.preset, cfg.scoring_path, cfg.model_type)
    if scoring is None:
        return evaluate(cfg, progress)
    if scoring.legacy_y:
        legacy = replace(cfg, pair_by_order=True, input_hw=cfg.input_hw or scoring.default_input_hw, shave_px=scoring.shave_px)
        return replace(evaluate(legacy, progress), preset=scoring.name, deviations=scoring.deviations)
    return evaluate_preset(cfg, scoring, progress)


def evaluate_preset(cfg: EvalConfig, s: Scoring, progress: Progress | None = None) -> EvalPresetReport:
    progress = progress or NullProgress()
    entries = read_datalist(Path(cfg.datalist))
    outputs = _sorted_outputs(Path(cfg.outputs_dir), len(entries), cfg.datalist)
    input_hw = cfg.input_hw or s.default_input_hw
    if s.layout == "y_chroma" and not cfg.lr_dir:
        raise InputError(f"preset {s.name}: --lr_dir is required (its LR images give the chroma the Y output is recoloured with)")
    if s.gt_size == "input_shape" and input_hw is None:
        raise InputError(f"preset {s.name}: compares at --input_shape H W; give it")
    if cfg.draw_dir is not None:
        make_output_dir(Path(cfg.draw_dir), "--draw_dir")
    images: list[ScoredImage] = []
    failures: list[FileProblem] = []
    progress.start("eval", len(entries))
    for entry, output in zip(entries, outputs):
        stem = entry.path.stem
        try:
            pred, gt, gt_path = _pair_arrays(cfg, s, output, stem, input_hw)
            psnr_db, ssim = score(pred, gt, s)
        except InputError as exc:
            failures.append(FileProblem(str(output), str(exc)))
        else:
            images.append(ScoredImage(
                index=entry.index, name=stem, output_path=str(output), source_path=str(entry.path), gt_path=str(gt_path),
                height_px=gt.shape[0], width_px=gt.shape[1], metrics=preset_metrics(psnr_db, ssim),
            ))
            if cfg.draw_dir is not None:
                write_bytes_atomic(Path(cfg.draw_dir), f"{stem}.png", encode_png(drawable(pred, s)))
        progress.advance()
    progress.finish()
    if not images:
        raise InputError(f"no image could be scored ({len(failures)} failed); the first: {failures[0].reason}")
    return EvalPresetReport(
        config=cfg.to_dict(), preset=s.name, scoring=s.to_dict(), images=tuple(images), metrics=mean_metrics(images),
        failures=tuple(failures), drawn=len(images) if cfg.draw_dir else 0, deviations=s.deviations,
    )


def preset_metrics(psnr_db: float, ssim: float | None) -> dict[str, float]:
    """One image's metrics by a convention: PSNR, and SSIM where the convention has one (no null in `metrics`)."""
    return {"psnr_db": psnr_db} if ssim is None else {"psnr_db": psnr_db, "ssim": ssim}


def _sorted_outputs(outputs_dir: Path, lines: int, datalist: str) -> list[Path]:
    if not outputs_dir.is_dir():
        raise InputError(f"--out_npz_dir {outputs_dir}: no such folder")
    outputs = sorted(p for p in outputs_dir.glob("*.npz") if p.is_file())
    if len(outputs) != lines:
        raise InputError(
            f"--out_npz_dir {outputs_dir}: {len(outputs)} npz files for {lines} lines of {datalist}; outputs pair with "
            "datalist lines by sorted order, so the counts must match (a partial run? see failures.json there)"
        )
    return outputs


def _pair_arrays(
    cfg: EvalConfig, s: Scoring, output: Path, stem: str, input_hw: tuple[int, int] | None,
) -> tuple[np.ndarray, np.ndarray, Path]:
    """(decoded output, ground truth at the compare size, the ground truth's path)."""
    gt_path = Path(cfg.gt_dir) / gt_name(stem, s)
    if not gt_path.is_file():
        raise InputError(f"{gt_path}: no ground truth for datalist line {stem} (preset {s.name}: {s.name_rule} + {s.gt_suffix})")
    # The ground truth's size first: it bounds what the output may declare before it is loaded.
    limit = output_values_limit(image_size_hw(gt_path), input_hw)
    arrays = load_input_npz(output, keys=(s.output_key,), check=output_header_check(s.output_key, limit))
    if s.output_key not in arrays:
        arrays = {key: np.empty(0) for key in read_npz_headers(output)}  # names only, for output_array's message
    out = output_array(arrays, s, str(output))
    if s.layout == "y_chroma":
        lr_path = Path(str(cfg.lr_dir)) / f"{stem}.png"
        pred = decode_y_chroma(out, read_image(lr_path), input_hw or (out.shape[2] // 2, out.shape[3] // 2), s, str(output))
    elif s.layout == "y":
        raise InputError(f"scoring {s.name}: layout y is scored by the drrn/vdsr presets (legacy_y: true)")
    else:
        pred = decode_rgb(out, s)
    size_hw = input_hw if s.gt_size == "input_shape" and input_hw else pred.shape[:2]
    gt = read_gt(gt_path, s, (int(size_hw[0]), int(size_hw[1])))
    if gt.shape != pred.shape:
        raise InputError(f"{output}: decoded output is {pred.shape[0]}x{pred.shape[1]} but the ground truth is compared at "
                         f"{gt.shape[0]}x{gt.shape[1]} (preset {s.name}: --input_shape)")
    return pred, gt, gt_path
