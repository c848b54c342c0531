"""ONNX Runtime's model-building tools, for `vampy compile`: the only place the compiler's ORT use lives.

- optimise_fp32: EXTENDED graph optimisation, saved with `optimized_model_filepath`. Not
  ENABLE_ALL: its NCHWc layout transform is tied to the SIMD width of the CPU that ran it (AVX2 and
  AVX-512 block channels differently), so a saved ALL model is only safe on that machine.
  EXTENDED's fusions (Conv+ReLU -> FusedConv, ...) run on any ORT CPU build, and the runtime still
  applies the layout transforms when `vampy run` loads the model.
- convert_fp16: onnxruntime.transformers.float16 with keep_io_types (callers keep feeding float32).
- pre_process: quant_pre_process (shape inference, BASIC optimisation).
- write_augmented_model: the model with every tensor the quantizer needs a range for as an
  output (ORT's own selection); running it is the Engine's job (vampy.engines.base).
- histogram_thresholds: ORT's HistogramCollector (entropy, percentile) on histograms given here.
- quantize_qdq: quantize_static, QDQ, with every range given as a TensorQuantOverride.

ORT's quantization tools print() and log to the root logger; the engine never prints, so prints
are swallowed around each call and log warnings are kept as notes (capture_ort_logs).
"""
from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from vampy.errors import MAX_REASON_CHARS, ModelError, first_line

MAX_LOG_NOTES = 10
KL_QUANTIZED_BINS = 128  # ORT's EntropyCalibrater default
# A histogram as ORT's HistogramCollector keeps it: (counts, edges, min, max[, threshold]).
Histogram = tuple[Any, ...]


def ort_version() -> str:
    import onnxruntime

    return str(onnxruntime.__version__)


@contextlib.contextmanager
def capture_ort_logs(notes: list[str]) -> Iterator[None]:
    """ORT's quantization tools log warnings to the root logger: keep them off the terminal and
    append each distinct first line (at most MAX_LOG_NOTES) to notes as 'onnxruntime: ...'."""
    handler = _NoteHandler(notes)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


class _NoteHandler(logging.Handler):
    def __init__(self, notes: list[str]) -> None:
        super().__init__(logging.WARNING)
        self._notes = notes
        self._seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().strip().splitlines()[0] if record.getMessage().strip() else ""
        if text and text not in self._seen and len(self._seen) < MAX_LOG_NOTES:
            self._seen.add(text)
            self._notes.append(f"onnxruntime: {text}")


def _unprinted() -> contextlib.AbstractContextManager[Any]:
    """ORT's calibrators print() their progress; only around ORT calls, so a caller's progress
    object may still write to stdout."""
    return contextlib.redirect_stdout(io.StringIO())


def optimise_fp32(source: Path, target: Path, label: str) -> None:
    """source -> target with ORT's EXTENDED (portable) graph optimisations; ModelError starting with label."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED  # portable: see module doc
    options.optimized_model_filepath = str(target)
    options.log_severity_level = 3
    try:
        ort.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT raises several pybind types
        raise ModelError(f"{label}: ONNX Runtime cannot load it to optimise: {first_line(exc, MAX_REASON_CHARS)}") from None


def convert_fp16(model: onnx.ModelProto, label: str) -> onnx.ModelProto:
    """fp16 weights and activations, float32 inputs and outputs; ModelError starting with label."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    try:
        with _unprinted():
            return convert_float_to_float16(model, keep_io_types=True)
    except Exception as exc:  # noqa: BLE001 - the converter raises whatever its checks hit
        raise ModelError(f"{label}: the fp16 converter rejects the model: {first_line(exc, MAX_REASON_CHARS)}") from None


def pre_process(source: Path, target: Path) -> str | None:
    """ORT's recommended quant_pre_process into target; None when done, else why it was skipped.
    Symbolic shape inference needs sympy, which vampy does not depend on."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        with _unprinted():
            quant_pre_process(str(source), str(target), skip_symbolic_shape=True)
    except Exception as exc:  # noqa: BLE001 - an optional step: the caller quantizes the model as given
        return first_line(exc, MAX_REASON_CHARS)
    return None


def write_augmented_model(source: Path, target: Path) -> tuple[str, ...]:
    """Write source with every tensor quantize_static will want a range for (the op types it
    quantizes by default) added as outputs; returns those tensors' names in output order."""
    from onnxruntime.quantization.calibrate import EntropyCalibrater
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    op_types = sorted(set(QLinearOpsRegistry) | set(QDQRegistry))  # what quantize_static uses by default
    with _unprinted():
        # The Entropy calibrator's graph exposes the tensors themselves (MinMax's only reductions).
        calibrator = EntropyCalibrater(source, op_types, augmented_model_path=str(target))
        calibrator.augment_graph()
    wanted = set(calibrator.tensors_to_calibrate or ())
    return tuple(o.name for o in calibrator.model.graph.output if o.name in wanted)


def histogram_thresholds(
    method: str, hists: Mapping[str, Histogram], num_bins: int, percentile: float
) -> dict[str, tuple[float, float]]:
    """ORT's own threshold search ('entropy' or 'percentile') on histograms already collected."""
    from onnxruntime.quantization.calibrate import HistogramCollector

    collector = HistogramCollector(method=method, symmetric=method == "percentile", num_bins=num_bins,
                                   num_quantized_bins=KL_QUANTIZED_BINS, percentile=percentile, scenario="same")
    collector.histogram_dict = dict(hists)
    with _unprinted():
        result = collector.compute_collection_result()
    return {name: (float(np.asarray(v[0]).item()), float(np.asarray(v[1]).item())) for name, v in result.items()}


class _FeedReader:
    """The CalibrationDataReader protocol (ORT checks for get_next only)."""

    def __init__(self, feeds: Sequence[Mapping[str, np.ndarray]]) -> None:
        self._feeds = iter(feeds)

    def get_next(self) -> Mapping[str, np.ndarray] | None:
        return next(self._feeds, None)


def quantize_qdq(
    source: Path, target: Path, first_feed: Mapping[str, np.ndarray], ranges: Mapping[str, tuple[float, float]],
    per_channel: bool, activation_type: str, excluded: Sequence[str],
) -> None:
    """quantize_static, QDQ, int8 weights, uint8 or int8 activations, with ranges as overrides.
    Every calibrated tensor is overridden, so its own MinMax pass over one feed only satisfies its
    API; it decides nothing. Raises whatever the quantizer raises (the caller words it)."""
    overrides = {name: [{"rmin": np.float32(lo), "rmax": np.float32(hi)}] for name, (lo, hi) in ranges.items()}
    with _unprinted():
        _quantize_static(source, target, first_feed, overrides, per_channel, activation_type, list(excluded))


def _quantize_static(
    source: Path, target: Path, first_feed: Mapping[str, np.ndarray], overrides: dict[str, Any],
    per_channel: bool, activation_type: str, excluded: list[str],
) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    quantize_static(
        str(source), str(target), _FeedReader([first_feed]),
        quant_format=QuantFormat.QDQ,
        per_channel=per_channel,
        activation_type=QuantType.QUInt8 if activation_type == "uint8" else QuantType.QInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=excluded,
        extra_options={"TensorQuantOverrides": overrides},
    )


__all__ = [
    "Histogram", "capture_ort_logs", "convert_fp16", "histogram_thresholds", "optimise_fp32", "ort_version",
    "pre_process", "quantize_qdq", "write_augmented_model",
]
