"""`vampy compile`: an ONNX model -> fp32 (graph-optimised), fp16 or int8 (static QDQ), on ONNX Runtime.

- fp32: ONNX Runtime's EXTENDED graph optimisation, saved with `optimized_model_filepath`.
  Not ENABLE_ALL: its NCHWc layout transform is tied to the SIMD width of the CPU that ran it
  (AVX2 and AVX-512 block channels differently), so a saved ALL model is only safe on that
  machine. EXTENDED's fusions (Conv+ReLU -> FusedConv, ...) run on any ONNX Runtime CPU build,
  and the runtime still applies the layout transforms when `vampy run` loads the model.
- fp16: onnxruntime.transformers.float16 with keep_io_types, so callers keep feeding float32.
- int8: calibration ranges computed here, sample by sample (bounded memory, a progress step per
  sample), then `quantize_static` (QDQ, int8 weights, optional per-channel) with those ranges as
  TensorQuantOverrides. Why not let quantize_static calibrate: it keeps every intermediate tensor
  of every sample in memory (about 0.7 GB per 256x256 VDSR sample) and has no `mse` mode.
  Modes, reproducing ONNX Runtime's own calibrators on the same histograms:
    max            min/max of each tensor (MinMaxCalibrater)
    kl_divergence  ORT's entropy calibrator; with its default 128 bins (and 128 quantized bins)
                   the search has a single candidate, the full range, so it equals max; set
                   backend.quantize.num_bins (e.g. 2048) for the TensorRT-style search
    percentile     ORT's percentile calibrator (histogram of |x|, 2048 bins) at calibrate_range
    mse            not in ORT (its 4th method, Distribution, is for float8 and gives no int8
                   range): the clipping range minimising the expected squared quantization error
                   (clipping + uniform rounding noise step^2/12) over a 2048-bin histogram

Calibration tensors come from the YAML's process_ops (DecodeImage yields RGB), completed with
the vdsp file's normalisation when given, or from --calib_datalist npz files (through the vdsp
preprocessing, exactly as `vampy run --datalist` feeds them). The engine never prints: ORT's
quantization tools print and log, and both are captured into the result's notes.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

from vampy import __version__
from vampy.config import (
    CenterCropOp,
    ChannelSplitOp,
    CompileConfig,
    CvtColorOp,
    DatasetConfig,
    DecodeImageOp,
    NormalizeOp,
    PadOp,
    ProcessOp,
    QuantizeConfig,
    ResizeOp,
    ToTensorOp,
)
from vampy.errors import InputError, ModelError, OutputError, VampyError
from vampy.models.info import FLOPS_PER_MAC
from vampy.models.resolve import file_sha256
from vampy.progress import NullProgress, Progress
from vampy.report.schema import CompileResult, write_json

if TYPE_CHECKING:
    from vampy.formats.vdsp import PreprocessSpec

MODEL_FILE = "mod.onnx"
METADATA_FILE = "mod.json"
UINT8_MAX = 255.0
QUANT_LEVELS = 256  # uint8 and int8 activations both have 256 levels
DEFAULT_BINS = {"kl_divergence": 128, "percentile": 2048, "mse": 2048}  # ORT's defaults; mse: ours
KL_QUANTIZED_BINS = 128  # ORT's EntropyCalibrater default
MSE_CANDIDATES = 128
# A calibration range this far outside the run-time range (as a share of it) gets a warning.
RANGE_TOLERANCE = 0.05
MAX_LOG_NOTES = 10
# vamc's norm_type spellings, for messages and mod.json.
_NORM_LABELS = {"none": "None", "unit": "div255", "mean_std": "minusmean_divstd",
                "unit_mean_std": "div255_minusmean_divstd", "symmetric": "div127.5_minus1"}
_ORT_METHODS = {
    "max": "MinMax",
    "kl_divergence": "Entropy",
    "percentile": "Percentile",
    "mse": "MSE search on an Entropy-style histogram (vampy)",
}


@dataclass
class _Log:
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Samples:
    """Calibration feeds, made on demand so memory stays one sample deep."""

    origin: str  # "dataset" or "datalist"
    names: tuple[str, ...]  # the files used, for the metadata
    count: int  # number of feeds (batches)
    make: Callable[[int], dict[str, np.ndarray]]
    normalisation: str
    runtime_range: tuple[float, float] | None  # what the run-time preprocessing produces


# --- entry point ---


def compile_model(cfg: CompileConfig, progress: Progress | None = None, clock: Callable[[], float] = time.perf_counter) -> CompileResult:
    """Build `<workspace>/<name>/mod.onnx` and `mod.json`; every failure is one VampyError line."""
    progress = progress or NullProgress()
    start_s = clock()
    log = _Log(notes=[f"ignored vendor-only key: {key}" for key in cfg.ignored_keys]
               + [f"not used for {cfg.precision}: {key}" for key in cfg.unused_keys])
    checkpoint = Path(cfg.checkpoint)
    model = _load_checkpoint(cfg, checkpoint)
    _fix_input_shapes(model, cfg)
    _check_frontend_dtype(model, cfg)
    with tempfile.TemporaryDirectory(prefix="vampy-compile-") as tmp, _quiet_ort(log):
        built, calibration = _BUILDERS[cfg.precision](model, cfg, Path(tmp), progress, log)
        _check_loadable(built)
        target = _publish(built, cfg.output_dir)
    macs, params = _macs_params(model, log)
    result = _describe(cfg, checkpoint, target, calibration, (macs, params), log, compile_time_s=clock() - start_s)
    write_json(cfg.output_dir / METADATA_FILE, result.to_dict())
    return result


def _describe(
    cfg: CompileConfig, checkpoint: Path, target: Path, calibration: dict[str, Any] | None,
    macs_params: tuple[int | None, int | None], log: _Log, compile_time_s: float,
) -> CompileResult:
    built = onnx.load(str(target), load_external_data=False)
    return CompileResult(
        name=cfg.name,
        precision=cfg.precision,
        model_path=str(target),
        source={"checkpoint": str(checkpoint), "sha256": file_sha256(checkpoint), "size_bytes": checkpoint.stat().st_size},
        output={"sha256": file_sha256(target), "size_bytes": target.stat().st_size},
        inputs=[_tensor_dict(v) for v in _graph_inputs(built)],
        outputs=[_tensor_dict(v) for v in built.graph.output],
        calibration=calibration,
        node_counts=dict(sorted(Counter(n.op_type for n in built.graph.node).items())),
        macs=macs_params[0],
        params=macs_params[1],
        flops_per_mac=FLOPS_PER_MAC,
        compile_time_s=compile_time_s,
        versions=_versions(),
        config=_config_dict(cfg),
        ignored_keys=list(cfg.ignored_keys),
        warnings=log.warnings,
        notes=log.notes,
    )


# --- source model ---


def _load_checkpoint(cfg: CompileConfig, path: Path) -> onnx.ModelProto:
    if not path.is_file():
        raise InputError(
            f"{cfg.source}: frontend.checkpoint {path}: no such file (relative paths start at the current folder)"
        )
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - protobuf raises several types; all mean "not ONNX"
        raise ModelError(f"{cfg.source}: frontend.checkpoint {path}: not a readable ONNX model ({_first_line(exc)})") from None
    # skip_layers and the quantizer address nodes by name; unnamed nodes get stable names.
    for index, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{index}"
    return model


def _graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    initializers = {i.name for i in model.graph.initializer}
    return [v for v in model.graph.input if v.name not in initializers]


def _dims(value: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in value.type.tensor_type.shape.dim]


def _fmt(dims: Sequence[int | str | None]) -> str:
    return "(" + ",".join("?" if d is None else str(d) for d in dims) + ")"


def _fix_input_shapes(model: onnx.ModelProto, cfg: CompileConfig) -> None:
    """frontend.shape fixes dynamic dims; symbolic names shared with outputs are fixed there too."""
    inputs = {v.name: v for v in _graph_inputs(model)}
    symbols: dict[str, int] = {}
    for name, dims in cfg.input_shapes:
        if name not in inputs:
            raise InputError(f"{cfg.source}: frontend.shape.{name}: the model has no input {name!r} (its inputs: {', '.join(inputs)})")
        _fix_one(inputs[name], dims, symbols, cfg)
    for value in [*model.graph.output, *model.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_param") and dim.dim_param in symbols:
                dim.dim_value = symbols[dim.dim_param]


def _fix_one(value: onnx.ValueInfoProto, dims: tuple[int, ...], symbols: dict[str, int], cfg: CompileConfig) -> None:
    shape = value.type.tensor_type.shape
    current = _dims(value)
    misfit = ModelError(f"{cfg.source}: frontend.shape.{value.name} {list(dims)} does not fit the model input {value.name!r} {_fmt(current)}")
    if current and len(current) != len(dims):
        raise misfit
    if not current:
        shape.dim.extend(onnx.TensorShapeProto.Dimension() for _ in dims)
    for dim, wanted in zip(shape.dim, dims):
        if dim.HasField("dim_value") and dim.dim_value not in (0, wanted):
            raise misfit
        if dim.HasField("dim_param") and dim.dim_param:
            symbols[dim.dim_param] = wanted
        dim.dim_value = wanted


def _check_frontend_dtype(model: onnx.ModelProto, cfg: CompileConfig) -> None:
    wanted = {"fp32": onnx.TensorProto.FLOAT, "fp16": onnx.TensorProto.FLOAT16}[cfg.frontend_dtype]
    for value in _graph_inputs(model):
        elem = value.type.tensor_type.elem_type
        if elem in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16) and elem != wanted:
            actual = "fp32" if elem == onnx.TensorProto.FLOAT else "fp16"
            raise InputError(f"{cfg.source}: frontend.dtype {cfg.frontend_dtype}, but the model input {value.name!r} is {actual}; write dtype: {actual}")
    if cfg.precision != "fp32" and wanted != onnx.TensorProto.FLOAT:
        raise InputError(f"{cfg.source}: backend.dtype {cfg.precision} starts from an fp32 model; frontend.dtype is {cfg.frontend_dtype}")


# --- the three precisions ---


def _save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def _build_fp32(model: onnx.ModelProto, cfg: CompileConfig, work: Path, progress: Progress, log: _Log) -> tuple[Path, None]:
    import onnxruntime as ort

    source = _save(model, work / "source.onnx")
    target = work / "fp32.onnx"
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED  # portable: see module doc
    options.optimized_model_filepath = str(target)
    options.log_severity_level = 3
    progress.start("optimising the fp32 graph", None)
    try:
        ort.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT raises several pybind types
        raise ModelError(f"{cfg.checkpoint}: ONNX Runtime cannot load it to optimise: {_first_line(exc)}") from None
    progress.finish()
    return target, None


def _build_fp16(model: onnx.ModelProto, cfg: CompileConfig, work: Path, progress: Progress, log: _Log) -> tuple[Path, None]:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    progress.start("converting to fp16", None)
    try:
        converted = convert_float_to_float16(model, keep_io_types=True)
    except Exception as exc:  # noqa: BLE001 - the converter raises whatever its checks hit
        raise ModelError(f"{cfg.checkpoint}: the fp16 converter rejects the model: {_first_line(exc)}") from None
    progress.finish()
    return _save(converted, work / "fp16.onnx"), None


def _build_int8(model: onnx.ModelProto, cfg: CompileConfig, work: Path, progress: Progress, log: _Log) -> tuple[Path, dict[str, Any]]:
    samples = _calibration_samples(cfg, model, log)
    prepared = _pre_process(_save(model, work / "source.onnx"), work, log)
    excluded = _excluded_nodes(prepared, cfg)
    q = cfg.quantize
    try:
        ranges, input_range = _calibrate(prepared, samples, q, work, progress)
        _quantize(prepared, work / "int8.onnx", samples.make(0), ranges, q, excluded)
    except VampyError:
        raise
    except Exception as exc:  # noqa: BLE001 - the quantizer raises anything from ValueError to pybind errors
        raise ModelError(f"{cfg.checkpoint}: the int8 quantizer rejects the model: {_first_line(exc)}") from None
    _check_range(samples, input_range, log)
    return work / "int8.onnx", _calibration_dict(samples, q, excluded, ranges, input_range)


_BUILDERS: dict[str, Callable[[onnx.ModelProto, CompileConfig, Path, Progress, _Log], tuple[Path, dict[str, Any] | None]]] = {
    "fp32": _build_fp32,
    "fp16": _build_fp16,
    "int8": _build_int8,
}


# --- calibration data ---


def _calibration_samples(cfg: CompileConfig, model: onnx.ModelProto, log: _Log) -> _Samples:
    spec = _load_spec(cfg.vdsp_params)
    inputs = _graph_inputs(model)
    if cfg.calib_datalist is not None:
        samples = _datalist_samples(cfg, inputs, spec, log)
    else:
        assert cfg.dataset is not None, "CompileConfig guarantees a dataset or a datalist for int8"
        samples = _dataset_samples(cfg, cfg.dataset, inputs, spec, log)
    _check_fit(cfg, samples, inputs)
    return samples


def _load_spec(vdsp_params: str | None) -> PreprocessSpec | None:
    if vdsp_params is None:
        return None
    from vampy.formats.vdsp import load_vdsp

    return load_vdsp(vdsp_params)


def _check_fit(cfg: CompileConfig, samples: _Samples, inputs: list[onnx.ValueInfoProto]) -> None:
    """The first feed against the model's inputs, before any slow work (both shapes in the message)."""
    feed = samples.make(0)
    for value in inputs:
        model_dims = _dims(value)
        fed = feed[value.name].shape
        if len(fed) != len(model_dims) or any(isinstance(m, int) and m not in (0, f) for m, f in zip(model_dims, fed)):
            origin = "dataset.process_ops" if samples.origin == "dataset" else f"--calib_datalist {cfg.calib_datalist}"
            raise ModelError(
                f"{cfg.source}: {origin} produce {_fmt(fed)} for input {value.name!r} (from {samples.names[0]}) "
                f"but the model takes {_fmt(model_dims)}; fix the Resize/CenterCrop/ChannelSplit ops or frontend.shape"
            )


