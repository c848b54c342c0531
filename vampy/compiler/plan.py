"""`vampy compile --dry_run`: what a compile would do, from the config alone.

Reads neither the checkpoint nor the dataset: files are only looked up, and a missing one is
reported in the plan, not fatal. The vdsp file, when given and present, is parsed (that is part of
understanding the command). Also the grouping of ignored vendor keys into note lines.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

from vampy.config import (
    CenterCropOp,
    ChannelSplitOp,
    CompileConfig,
    CvtColorOp,
    DecodeImageOp,
    ExtraOp,
    NormalizeOp,
    PadOp,
    ProcessOp,
    ResizeOp,
)

PLAN_SCHEMA_VERSION = 1
MAX_KEYS_PER_NOTE = 8


def ignored_notes(cfg: CompileConfig) -> list[str]:
    """One note per reason (a real file has ~30 device options): 'ignored vendor-only key(s) a, b: reason'."""
    by_reason: dict[str, list[str]] = defaultdict(list)
    for key, reason in zip(cfg.ignored_keys, cfg.ignored_reasons or ("vendor-only",) * len(cfg.ignored_keys)):
        by_reason[reason].append(key)
    notes = []
    for reason, keys in by_reason.items():
        shown = ", ".join(keys[:MAX_KEYS_PER_NOTE]) + (f" (+{len(keys) - MAX_KEYS_PER_NOTE} more)" if len(keys) > MAX_KEYS_PER_NOTE else "")
        notes.append(f"ignored vendor-only key{'s' if len(keys) > 1 else ''} {shown}: {reason}")
    return notes


def compile_plan(cfg: CompileConfig) -> dict[str, Any]:
    """The resolved plan as plain data (the --dry_run JSON)."""
    files = {"frontend.checkpoint": cfg.checkpoint}
    if cfg.precision == "int8":
        if cfg.calib_datalist is not None:
            files["--calib_datalist"] = cfg.calib_datalist
        elif cfg.dataset is not None and cfg.dataset.path is not None:
            files["dataset.path"] = cfg.dataset.path
    if cfg.vdsp_params is not None:
        files["--vdsp_params"] = cfg.vdsp_params
    missing = [f"{key} {path}" for key, path in files.items() if not Path(path).exists()]
    return {
        "schema_version": PLAN_SCHEMA_VERSION,
        "source": cfg.source,
        "name": cfg.name,
        "precision": cfg.precision,
        "checkpoint": cfg.checkpoint,
        "frontend_dtype": cfg.frontend_dtype,
        "input_shapes": {name: list(shape) for name, shape in cfg.input_shapes},
        "input_shape_ranges": {name: {"min": list(low), "max": list(high)} for name, low, high in cfg.input_shape_ranges},
        "output_dir": str(cfg.output_dir),
        "model_path": str(cfg.output_dir / "mod.onnx"),
        "calibration": _calibration(cfg),
        "extra_ops_applied": [_extra_op(op) for op in cfg.extra_ops],
        "ignored_keys": [
            {"key": k, "reason": r} for k, r in zip(cfg.ignored_keys, cfg.ignored_reasons or ("vendor-only",) * len(cfg.ignored_keys))
        ],
        "unused_keys": list(cfg.unused_keys),
        "warnings": list(cfg.warnings),
        "notes": list(cfg.notes),
        "files": {key: {"path": path, "exists": Path(path).exists()} for key, path in files.items()},
        "missing_files": missing,
        "vdsp": _vdsp(cfg.vdsp_params),
    }


def _extra_op(op: ExtraOp) -> dict[str, Any]:
    """softmax: its axis; yolov5_nms: its decode params and N (the head layout is known only from the model)."""
    if op.nms is None:
        return {"type": op.kind, "axis": op.axis}
    return {"type": op.kind, **{key: list(v) if isinstance(v, tuple) else v for key, v in asdict(op.nms).items()}}


def _calibration(cfg: CompileConfig) -> dict[str, Any] | None:
    if cfg.precision != "int8":
        return None
    q = cfg.quantize
    data: dict[str, Any]
    if cfg.calib_datalist is not None:
        data = {"origin": "datalist", "datalist": cfg.calib_datalist}
    else:
        assert cfg.dataset is not None, "CompileConfig guarantees a dataset or a datalist for int8"
        ds = cfg.dataset
        data = {"origin": "dataset", "kind": ds.kind, "path": ds.path, "suffixes": list(ds.suffixes), "pattern": ds.pattern,
                "max_samples": ds.max_samples, "process_ops": [_op_dict(op) for op in ds.ops],
                "steps": [describe_op(op) for op in ds.ops] or (["each npz holds the model's inputs (by name, or input_0..N)"]
                                                                if ds.kind == "npz" else [])}
    float_nodes = [{"key": "backend.quantize.skip_layers", "among": "conv", "items": list(q.skip_layers)}] if q.skip_layers else []
    float_nodes += [{"key": f.key, "among": f.among, "items": list(f.items)} for f in q.float_nodes]
    return {
        "method": q.calibrate_mode,
        "per_channel": q.per_channel,
        "percentile": q.calibrate_range * 100.0 if q.calibrate_mode == "percentile" else None,
        "activation_type": q.activation_type,
        "num_bins": q.num_bins,
        "data": data,
        "nodes_kept_in_float": float_nodes,
    }


def _op_dict(op: ProcessOp) -> dict[str, Any]:
    """One process op as vampy reads it: its type and its fields (sizes as (width, height))."""
    fields = {name: list(value) if isinstance(value, tuple) else value for name, value in asdict(op).items()}  # as JSON has them
    return {"type": type(op).__name__[:-2], **fields}


def describe_op(op: ProcessOp) -> str:
    """What vampy does for one process op, in words (the --dry_run plan's `steps`)."""
    if isinstance(op, DecodeImageOp):
        return f"decode {'to one gray plane' if op.grayscale else 'to RGB'} with {'Pillow' if op.backend == 'pillow' else 'OpenCV'}"
    if isinstance(op, ResizeOp):
        return _describe_resize(op)
    if isinstance(op, PadOp):
        target = "a square" if op.pad_to_square else f"{op.size_wh[0]}x{op.size_wh[1]} (w x h)" if op.size_wh else "its size"
        value = op.value if op.value is not None else "the vdsp letterbox's value (114, or --vdsp_params's Padding)"
        return f"pad centred to {target}, as the vdsp letterbox pads, with {value}"
    if isinstance(op, CenterCropOp):
        corner = "rounded, as Pillow/torchvision" if op.backend == "pillow" else "floored"
        return f"centre crop {op.size_wh[0]}x{op.size_wh[1]} (w x h), corner {corner}"
    if isinstance(op, NormalizeOp):
        return _NORM_WORDS["raw" if op.raw_by_choice else op.norm]
    if isinstance(op, CvtColorOp):
        return f"cv2.cvtColor {op.code}"
    if isinstance(op, ChannelSplitOp):
        return f"keep channel {op.index}"
    return "HWC -> CHW float32, batch axis added to fit the model"


_NORM_WORDS = {"none": "normalisation left to the device: --vdsp_params's is put in (else raw 0..255, with a warning)",
               "raw": "raw pixel values 0..255 (div255: false)", "unit": "x / 255", "mean_std": "(x - mean) / std on 0..255",
               "unit_mean_std": "(x / 255 - mean) / std", "symmetric": "x / 127.5 - 1"}


def _describe_resize(op: ResizeOp) -> str:
    width, height = op.size_wh
    how = f"{op.interpolation} ({'Pillow' if op.backend == 'pillow' else 'OpenCV'})"
    if op.adaptive_side == "long":
        return f"resize to fit inside {width}x{height} (w x h), aspect ratio kept, rounded as the vdsp letterbox, {how}"
    if op.adaptive_side == "short":
        return f"resize to cover {width}x{height} (w x h): the short side onto it, aspect ratio kept, {how}"
    if 0 in (width, height):
        side = f"height {height}" if width == 0 else f"width {width}"
        return f"resize to {side}, the other side by the aspect ratio, {how}"
    return f"resize to {width}x{height} (w x h), {how}"


def _vdsp(path: str | None) -> dict[str, Any] | None:
    if path is None or not Path(path).is_file():
        return None
    from vampy.formats.vdsp import load_vdsp

    spec = load_vdsp(path)
    return {"normalisation": spec.norm.value, "mean": list(spec.mean) if spec.mean else None,
            "std": list(spec.std) if spec.std else None, "passthrough": spec.passthrough}


__all__ = ["PLAN_SCHEMA_VERSION", "compile_plan", "describe_op", "ignored_notes"]
