"""`vampy compile`: an ONNX model -> fp32 (graph-optimised), fp16 or int8 (static QDQ), on ONNX Runtime.

This module is the entry point and the metadata; the steps live next to it:
- fp32, fp16: ONNX Runtime's tools in vampy.engines.ort_build (EXTENDED graph optimisation, the
  float16 converter with keep_io_types);
- int8: vampy.compiler.int8 (pre-processing, quantize_static with vampy's ranges), fed by
  vampy.compiler.calibration_data (process_ops or --calib_datalist) and vampy.compiler.ranges
  (the calibration passes, run through the Engine seam).
The engine never prints: ORT's prints and log records are captured (the log's into the notes).
"""
from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from vampy import __version__
from vampy.compiler.calibration_data import check_calibration_inputs
from vampy.compiler.common import BuildLog, dims, fmt_dims, graph_inputs
from vampy.compiler.drift_check import check_drift, check_samples, used_by_check
from vampy.compiler.extra_ops import apply_extra_ops
from vampy.compiler.int8 import build_int8
from vampy.compiler.plan import ignored_notes
from vampy.compiler.ranges import mse_range
from vampy.config import CompileConfig
from vampy.config.diff import CompileCheck
from vampy.engines import ort_build
from vampy.errors import MAX_REASON_CHARS, InputError, ModelError, OutputError, VampyError, first_line
from vampy.formats.files import write_file
from vampy.models.info import FLOPS_PER_MAC
from vampy.models.resolve import file_sha256
from vampy.progress import NullProgress, Progress
from vampy.results.schema import CompileResult, write_json

MODEL_FILE = "mod.onnx"
METADATA_FILE = "mod.json"


# --- entry point ---


def compile_model(
    cfg: CompileConfig, progress: Progress | None = None, clock: Callable[[], float] = time.perf_counter, check: CompileCheck | None = None,
) -> CompileResult:
    """Build `<workspace>/<name>/mod.onnx` and `mod.json`; every failure is one VampyError line. `check`: the
    self-check against the float model (compiler/drift_check.py; default on for fp16 and int8)."""
    progress = progress or NullProgress()
    check = check or CompileCheck()
    start_s = clock()
    log = BuildLog(warnings=list(cfg.warnings), notes=ignored_notes(cfg) + list(cfg.notes))
    checkpoint = Path(cfg.checkpoint)
    model = _load_checkpoint(cfg, checkpoint)
    _fix_input_shapes(model, cfg)
    _check_frontend_dtype(model, cfg)
    if cfg.precision == "int8":
        check_calibration_inputs(cfg, model)  # before any slow work
    log.notes += apply_extra_ops(model, cfg)
    samples, origin = check_samples(cfg, model, check, log)  # a bad --check_datalist fails here, before the build
    used = used_by_check(cfg, check, samples)
    log.notes += [f"not used for {cfg.precision}: {key}" for key in cfg.unused_keys if key not in used]
    if samples is None and (cfg.precision != "fp32" or not check.enabled):
        log.notes.append(f"drift against the float model not checked: {origin}")
    drift = None
    with tempfile.TemporaryDirectory(prefix="vampy-compile-") as tmp, ort_build.capture_ort_logs(log.notes):
        # saved before the build: the fp16 converter may change the graph it is handed
        reference = _save(model, Path(tmp) / "reference.onnx") if samples is not None else None
        built, calibration = _BUILDERS[cfg.precision](model, cfg, Path(tmp), progress, log)
        _check_loadable(built)
        if samples is not None and reference is not None:
            drift = check_drift(reference, built, model, samples, origin, check, progress)
        target = _publish(built, cfg.output_dir)
    macs, params = _macs_params(model, log)
    result = _describe(cfg, checkpoint, target, calibration, (macs, params), log, compile_time_s=clock() - start_s, drift=drift)
    write_json(cfg.output_dir / METADATA_FILE, result.to_dict())
    return result


