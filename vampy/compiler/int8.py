"""int8: calibration feeds -> ORT's quant_pre_process -> ranges (vampy.compiler.ranges) -> QDQ quantize_static.

quantize_static gets the ranges as TensorQuantOverrides (QDQ, int8 weights, optional per-channel,
uint8 or int8 activations); the calibration record goes into mod.json.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx

from vampy.compiler.calibration_data import Samples, calibration_samples, check_range
from vampy.compiler.common import BuildLog
from vampy.compiler.nms_build import NODE_PREFIX as NMS_NODE_PREFIX
from vampy.compiler.ranges import Ranges, calibrate, histogram_bins
from vampy.config import CompileConfig, FloatNodes, QuantizeConfig
from vampy.engines import ort_build
from vampy.errors import MAX_REASON_CHARS, InputError, ModelError, VampyError, first_line
from vampy.progress import Progress

_ORT_METHODS = {
    "max": "MinMax",
    "kl_divergence": "Entropy",
    "percentile": "Percentile",
    "mse": "MSE search on an Entropy-style histogram (vampy)",
}


def build_int8(
    source: Path, model: onnx.ModelProto, cfg: CompileConfig, work: Path, progress: Progress, log: BuildLog
) -> tuple[Path, dict[str, Any]]:
    """source (the saved fp32 model) -> work/int8.onnx, and the calibration record."""
    samples = calibration_samples(cfg, model, log)
    prepared = _pre_process(source, work, log)
    excluded = excluded_nodes(prepared, cfg)
    decode = nms_nodes(prepared, excluded)
    if decode:
        log.notes.append(f"the {len(decode)} nodes of the NMS extra op (decode, NonMaxSuppression) kept in float")
    q = cfg.quantize
    target = work / "int8.onnx"
    try:
        ranges, input_range = calibrate(prepared, samples, q, work, progress)
        ort_build.quantize_qdq(prepared, target, samples.make(0), ranges, q.per_channel, q.activation_type, excluded + decode)
    except VampyError:
        raise
    except Exception as exc:  # noqa: BLE001 - the quantizer raises anything from ValueError to pybind errors
        raise ModelError(f"{cfg.checkpoint}: the int8 quantizer rejects the model: {first_line(exc, MAX_REASON_CHARS)}") from None
    check_range(samples, input_range, log)
    return target, calibration_record(samples, q, excluded, ranges, input_range)


def _pre_process(source: Path, work: Path, log: BuildLog) -> Path:
    """ORT's recommended pre-processing (folds BatchNorm into Conv, ...); optional: skipped with a note."""
    target = work / "prepared.onnx"
    reason = ort_build.pre_process(source, target)
    if reason is not None:
        log.notes.append(f"quantization pre-processing skipped ({reason})")
        return source
    return target


_AMONG = {"conv": ("Conv", "ConvTranspose"), "matmul": ("MatMul", "Gemm")}


def excluded_nodes(model_path: Path, cfg: CompileConfig) -> list[str]:
    """Nodes kept in float, by name: backend.quantize.skip_layers (names, or integers = indices among
    the Conv nodes), skip_conv_layers, skip_matmul_layers, exclude_layers (all nodes), ops_usingfp (op types)."""
    graph = onnx.load(str(model_path), load_external_data=False).graph
    selectors = [FloatNodes("backend.quantize.skip_layers", "conv", cfg.quantize.skip_layers), *cfg.quantize.float_nodes]
    excluded: list[str] = []
    for selector in selectors:
        for name in _select(graph, selector, cfg.source):
            if name not in excluded:
                excluded.append(name)
    return excluded


def nms_nodes(model_path: Path, excluded: list[str]) -> list[str]:
    """The NMS extra op's nodes (compiler/nms_ops.py), kept float: its boxes in 8 bits would move by pixels."""
    graph = onnx.load(str(model_path), load_external_data=False).graph
    return [node.name for node in graph.node if node.name.startswith(NMS_NODE_PREFIX) and node.name not in excluded]


def _select(graph: onnx.GraphProto, sel: FloatNodes, source: str) -> list[str]:
    names = [n.name for n in graph.node]
    if sel.among == "op_type":
        wanted = {str(item).lower() for item in sel.items}
        return [n.name for n in graph.node if n.op_type.lower() in wanted]
    pool = [n.name for n in graph.node if sel.among == "all" or n.op_type in _AMONG[sel.among]]
    label = {"conv": "Conv", "matmul": "MatMul/Gemm", "all": ""}[sel.among]
    out = []
    for k, item in enumerate(sel.items):
        key = f"{source}: {sel.key}[{k}]"
        if isinstance(item, int):
            if not -len(pool) <= item < len(pool):
                kind = f"{label} " if label else ""
                raise InputError(f"{key}: {label or 'node'} index {item} but the model has {len(pool)} {kind}node(s) (0 is the first)")
            out.append(pool[item])
        elif item in names:
            out.append(item)
        elif fused := [n for n in names if n.startswith(f"{item}/")]:
            out += fused  # ORT's pre-processing names a fused node after its first part (fc1 -> fc1/MatMulAddFusion)
        else:
            raise InputError(f"{key}: no node named {item!r} (some node names: {', '.join(names[:6])})")
    return out


def calibration_record(
    samples: Samples, q: QuantizeConfig, excluded: list[str], ranges: Ranges, input_range: tuple[float, float]
) -> dict[str, Any]:
    """mod.json's `calibration`."""
    return {
        "method": q.calibrate_mode,
        "onnxruntime_method": _ORT_METHODS[q.calibrate_mode],
        "histogram_bins": histogram_bins(q),
        "percentile": q.calibrate_range * 100.0 if q.calibrate_mode == "percentile" else None,
        "per_channel": q.per_channel,
        "quant_format": "QDQ",
        "activation_type": q.activation_type,
        "weight_type": "int8",
        "samples": samples.count,
        "origin": samples.origin,
        "files": list(samples.names),
        "normalisation": samples.normalisation,
        "input_range": list(input_range),
        "runtime_input_range": list(samples.runtime_range) if samples.runtime_range else None,
        "skipped_nodes": excluded,
        "tensor_ranges": {name: [lo, hi] for name, (lo, hi) in sorted(ranges.items())},
    }


__all__ = ["build_int8", "calibration_record", "excluded_nodes", "nms_nodes"]