def _batch_size(value: onnx.ValueInfoProto) -> int:
    dims = _dims(value)
    return dims[0] if dims and isinstance(dims[0], int) and dims[0] > 1 else 1


def _dataset_samples(cfg: CompileConfig, ds: DatasetConfig, inputs: list[onnx.ValueInfoProto], spec: PreprocessSpec | None, log: _Log) -> _Samples:
    if len(inputs) != 1:
        raise InputError(f"{cfg.source}: dataset: process_ops make one tensor but the model has {len(inputs)} inputs; use --calib_datalist")
    files = _dataset_files(cfg, ds, log)
    ops, normalisation, runtime = _complete_ops(cfg, ds.ops, spec, log)
    value = inputs[0]
    batch = _batch_size(value)
    _check_op_codes(cfg, ops)

    def make(index: int) -> dict[str, np.ndarray]:
        tensors = [_image_tensor(cfg, files[k], ops) for k in range(index * batch, index * batch + batch)]
        return {value.name: _as_model_input(tensors, value)}

    return _Samples("dataset", tuple(p.name for p in files), _feed_count(cfg, len(files), batch), make, normalisation, runtime)


def _feed_count(cfg: CompileConfig, n_files: int, batch: int) -> int:
    if n_files < batch:
        raise InputError(f"{cfg.source}: {n_files} calibration sample(s) but the model's fixed batch is {batch}; add samples")
    return n_files // batch