def _describe(
    cfg: CompileConfig, checkpoint: Path, target: Path, calibration: dict[str, Any] | None,
    macs_params: tuple[int | None, int | None], log: BuildLog, compile_time_s: float, drift: dict[str, Any] | None = None,
) -> CompileResult:
    built = onnx.load(str(target), load_external_data=False)
    return CompileResult(
        name=cfg.name,
        precision=cfg.precision,
        model_path=str(target),
        source={"checkpoint": str(checkpoint), "sha256": file_sha256(checkpoint), "size_bytes": checkpoint.stat().st_size},
        output={"sha256": file_sha256(target), "size_bytes": target.stat().st_size},
        inputs=[_tensor_dict(v) for v in graph_inputs(built)],
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
        drift=drift,
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
        raise ModelError(
            f"{cfg.source}: frontend.checkpoint {path}: not a readable ONNX model ({first_line(exc, MAX_REASON_CHARS)})"
        ) from None
    # skip_layers and the quantizer address nodes by name; unnamed nodes get stable names.
    for index, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{index}"
    return model


def _fix_input_shapes(model: onnx.ModelProto, cfg: CompileConfig) -> None:
    """frontend.shape fixes dynamic dims; symbolic names shared with outputs are fixed there too."""
    inputs = {v.name: v for v in graph_inputs(model)}
    symbols: dict[str, int] = {}
    for name, shape in cfg.input_shapes:
        if name not in inputs:
            raise InputError(f"{cfg.source}: frontend.shape.{name}: the model has no input {name!r} (its inputs: {', '.join(inputs)})")
        _fix_one(inputs[name], shape, symbols, cfg)
    for name, low, high in cfg.input_shape_ranges:
        if name not in inputs:
            raise InputError(f"{cfg.source}: frontend.shape.{name}: the model has no input {name!r} (its inputs: {', '.join(inputs)})")
        _fix_range(inputs[name], low, high, symbols, cfg)
    for value in [*model.graph.output, *model.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_param") and dim.dim_param in symbols:
                dim.dim_value = symbols[dim.dim_param]


def _fix_one(value: onnx.ValueInfoProto, wanted_dims: tuple[int, ...], symbols: dict[str, int], cfg: CompileConfig) -> None:
    shape = value.type.tensor_type.shape
    current = dims(value)
    misfit = ModelError(
        f"{cfg.source}: frontend.shape.{value.name} {list(wanted_dims)} does not fit the model input {value.name!r} {fmt_dims(current)}"
    )
    if current and len(current) != len(wanted_dims):
        raise misfit
    if not current:
        shape.dim.extend(onnx.TensorShapeProto.Dimension() for _ in wanted_dims)
    for dim, wanted in zip(shape.dim, wanted_dims):
        if dim.HasField("dim_value") and dim.dim_value not in (0, wanted):
            raise misfit
        if dim.HasField("dim_param") and dim.dim_param:
            symbols[dim.dim_param] = wanted
        dim.dim_value = wanted


def _fix_range(
    value: onnx.ValueInfoProto, low: tuple[int, ...], high: tuple[int, ...], symbols: dict[str, int], cfg: CompileConfig
) -> None:
    """A dynamic range: the dims where min == max are fixed, the others stay dynamic (named, so ORT
    accepts any size there); a fixed model dim outside the range does not fit."""
    current = dims(value)
    if current and (len(current) != len(low) or any(isinstance(d, int) and d > 0 and not a <= d <= b
                                                     for d, a, b in zip(current, low, high))):
        raise ModelError(f"{cfg.source}: frontend.shape.{value.name} {list(low)} .. {list(high)} does not fit the model input "
                         f"{value.name!r} {fmt_dims(current)}")
    shape = value.type.tensor_type.shape
    if not current:
        shape.dim.extend(onnx.TensorShapeProto.Dimension() for _ in low)
    for k, (dim, a, b) in enumerate(zip(shape.dim, low, high)):
        if a == b:
            if dim.HasField("dim_param") and dim.dim_param:
                symbols[dim.dim_param] = a
            dim.dim_value = a
        elif not dim.HasField("dim_value") and not dim.dim_param:
            dim.dim_param = f"{value.name}_dim{k}"


def _check_frontend_dtype(model: onnx.ModelProto, cfg: CompileConfig) -> None:
    if cfg.frontend_dtype not in ("fp32", "fp16"):
        return  # int64 / int32: token ids; the float inputs of such a model (if any) are what they are
    wanted = {"fp32": onnx.TensorProto.FLOAT, "fp16": onnx.TensorProto.FLOAT16}[cfg.frontend_dtype]
    for value in graph_inputs(model):
        elem = value.type.tensor_type.elem_type
        if elem in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16) and elem != wanted:
            actual = "fp32" if elem == onnx.TensorProto.FLOAT else "fp16"
            raise InputError(
                f"{cfg.source}: frontend.dtype {cfg.frontend_dtype}, but the model input {value.name!r} is {actual}; write dtype: {actual}"
            )
    if cfg.precision != "fp32" and wanted != onnx.TensorProto.FLOAT:
        raise InputError(f"{cfg.source}: backend.dtype {cfg.precision} starts from an fp32 model; frontend.dtype is {cfg.frontend_dtype}")


# --- the three precisions ---


def _save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def _build_fp32(model: onnx.ModelProto, cfg: CompileConfig, work: Path, progress: Progress, log: BuildLog) -> tuple[Path, None]:
    source = _save(model, work / "source.onnx")
    target = work / "fp32.onnx"
    progress.start("optimising the fp32 graph", None)
    ort_build.optimise_fp32(source, target, label=cfg.checkpoint)
    progress.finish()
    return target, None


def _build_fp16(model: onnx.ModelProto, cfg: CompileConfig, work: Path, progress: Progress, log: BuildLog) -> tuple[Path, None]:
    progress.start("converting to fp16", None)
    converted = ort_build.convert_fp16(model, label=cfg.checkpoint)
    progress.finish()
    return _save(converted, work / "fp16.onnx"), None


def _build_int8(model: onnx.ModelProto, cfg: CompileConfig, work: Path, progress: Progress, log: BuildLog) -> tuple[Path, dict[str, Any]]:
    return build_int8(_save(model, work / "source.onnx"), model, cfg, work, progress, log)


_BUILDERS: dict[str, Callable[[onnx.ModelProto, CompileConfig, Path, Progress, BuildLog], tuple[Path, dict[str, Any] | None]]] = {
    "fp32": _build_fp32,
    "fp16": _build_fp16,
    "int8": _build_int8,
}


# --- outputs and metadata ---


def _check_loadable(path: Path) -> None:
    from vampy.engines.base import EngineOptions, get_engine

    get_engine().open(path, EngineOptions(intra_threads=1))


def _publish(built: Path, out_dir: Path) -> Path:
    """Copy into out_dir through formats/files.write_file (a new random temporary name, fsync, rename):
    a reader never sees half a model, and a link at the target or a temporary name is never followed."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: exists and is not a folder; change workspace.path or name")
    target = out_dir / MODEL_FILE
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with built.open("rb") as source:
            write_file(target, lambda fh: shutil.copyfileobj(source, fh))
    except OSError as exc:
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc}); check that workspace.path is writable") from None
    return target


def _macs_params(model: onnx.ModelProto, log: BuildLog) -> tuple[int | None, int | None]:
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
    return {"name": value.name, "shape": dims(value), "dtype": np.dtype(dtype).name}


def _versions() -> dict[str, str]:
    return {"vampy": __version__, "onnxruntime": ort_build.ort_version(), "onnx": onnx.__version__, "numpy": np.__version__}


def _config_dict(cfg: CompileConfig) -> dict[str, Any]:
    data = asdict(cfg)
    if cfg.dataset is not None:
        data["dataset"]["ops"] = [{"type": type(op).__name__[:-2], **asdict(op)} for op in cfg.dataset.ops]
    return data


__all__ = ["METADATA_FILE", "MODEL_FILE", "compile_model", "mse_range"]
