"""`vampy compile --dry_run`: what a compile would do, from the config alone.

Reads neither the checkpoint nor the dataset: files are only looked up, and a missing one is
reported in the plan, not fatal. The vdsp file, when given and present, is parsed (that is part of
understanding the command). Also the grouping of ignored vendor keys into note lines.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from vampy.config import CompileConfig

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
        elif cfg.dataset is not None:
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
        "output_dir": str(cfg.output_dir),
        "model_path": str(cfg.output_dir / "mod.onnx"),
        "calibration": _calibration(cfg),
        "extra_ops_applied": [{"type": op.kind, "axis": op.axis} for op in cfg.extra_ops],
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
        data = {"origin": "dataset", "path": ds.path, "suffixes": list(ds.suffixes), "pattern": ds.pattern,
                "max_samples": ds.max_samples, "process_ops": [type(op).__name__[:-2] for op in ds.ops]}
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


def _vdsp(path: str | None) -> dict[str, Any] | None:
    if path is None or not Path(path).is_file():
        return None
    from vampy.formats.vdsp import load_vdsp

    spec = load_vdsp(path)
    return {"normalisation": spec.norm.value, "mean": list(spec.mean) if spec.mean else None,
            "std": list(spec.std) if spec.std else None, "passthrough": spec.passthrough}


__all__ = ["PLAN_SCHEMA_VERSION", "compile_plan", "ignored_notes"]