def _as_model_input(tensors: list[np.ndarray], value: onnx.ValueInfoProto) -> np.ndarray:
    dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
    # Samples without a batch axis are stacked; samples that carry one are concatenated.
    batched = np.stack(tensors) if len(_dims(value)) == tensors[0].ndim + 1 else np.concatenate(tensors)
    return batched.astype(dtype, copy=False)


def _dataset_files(cfg: CompileConfig, ds: DatasetConfig, log: _Log) -> list[Path]:
    from vampy.data.imaging import IMAGE_SUFFIXES

    folder = Path(ds.path)
    if not folder.is_dir():
        raise InputError(f"{cfg.source}: dataset.path {folder}: no such folder (relative paths start at the current folder)")
    suffixes = tuple(f".{s}" for s in ds.suffixes) or IMAGE_SUFFIXES
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes and fnmatch(p.name, ds.pattern))
    if not files:
        raise InputError(
            f"{cfg.source}: dataset.path {folder}: the calibration set is empty: no file ends in {', '.join(suffixes)} "
            f"and matches dataset.sampler.pattern {ds.pattern!r}"
        )
    if ds.max_samples is not None and len(files) < ds.max_samples:
        log.notes.append(f"dataset.sampler.get_data_num is {ds.max_samples} but {len(files)} file(s) match; calibrating on {len(files)}")
    return files[: ds.max_samples] if ds.max_samples is not None else files


