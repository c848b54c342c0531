"""int8 calibration feeds: from the YAML's dataset and process_ops, or from --calib_datalist npz files.

Calibration must see what the model sees at run time: process_ops that leave normalisation to the
device (`norm_type: None`) get the vdsp file's normalisation put in, Pad ops the vdsp letterbox's
pad value, and an adaptive Resize into the model's box that nothing pads is padded as the vdsp
letterbox pads; npz inputs go through the vdsp preprocessing exactly as `vampy run --datalist`
feeds them. A dataset of npz files (token and point-cloud models) feeds each file's arrays to the
model's inputs by name (or input_0..N by position). Feeds are made on demand, so memory stays one
sample deep.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnx

from vampy.compiler.common import BuildLog, dims, fmt_dims, graph_inputs
from vampy.config import CompileConfig, DatasetConfig, DecodeImageOp, NormalizeOp, PadOp, ProcessOp, ResizeOp, ToTensorOp
from vampy.data.npz_inputs import npz_keys
from vampy.errors import InputError, ModelError

if TYPE_CHECKING:
    from vampy.formats.vdsp import PreprocessSpec

# A calibration range this far outside the run-time range (as a share of it) gets a warning.
RANGE_TOLERANCE = 0.05
# vamc's norm_type spellings, for messages and mod.json.
NORM_LABELS = {"none": "None", "unit": "div255", "mean_std": "minusmean_divstd",
               "unit_mean_std": "div255_minusmean_divstd", "symmetric": "div127.5_minus1"}


@dataclass(frozen=True)
class Samples:
    """Calibration feeds, made on demand so memory stays one sample deep."""

    origin: str  # "dataset" or "datalist"
    names: tuple[str, ...]  # the files used, for the metadata
    count: int  # number of feeds (batches)
    make: Callable[[int], dict[str, np.ndarray]]
    normalisation: str
    runtime_range: tuple[float, float] | None  # what the run-time preprocessing produces


def calibration_samples(cfg: CompileConfig, model: onnx.ModelProto, log: BuildLog) -> Samples:
    """The feeds for cfg, checked against the model's inputs before any slow work."""
    spec = _load_spec(cfg.vdsp_params)
    inputs = graph_inputs(model)
    if cfg.calib_datalist is not None:
        samples = _datalist_samples(cfg, inputs, spec, log)
    else:
        assert cfg.dataset is not None, "CompileConfig guarantees a dataset or a datalist for int8"
        make = _npz_dataset_samples if cfg.dataset.kind == "npz" else _dataset_samples
        samples = make(cfg, cfg.dataset, inputs, spec, log)
    _check_fit(cfg, samples, inputs)
    return samples


def check_calibration_inputs(cfg: CompileConfig, model: onnx.ModelProto) -> None:
    """The YAML's images can feed one float input; token ids, masks or several inputs need npz files.
    Checked right after the model is read, before any slow work."""
    if cfg.calib_datalist is not None or (cfg.dataset is not None and cfg.dataset.kind == "npz"):
        return
    inputs = graph_inputs(model)
    if len(inputs) != 1:
        names = ", ".join(repr(v.name) for v in inputs)
        raise InputError(f"{cfg.source}: dataset: process_ops make one image tensor but the model has {len(inputs)} inputs ({names}); "
                         "calibrate from npz files with --calib_datalist FILE (input_0, input_1, ... in the model's input order)")
    elem = inputs[0].type.tensor_type.elem_type
    if elem not in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE):
        dtype = onnx.helper.tensor_dtype_to_np_dtype(elem).name
        raise InputError(f"{cfg.source}: dataset: process_ops make an image tensor but the model input {inputs[0].name!r} is {dtype}; "
                         "calibrate from npz files with --calib_datalist FILE")


def check_range(samples: Samples, observed: tuple[float, float], log: BuildLog) -> None:
    """Warn when the calibration tensors' values do not look like the run-time preprocessing's."""
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


def _load_spec(vdsp_params: str | None) -> PreprocessSpec | None:
    if vdsp_params is None:
        return None
    from vampy.formats.vdsp import load_vdsp

    return load_vdsp(vdsp_params)