def _datalist_samples(cfg: CompileConfig, inputs: list[onnx.ValueInfoProto], spec: PreprocessSpec | None, log: _Log) -> _Samples:
    from vampy.formats.npz import load_input_npz
    from vampy.formats.datalist import read_datalist

    entries = read_datalist(Path(cfg.calib_datalist or ""))
    batch = _batch_size(inputs[0])
    if spec is None:
        log.notes.append("--calib_datalist without --vdsp_params: npz arrays are fed to the model as they are")

    def make(index: int) -> dict[str, np.ndarray]:
        arrays = [load_input_npz(e.path) for e in entries[index * batch : index * batch + batch]]
        return {v.name: _as_model_input([_npz_tensor(cfg, a, k, v, spec) for a in arrays], v) for k, v in enumerate(inputs)}

    runtime = _norm_range(NormalizeOp(spec.norm.value, spec.mean, spec.std)) if spec is not None and not spec.passthrough else None
    normalisation = f"{_NORM_LABELS[spec.norm.value]} from --vdsp_params {cfg.vdsp_params}" if spec is not None else "none (npz as is)"
    names = tuple(e.path.name for e in entries)
    return _Samples("datalist", names, _feed_count(cfg, len(entries), batch), make, normalisation, runtime)


def _npz_tensor(cfg: CompileConfig, arrays: dict[str, np.ndarray], k: int, value: onnx.ValueInfoProto, spec: PreprocessSpec | None) -> np.ndarray:
    """Input k of one npz, as `vampy run --datalist` would feed it (vdsp preprocessing, first planes)."""
    key = f"input_{k}"
    if key not in arrays:
        raise InputError(f"--calib_datalist {cfg.calib_datalist}: an npz has no {key!r} (keys: {', '.join(arrays)}) for model input {value.name!r}")
    raw = arrays[key]
    dims = _dims(value)
    if spec is None or spec.passthrough or raw.dtype != np.uint8 or len(dims) != 4:
        return raw[0] if raw.ndim == len(dims) and raw.shape[0] == 1 else raw
    from vampy.data.preprocess import preprocess

    out_hw = spec.output_hw or ((dims[2], dims[3]) if isinstance(dims[2], int) and isinstance(dims[3], int) else None)
    tensor = preprocess(spec, raw, out_hw)
    channels = dims[1]
    return tensor[:channels] if isinstance(channels, int) and channels < tensor.shape[0] else tensor


# --- process_ops ---


def _complete_ops(
    cfg: CompileConfig, ops: tuple[ProcessOp, ...], spec: PreprocessSpec | None, log: _Log
) -> tuple[tuple[ProcessOp, ...], str, tuple[float, float] | None]:
    """Put the run-time normalisation where the YAML says `norm_type: None` (the device's job)."""
    norms = [k for k, op in enumerate(ops) if isinstance(op, NormalizeOp) and op.norm != "none"]
    if spec is None or spec.passthrough:
        if not norms:
            log.warnings.append(
                "calibration tensors are raw pixel values 0..255 (no Normalize, or norm_type None): the seed's device applies "
                "the vdsp file's normalisation (e.g. DIV255) at run time; pass --vdsp_params FILE so calibration sees what the model sees"
            )
        last = [op for op in ops if isinstance(op, NormalizeOp)]
        return ops, _NORM_LABELS[last[-1].norm if last else "none"], None
    wanted = NormalizeOp(spec.norm.value, spec.mean, spec.std)
    label = f"{_NORM_LABELS[wanted.norm]} from --vdsp_params {cfg.vdsp_params}"
    if norms:
        return _check_same_norm(cfg, ops, norms[-1], wanted, label), label, _norm_range(wanted)
    nones = [k for k, op in enumerate(ops) if isinstance(op, NormalizeOp)]
    at = nones[-1] if nones else len(ops) - (1 if isinstance(ops[-1], ToTensorOp) else 0)
    completed = ops[:at] + (wanted,) + ops[at + (1 if nones else 0):]
    log.notes.append(f"dataset.process_ops: normalising with {label} where the YAML leaves it to the device")
    return completed, label, _norm_range(wanted)


def _check_same_norm(cfg: CompileConfig, ops: tuple[ProcessOp, ...], k: int, wanted: NormalizeOp, label: str) -> tuple[ProcessOp, ...]:
    op = ops[k]
    assert isinstance(op, NormalizeOp)
    if wanted.norm == "none" or _same_norm(op, wanted):
        return ops
    raise InputError(
        f"{cfg.source}: dataset.process_ops[{k}] normalises ({_NORM_LABELS[op.norm]}) and --vdsp_params {cfg.vdsp_params} "
        f"normalises ({_NORM_LABELS[wanted.norm]}) at run time too; set norm_type: None to let the vdsp file's normalisation apply, or drop --vdsp_params"
    )


def _same_norm(a: NormalizeOp, b: NormalizeOp) -> bool:
    if a.norm != b.norm:
        return False
    if a.norm not in ("mean_std", "unit_mean_std"):
        return True
    n = min(len(a.mean or ()), len(b.mean or ()))
    return bool(np.allclose((a.mean or ())[:n], (b.mean or ())[:n], rtol=1e-3) and np.allclose((a.std or ())[:n], (b.std or ())[:n], rtol=1e-3))


def _norm_range(op: NormalizeOp) -> tuple[float, float]:
    """What uint8 pixels 0..255 become under this normalisation (over all channels)."""
    channels = len(op.mean) if op.mean else 1
    black_white = np.array([0.0, UINT8_MAX], np.float32)[None, :, None].repeat(channels, axis=2)  # a 1x2 image
    ends = _normalise(black_white, op)
    return float(ends.min()), float(ends.max())


def _check_op_codes(cfg: CompileConfig, ops: tuple[ProcessOp, ...]) -> None:
    import cv2

    for k, op in enumerate(ops):
        if isinstance(op, CvtColorOp) and not isinstance(getattr(cv2, op.code, None), int):
            raise InputError(f"{cfg.source}: dataset.process_ops[{k}].code: OpenCV has no colour code {op.code}")


def _image_tensor(cfg: CompileConfig, path: Path, ops: tuple[ProcessOp, ...]) -> np.ndarray:
    """One image through the ops -> float32 CHW (ToTensor is implied at the end)."""
    from vampy.data.imaging import read_image

    image: np.ndarray = read_image(path)[:, :, ::-1]  # DecodeImage: RGB, as the vendor's pipeline
    for k, op in enumerate(ops):
        try:
            image = _APPLY[type(op)](image, op)
        except VampyError:
            raise
        except Exception as exc:  # noqa: BLE001 - cv2.error and numpy errors from a bad op/image pair
            raise InputError(f"{cfg.source}: dataset.process_ops[{k}] ({type(op).__name__[:-2]}) fails on {path.name}: {_first_line(exc)}") from None
    hwc = image if image.ndim == 3 else image[:, :, None]
    return np.ascontiguousarray(hwc.transpose(2, 0, 1), dtype=np.float32)


def _keep(image: np.ndarray, like: np.ndarray) -> np.ndarray:
    """OpenCV drops a trailing 1-channel axis; keep HWC."""
    return image[:, :, None] if like.ndim == 3 and image.ndim == 2 else image


def _cvt_color(image: np.ndarray, op: CvtColorOp) -> np.ndarray:
    import cv2

    return _keep(cv2.cvtColor(np.ascontiguousarray(image), getattr(cv2, op.code)), image)


def _resize_wh(image: np.ndarray, op: ResizeOp) -> tuple[int, int]:
    if op.adaptive_side is None:
        return op.size_wh
    h, w = image.shape[:2]
    side = min(h, w) if op.adaptive_side == "short" else max(h, w)
    scale = op.size_wh[0] / side
    return max(1, round(w * scale)), max(1, round(h * scale))


def _resize(image: np.ndarray, op: ResizeOp) -> np.ndarray:
    import cv2

    size_wh = _resize_wh(image, op)
    if op.backend == "pillow":
        return _pillow_resize(image, size_wh, op.interpolation)
    flags = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC,
             "area": cv2.INTER_AREA, "lanczos": cv2.INTER_LANCZOS4}
    return _keep(cv2.resize(np.ascontiguousarray(image), size_wh, interpolation=flags[op.interpolation]), image)


def _pillow_resize(image: np.ndarray, size_wh: tuple[int, int], interpolation: str) -> np.ndarray:
    from PIL import Image

    method = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
              "area": Image.Resampling.BOX, "lanczos": Image.Resampling.LANCZOS}[interpolation]
    hwc = image if image.ndim == 3 else image[:, :, None]
    mode = "F" if hwc.dtype != np.uint8 else "L"
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(hwc[:, :, c]), mode=mode).resize(size_wh, method)) for c in range(hwc.shape[2])]
    out = np.stack(planes, axis=2)
    return out if image.ndim == 3 else out[:, :, 0]


def _channel_split(image: np.ndarray, op: ChannelSplitOp) -> np.ndarray:
    hwc = image if image.ndim == 3 else image[:, :, None]
    if op.index >= hwc.shape[2]:
        raise ValueError(f"index {op.index} but the image has {hwc.shape[2]} channel(s)")
    return hwc[:, :, op.index : op.index + 1]