def _check_fit(cfg: CompileConfig, samples: Samples, inputs: list[onnx.ValueInfoProto]) -> None:
    """The first feed against the model's inputs and frontend.shape's ranges (both shapes in the message)."""
    feed = samples.make(0)
    ranges = {name: (low, high) for name, low, high in cfg.input_shape_ranges}
    origin = {"dataset": "dataset.process_ops", "npz": "the npz files in dataset.path"}.get(
        samples.origin, f"--calib_datalist {cfg.calib_datalist}")
    for value in inputs:
        model_dims = dims(value)
        fed = feed[value.name].shape
        if len(fed) != len(model_dims) or any(isinstance(m, int) and m not in (0, f) for m, f in zip(model_dims, fed)):
            raise ModelError(
                f"{cfg.source}: {origin} produce {fmt_dims(fed)} for input {value.name!r} (from {samples.names[0]}) "
                f"but the model takes {fmt_dims(model_dims)}; fix the Resize/CenterCrop/ChannelSplit ops or frontend.shape"
            )
        low, high = ranges.get(value.name, (fed, fed))
        if any(not a <= f <= b for a, f, b in zip(low, fed, high)):
            raise ModelError(f"{cfg.source}: {origin} produce {fmt_dims(fed)} for input {value.name!r} (from {samples.names[0]}), "
                             f"outside frontend.shape's range {list(low)} .. {list(high)}")


def _batch_size(value: onnx.ValueInfoProto) -> int:
    shape = dims(value)
    return shape[0] if shape and isinstance(shape[0], int) and shape[0] > 1 else 1


def _feed_count(cfg: CompileConfig, n_files: int, batch: int) -> int:
    if n_files < batch:
        raise InputError(f"{cfg.source}: {n_files} calibration sample(s) but the model's fixed batch is {batch}; add samples")
    return n_files // batch


def _as_model_input(tensors: list[np.ndarray], value: onnx.ValueInfoProto) -> np.ndarray:
    dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
    # Samples without a batch axis are stacked; samples that carry one are concatenated.
    batched = np.stack(tensors) if len(dims(value)) == tensors[0].ndim + 1 else np.concatenate(tensors)
    return batched.astype(dtype, copy=False)


# --- the YAML's dataset ---


def _dataset_samples(
    cfg: CompileConfig, ds: DatasetConfig, inputs: list[onnx.ValueInfoProto], spec: PreprocessSpec | None, log: BuildLog
) -> Samples:
    from vampy.data.process_ops import check_colour_codes, image_tensor

    if len(inputs) != 1:
        raise InputError(f"{cfg.source}: dataset: process_ops make one tensor but the model has {len(inputs)} inputs; use --calib_datalist")
    files = _dataset_files(cfg, ds, log)
    value = inputs[0]
    ops = _complete_letterbox(_complete_pads(ds.ops or (DecodeImageOp(), ToTensorOp()), spec), value, log)
    ops, normalisation, runtime = _complete_ops(cfg, ops, spec, log)
    batch = _batch_size(value)
    where = f"{cfg.source}: dataset.process_ops"
    check_colour_codes(ops, where)

    def make(index: int) -> dict[str, np.ndarray]:
        tensors = [image_tensor(files[k], ops, where) for k in range(index * batch, index * batch + batch)]
        return {value.name: _as_model_input(tensors, value)}

    return Samples("dataset", tuple(p.name for p in files), _feed_count(cfg, len(files), batch), make, normalisation, runtime)


def _complete_pads(ops: tuple[ProcessOp, ...], spec: PreprocessSpec | None) -> tuple[ProcessOp, ...]:
    """A Pad without `value` pads with the vdsp file's Padding (the run-time letterbox's), when given."""
    if spec is None or spec.passthrough:
        return ops
    pad_value = tuple(float(v) for v in spec.pad_value)
    return tuple(replace(op, value=pad_value) if isinstance(op, PadOp) and op.value is None else op for op in ops)


def _complete_letterbox(ops: tuple[ProcessOp, ...], value: onnx.ValueInfoProto, log: BuildLog) -> tuple[ProcessOp, ...]:
    """`Resize size: [608, 1088], adaptive_side: long` and no Pad (fairmot): the image fits inside the
    model's box, and the vdsp letterbox pads the rest, centred; calibration pads it the same way."""
    shape = dims(value)
    if len(shape) != 4 or not isinstance(shape[2], int) or not isinstance(shape[3], int):
        return ops
    box_wh = (shape[3], shape[2])
    fits = [k for k, op in enumerate(ops) if isinstance(op, ResizeOp) and op.adaptive_side == "long" and op.size_wh == box_wh]
    if not fits or any(isinstance(op, (PadOp, ResizeOp)) for op in ops[fits[-1] + 1:]):
        return ops
    at = fits[-1] + 1
    log.notes.append(f"dataset.process_ops[{fits[-1]}] fits each image inside {box_wh[0]}x{box_wh[1]} and nothing pads it: "
                     "padded to the model input, centred, as the vdsp letterbox does")
    return ops[:at] + (PadOp(size_wh=box_wh),) + ops[at:]