def _normalise(image: np.ndarray, op: NormalizeOp) -> np.ndarray:
    x = image.astype(np.float32)
    channels = x.shape[2] if x.ndim == 3 else 1
    if op.norm in ("unit", "unit_mean_std"):
        x /= np.float32(UINT8_MAX)
    if op.norm in ("mean_std", "unit_mean_std"):
        x -= _per_channel(op.mean, channels, x.ndim)
        x /= _per_channel(op.std, channels, x.ndim)
    if op.norm == "symmetric":
        x = x / np.float32(UINT8_MAX / 2) - np.float32(1.0)
    return x


def _per_channel(values: tuple[float, ...] | None, channels: int, ndim: int) -> np.ndarray:
    """Mean/std per channel; more values than channels keeps the first ones, as `vampy run` keeps
    the first planes of a 3-plane image feeding a 1-channel model."""
    v = np.asarray(values or (0.0,), np.float32)
    if len(v) not in (1, channels) and len(v) < channels:
        raise ValueError(f"{len(v)} mean/std values for {channels} channels")
    v = v if len(v) == 1 else v[:channels]
    return v.reshape((1, 1, -1)) if ndim == 3 else v[:1]


def _center_crop(image: np.ndarray, op: CenterCropOp) -> np.ndarray:
    w, h = op.size_wh
    ih, iw = image.shape[:2]
    if h > ih or w > iw:
        raise ValueError(f"crop {w}x{h} is larger than the image {iw}x{ih}")
    top, left = (ih - h) // 2, (iw - w) // 2
    return image[top : top + h, left : left + w]


def _pad(image: np.ndarray, op: PadOp) -> np.ndarray:
    ih, iw = image.shape[:2]
    w, h = (max(ih, iw), max(ih, iw)) if op.pad_to_square else (op.size_wh or (iw, ih))
    if h < ih or w < iw:
        raise ValueError(f"pad to {w}x{h} is smaller than the image {iw}x{ih}")
    widths = [(0, h - ih), (0, w - iw)] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, widths, constant_values=np.asarray(op.value).astype(image.dtype))


def _identity(image: np.ndarray, op: ProcessOp) -> np.ndarray:
    return image


_APPLY: dict[type, Callable[[np.ndarray, Any], np.ndarray]] = {
    DecodeImageOp: _identity,  # done before the loop: every file is decoded
    CvtColorOp: _cvt_color,
    ResizeOp: _resize,
    ChannelSplitOp: _channel_split,
    NormalizeOp: _normalise,
    ToTensorOp: _identity,  # done after the loop
    CenterCropOp: _center_crop,
    PadOp: _pad,
}


def _check_range(samples: _Samples, observed: tuple[float, float], log: _Log) -> None:
    expected = samples.runtime_range
    if expected is None:
        return
    span = max(expected[1] - expected[0], 1e-6)
    outside = observed[0] < expected[0] - RANGE_TOLERANCE * span or observed[1] > expected[1] + RANGE_TOLERANCE * span
    if outside or (observed[1] - observed[0]) < 0.2 * span:
        log.warnings.append(
            f"calibration tensors span [{observed[0]:.4g}, {observed[1]:.4g}] but the run-time preprocessing "
            f"({samples.normalisation}) produces values in [{expected[0]:.4g}, {expected[1]:.4g}]; the int8 ranges may not fit"
        )


# --- int8: pre-processing, calibration, quantization ---


@contextlib.contextmanager
def _quiet_ort(log: _Log) -> Iterator[None]:
    """ORT's quantization tools log warnings to the root logger: keep them off the terminal (the
    engine never prints) and keep them as notes."""
    handler = _NoteHandler(log)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def _unprinted() -> contextlib.AbstractContextManager[Any]:
    """ORT's calibrators print() their progress; only around ORT calls, so a caller's progress
    object may still write to stdout."""
    return contextlib.redirect_stdout(io.StringIO())


class _NoteHandler(logging.Handler):
    def __init__(self, log: _Log) -> None:
        super().__init__(logging.WARNING)
        self._log = log
        self._seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().strip().splitlines()[0] if record.getMessage().strip() else ""
        if text and text not in self._seen and len(self._seen) < MAX_LOG_NOTES:
            self._seen.add(text)
            self._log.notes.append(f"onnxruntime: {text}")