def _dataset_files(cfg: CompileConfig, ds: DatasetConfig, log: BuildLog) -> list[Path]:
    from vampy.data.imaging import IMAGE_SUFFIXES

    if ds.path is None:  # int8 is refused without it when the YAML is read; fp16's check may still ask
        raise InputError(f"{cfg.source}: dataset.path: missing; the dataset section names no calibration files")
    folder = Path(ds.path)
    if not folder.is_dir():
        raise InputError(f"{cfg.source}: dataset.path {folder}: no such folder (relative paths start at the current folder)")
    suffixes = tuple(f".{s}" for s in ds.suffixes) or (IMAGE_SUFFIXES if ds.kind == "images" else (".npz",))
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes and fnmatch(p.name, ds.pattern))
    if not files:
        raise InputError(
            f"{cfg.source}: dataset.path {folder}: the calibration set is empty: no file ends in {', '.join(suffixes)} "
            f"and matches dataset.sampler.pattern {ds.pattern!r}"
        )
    if ds.max_samples is not None and len(files) < ds.max_samples:
        log.notes.append(f"dataset.sampler.get_data_num is {ds.max_samples} but {len(files)} file(s) match; calibrating on {len(files)}")
    return files[: ds.max_samples] if ds.max_samples is not None else files


def _complete_ops(
    cfg: CompileConfig, ops: tuple[ProcessOp, ...], spec: PreprocessSpec | None, log: BuildLog
) -> tuple[tuple[ProcessOp, ...], str, tuple[float, float] | None]:
    """Put the run-time normalisation where the YAML says `norm_type: None` (the device's job)."""
    from vampy.data.process_ops import norm_range

    norms = [k for k, op in enumerate(ops) if isinstance(op, NormalizeOp) and (op.norm != "none" or op.raw_by_choice)]
    if spec is None or spec.passthrough:
        if not norms:
            log.warnings.append(
                "calibration tensors are raw pixel values 0..255 (no Normalize, or norm_type None): the seed's device applies "
                "the vdsp file's normalisation (e.g. DIV255) at run time; pass --vdsp_params FILE so calibration sees what the model sees"
            )
        last = [op for op in ops if isinstance(op, NormalizeOp)]
        return ops, NORM_LABELS[last[-1].norm if last else "none"], None
    wanted = NormalizeOp(spec.norm.value, spec.mean, spec.std)
    label = f"{NORM_LABELS[wanted.norm]} from --vdsp_params {cfg.vdsp_params}"
    if norms:
        return _check_same_norm(cfg, ops, norms[-1], wanted), label, norm_range(wanted)
    nones = [k for k, op in enumerate(ops) if isinstance(op, NormalizeOp)]
    at = nones[-1] if nones else len(ops) - (1 if isinstance(ops[-1], ToTensorOp) else 0)
    completed = ops[:at] + (wanted,) + ops[at + (1 if nones else 0):]
    log.notes.append(f"dataset.process_ops: normalising with {label} where the YAML leaves it to the device")
    return completed, label, norm_range(wanted)


def _check_same_norm(cfg: CompileConfig, ops: tuple[ProcessOp, ...], k: int, wanted: NormalizeOp) -> tuple[ProcessOp, ...]:
    op = ops[k]
    assert isinstance(op, NormalizeOp)
    if wanted.norm == "none" or _same_norm(op, wanted):
        return ops
    raise InputError(
        f"{cfg.source}: dataset.process_ops[{k}] normalises ({NORM_LABELS[op.norm]}) and --vdsp_params {cfg.vdsp_params} "
        f"normalises ({NORM_LABELS[wanted.norm]}) at run time too; set norm_type: None to let the vdsp file's normalisation apply, "
        "or drop --vdsp_params"
    )


def _same_norm(a: NormalizeOp, b: NormalizeOp) -> bool:
    if a.norm != b.norm:
        return False
    if a.norm not in ("mean_std", "unit_mean_std"):
        return True
    n = min(len(a.mean or ()), len(b.mean or ()))
    return bool(np.allclose((a.mean or ())[:n], (b.mean or ())[:n], rtol=1e-3)
                and np.allclose((a.std or ())[:n], (b.std or ())[:n], rtol=1e-3))


# --- npz files: a dataset without process_ops, or --calib_datalist ---


def npz_member(arrays: dict[str, np.ndarray], k: int, inputs: list[onnx.ValueInfoProto], where: str) -> np.ndarray:
    """Model input k from one npz, by `vampy run --datalist`'s rule (data/npz_inputs.npz_keys): the members named
    like the inputs (gen_vamp_data.py's `input_ids`, `attention_mask`, ...), else input_0..input_N by position
    (sequence2npz.py, image2npz.py)."""
    return arrays[_member_keys(arrays, inputs, where)[k]]