def _pre_process(source: Path, work: Path, log: _Log) -> Path:
    """ORT's recommended quant_pre_process (shape inference, BASIC optimisation: folds BatchNorm
    into Conv). Symbolic shape inference needs sympy, which vampy does not depend on."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    target = work / "prepared.onnx"
    try:
        with _unprinted():
            quant_pre_process(str(source), str(target), skip_symbolic_shape=True)
    except Exception as exc:  # noqa: BLE001 - optional step: quantize the model as given
        log.notes.append(f"quantization pre-processing skipped ({_first_line(exc)})")
        return source
    return target


def _excluded_nodes(model_path: Path, cfg: CompileConfig) -> list[str]:
    graph = onnx.load(str(model_path), load_external_data=False).graph
    names = [n.name for n in graph.node]
    convs = [n.name for n in graph.node if n.op_type in ("Conv", "ConvTranspose")]
    excluded = []
    for k, item in enumerate(cfg.quantize.skip_layers):
        key = f"{cfg.source}: backend.quantize.skip_layers[{k}]"
        if isinstance(item, int):
            if item >= len(convs):
                raise InputError(f"{key}: Conv index {item} but the model has {len(convs)} Conv node(s) (0 is the first)")
            excluded.append(convs[item])
        elif item in names:
            excluded.append(item)
        else:
            raise InputError(f"{key}: no node named {item!r} (some node names: {', '.join(names[:6])})")
    return excluded


def _augmented_session(model_path: Path, work: Path) -> tuple[Any, list[str]]:
    """A session that outputs every tensor the quantizer will need a range for (ORT's own choice)."""
    from onnxruntime.quantization.calibrate import CalibrationMethod, create_calibrator
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    op_types = sorted(set(QLinearOpsRegistry) | set(QDQRegistry))  # what quantize_static uses by default
    with _unprinted():
        calibrator = create_calibrator(model_path, op_types, augmented_model_path=str(work / "augmented.onnx"),
                                       calibrate_method=CalibrationMethod.Entropy)
    session = calibrator.infer_session
    wanted = set(calibrator.tensors_to_calibrate)
    return session, [o.name for o in session.get_outputs() if o.name in wanted]


def _calibrate(
    model_path: Path, samples: _Samples, q: QuantizeConfig, work: Path, progress: Progress
) -> tuple[dict[str, tuple[float, float]], tuple[float, float]]:
    session, names = _augmented_session(model_path, work)
    passes = 1 if q.calibrate_mode == "max" else 2
    progress.start(f"calibrating ({q.calibrate_mode}, {samples.count} samples)", samples.count * passes)
    extremes, input_range = _min_max_pass(session, names, samples, progress)
    if q.calibrate_mode == "max":
        ranges = extremes
    else:
        bins = q.num_bins or DEFAULT_BINS[q.calibrate_mode]
        hists = _histogram_pass(session, names, samples, extremes, bins, q.calibrate_mode == "percentile", progress)
        ranges = _THRESHOLDS[q.calibrate_mode](hists, q)
    progress.finish()
    return ranges, input_range


def _run_all(session: Any, names: list[str], samples: _Samples, progress: Progress) -> Iterator[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
    outputs = [o.name for o in session.get_outputs()]
    for index in range(samples.count):
        feed = samples.make(index)
        values = dict(zip(outputs, session.run(None, feed)))
        yield feed, {name: values[name] for name in names}
        progress.advance()


def _min_max_pass(
    session: Any, names: list[str], samples: _Samples, progress: Progress
) -> tuple[dict[str, tuple[float, float]], tuple[float, float]]:
    lows = {n: np.inf for n in names}
    highs = {n: -np.inf for n in names}
    feed_range = [np.inf, -np.inf]
    for feed, values in _run_all(session, names, samples, progress):
        for name, value in values.items():
            lows[name] = min(lows[name], float(value.min()))
            highs[name] = max(highs[name], float(value.max()))
        for array in feed.values():
            feed_range = [min(feed_range[0], float(array.min())), max(feed_range[1], float(array.max()))]
    return {n: (lows[n], highs[n]) for n in names}, (feed_range[0], feed_range[1])


def _histogram_pass(
    session: Any, names: list[str], samples: _Samples, extremes: dict[str, tuple[float, float]], bins: int, absolute: bool, progress: Progress
) -> dict[str, tuple[Any, ...]]:
    """Histograms over the whole set with fixed edges: the same counts ORT gets from one
    np.histogram over all samples at once, without holding them all in memory."""
    edges = {n: _edges(extremes[n], bins, absolute) for n in names}
    counts = {n: np.zeros(bins, np.int64) for n in names}
    for _, values in _run_all(session, names, samples, progress):
        for name, value in values.items():
            data = np.abs(value) if absolute else value
            counts[name] += np.histogram(data, bins=edges[name])[0]
    out: dict[str, tuple[Any, ...]] = {}
    for name in names:
        low, high = (np.float32(v) for v in extremes[name])
        entry = (counts[name], edges[name], low, high)
        out[name] = entry if absolute else (*entry, edges[name][-1])
    return out


def _edges(extreme: tuple[float, float], bins: int, absolute: bool) -> np.ndarray:
    threshold = max(abs(extreme[0]), abs(extreme[1]))
    low = 0.0 if absolute else -threshold
    if threshold == 0.0:
        low, threshold = -0.5, 0.5  # what np.histogram does with an empty range
    return np.linspace(low, threshold, bins + 1, dtype=np.float32)


def _ort_thresholds(method: str, hists: dict[str, tuple[Any, ...]], q: QuantizeConfig) -> dict[str, tuple[float, float]]:
    from onnxruntime.quantization.calibrate import HistogramCollector

    collector = HistogramCollector(method=method, symmetric=method == "percentile", num_bins=q.num_bins or DEFAULT_BINS[q.calibrate_mode],
                                   num_quantized_bins=KL_QUANTIZED_BINS, percentile=q.calibrate_range * 100.0, scenario="same")
    collector.histogram_dict = hists
    with _unprinted():
        result = collector.compute_collection_result()
    return {name: (float(np.asarray(v[0]).item()), float(np.asarray(v[1]).item())) for name, v in result.items()}


def _kl_thresholds(hists: dict[str, tuple[Any, ...]], q: QuantizeConfig) -> dict[str, tuple[float, float]]:
    return _ort_thresholds("entropy", hists, q)


def _percentile_thresholds(hists: dict[str, tuple[Any, ...]], q: QuantizeConfig) -> dict[str, tuple[float, float]]:
    return _ort_thresholds("percentile", hists, q)


def _mse_thresholds(hists: dict[str, tuple[Any, ...]], q: QuantizeConfig) -> dict[str, tuple[float, float]]:
    return {name: mse_range(h[0], h[1], float(h[2]), float(h[3])) for name, h in hists.items()}


def mse_range(counts: np.ndarray, edges: np.ndarray, low: float, high: float, levels: int = QUANT_LEVELS) -> tuple[float, float]:
    """The range [a*low, a*high] (0 < a <= 1) with the least expected squared quantization error:
    values outside are clipped, values inside get uniform rounding noise of step^2 / 12."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high - low <= 0:
        return low, high
    centres = ((edges[:-1] + edges[1:]) / 2).astype(np.float64)[None, :]
    weights = counts.astype(np.float64)[None, :]
    scale = np.linspace(1.0 / MSE_CANDIDATES, 1.0, MSE_CANDIDATES)[:, None]
    lo, hi = low * scale, high * scale
    clipped = np.clip(centres, lo, hi)
    step = (hi - lo) / (levels - 1)
    inside = (centres >= lo) & (centres <= hi)
    error = (weights * (centres - clipped) ** 2).sum(axis=1) + (weights * inside).sum(axis=1) * (step[:, 0] ** 2) / 12.0
    best = int(np.argmin(error))
    return float(lo[best, 0]), float(hi[best, 0])


_THRESHOLDS: dict[str, Callable[[dict[str, tuple[Any, ...]], QuantizeConfig], dict[str, tuple[float, float]]]] = {
    "kl_divergence": _kl_thresholds,
    "percentile": _percentile_thresholds,
    "mse": _mse_thresholds,
}


class _FeedReader:
    """The CalibrationDataReader protocol (ORT checks for get_next only)."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def _quantize(
    source: Path, target: Path, first_feed: dict[str, np.ndarray], ranges: dict[str, tuple[float, float]], q: QuantizeConfig, excluded: list[str]
) -> None:
    overrides = {name: [{"rmin": np.float32(lo), "rmax": np.float32(hi)}] for name, (lo, hi) in ranges.items()}
    # Every calibrated tensor is overridden, so quantize_static's own (MinMax) pass over one
    # sample only satisfies its API; it decides nothing.
    with _unprinted():
        _quantize_static(source, target, first_feed, overrides, q, excluded)


def _quantize_static(
    source: Path, target: Path, first_feed: dict[str, np.ndarray], overrides: dict[str, Any], q: QuantizeConfig, excluded: list[str]
) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    quantize_static(
        str(source), str(target), _FeedReader([first_feed]),
        quant_format=QuantFormat.QDQ,
        per_channel=q.per_channel,
        activation_type=QuantType.QUInt8 if q.activation_type == "uint8" else QuantType.QInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=excluded,
        extra_options={"TensorQuantOverrides": overrides},
    )


def _calibration_dict(
    samples: _Samples, q: QuantizeConfig, excluded: list[str], ranges: dict[str, tuple[float, float]], input_range: tuple[float, float]
) -> dict[str, Any]:
    bins = None if q.calibrate_mode == "max" else q.num_bins or DEFAULT_BINS[q.calibrate_mode]
    return {
        "method": q.calibrate_mode,
        "onnxruntime_method": _ORT_METHODS[q.calibrate_mode],
        "histogram_bins": bins,
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


# --- outputs and metadata ---


def _check_loadable(path: Path) -> None:
    from vampy.engines.base import EngineOptions, get_engine

    get_engine().open(path, EngineOptions(intra_threads=1))


def _publish(built: Path, out_dir: Path) -> Path:
    """Copy into out_dir via a temporary name and rename: a reader never sees half a model, and a
    symlink at the target is replaced, not followed."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: exists and is not a folder; change workspace.path or name")
    target = out_dir / MODEL_FILE
    tmp = out_dir / f".{MODEL_FILE}.tmp"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, tmp)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc}); check that workspace.path is writable") from None
    return target


def _macs_params(model: onnx.ModelProto, log: _Log) -> tuple[int | None, int | None]:
    """Counted on the source graph at the compiled shapes: the arithmetic the model stands for,
    whatever the precision (an int8 graph's scales and zero points are not parameters)."""
    from vampy.models.graph import count_macs_params

    try:
        return count_macs_params(model)
    except VampyError as exc:
        log.notes.append(f"MACs and params not counted: {exc}")
        return None, None


def _tensor_dict(value: onnx.ValueInfoProto) -> dict[str, Any]:
    dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
    return {"name": value.name, "shape": _dims(value), "dtype": np.dtype(dtype).name}




def _versions() -> dict[str, str]:
    import onnxruntime

    return {"vampy": __version__, "onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__, "numpy": np.__version__}


def _config_dict(cfg: CompileConfig) -> dict[str, Any]:
    data = asdict(cfg)
    if cfg.dataset is not None:
        data["dataset"]["ops"] = [{"type": type(op).__name__[:-2], **asdict(op)} for op in cfg.dataset.ops]
    return data


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


__all__ = ["METADATA_FILE", "MODEL_FILE", "compile_model", "mse_range"]