def _member_keys(arrays: dict[str, np.ndarray], inputs: list[onnx.ValueInfoProto], where: str) -> tuple[str, ...]:
    names = [v.name for v in inputs]
    matched = npz_keys(names, arrays)
    if matched is None:
        raise InputError(f"{where}: an npz has members {', '.join(sorted(arrays))[:200]}: name the arrays after the model's "
                         f"inputs ({', '.join(names)}) or input_0..input_{len(names) - 1}")
    return matched[0]


def _unused_members(arrays: dict[str, np.ndarray], inputs: list[onnx.ValueInfoProto], where: str) -> list[str]:
    used = set(_member_keys(arrays, inputs, where))
    return sorted(key for key in arrays if key not in used)


def _npz_dataset_samples(
    cfg: CompileConfig, ds: DatasetConfig, inputs: list[onnx.ValueInfoProto], spec: PreprocessSpec | None, log: BuildLog
) -> Samples:
    """Each npz in dataset.path holds the model's inputs; they are fed as they are (cast to the input's dtype)."""
    from vampy.formats.npz import load_input_npz

    files = _dataset_files(cfg, ds, log)
    batch = _batch_size(inputs[0])
    where = f"{cfg.source}: dataset.path {ds.path}"
    extra = _unused_members(load_input_npz(files[0]), inputs, where)
    if extra:
        log.notes.append(f"dataset: npz members that feed no model input are not used: {', '.join(extra)[:200]}")

    def make(index: int) -> dict[str, np.ndarray]:
        arrays = [load_input_npz(p) for p in files[index * batch : index * batch + batch]]
        return {v.name: _as_model_input([_unbatched(npz_member(a, k, inputs, where), v) for a in arrays], v) for k, v in enumerate(inputs)}

    return Samples("npz", tuple(p.name for p in files), _feed_count(cfg, len(files), batch), make, "none (npz as is)", None)


def _unbatched(raw: np.ndarray, value: onnx.ValueInfoProto) -> np.ndarray:
    """An array that carries the model's batch axis of 1 loses it (the batch is stacked back); a 1-D
    array of ids stays as it is, so [L] and [1, L] both feed a [1, L] input."""
    return raw[0] if raw.ndim == len(dims(value)) and raw.shape[0] == 1 else raw


# --- --calib_datalist ---


def _datalist_samples(cfg: CompileConfig, inputs: list[onnx.ValueInfoProto], spec: PreprocessSpec | None, log: BuildLog) -> Samples:
    from vampy.data.preprocess import normalised_range
    from vampy.formats.datalist import read_datalist
    from vampy.formats.npz import load_input_npz

    entries = read_datalist(Path(cfg.calib_datalist or ""))
    batch = _batch_size(inputs[0])
    if spec is None:
        log.notes.append("--calib_datalist without --vdsp_params: npz arrays are fed to the model as they are")

    def make(index: int) -> dict[str, np.ndarray]:
        arrays = [load_input_npz(e.path) for e in entries[index * batch : index * batch + batch]]
        return {v.name: _as_model_input([_npz_tensor(cfg, a, k, inputs, spec) for a in arrays], v) for k, v in enumerate(inputs)}

    runtime = normalised_range(spec.norm.value, spec.mean, spec.std) if spec is not None and not spec.passthrough else None
    normalisation = f"{NORM_LABELS[spec.norm.value]} from --vdsp_params {cfg.vdsp_params}" if spec is not None else "none (npz as is)"
    names = tuple(e.path.name for e in entries)
    return Samples("datalist", names, _feed_count(cfg, len(entries), batch), make, normalisation, runtime)


def _npz_tensor(
    cfg: CompileConfig, arrays: dict[str, np.ndarray], k: int, inputs: list[onnx.ValueInfoProto], spec: PreprocessSpec | None
) -> np.ndarray:
    """Input k of one npz (npz_member), as `vampy run --datalist` would feed it (vdsp preprocessing, first planes)."""
    value = inputs[k]
    raw = npz_member(arrays, k, inputs, f"--calib_datalist {cfg.calib_datalist}")
    shape = dims(value)
    if spec is None or spec.passthrough or raw.dtype != np.uint8 or len(shape) != 4:
        return _unbatched(raw, value)
    from vampy.data.preprocess import preprocess

    out_hw = spec.output_hw or ((shape[2], shape[3]) if isinstance(shape[2], int) and isinstance(shape[3], int) else None)
    tensor = preprocess(spec, raw, out_hw)
    channels = shape[1]
    return tensor[:channels] if isinstance(channels, int) and channels < tensor.shape[0] else tensor


__all__ = ["NORM_LABELS", "Samples", "calibration_samples", "check_calibration_inputs", "check_range", "npz_member"]
