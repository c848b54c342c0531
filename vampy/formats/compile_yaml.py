"""The vamc compiler YAML (VAMP-FORMATS.md section 6) -> a validated `CompileConfig`.

The vendor's files are read as they are. vamc's spellings (`get_data_num`, `norm_type:
div255_minusmean_divstd`, `quantize_per_channel`, `calibrate_range` as a fraction,
`skip_conv_layers`, `graph.extra_ops`) are translated here and nowhere else; the key vocabulary
(which keys are device-only, and why) is data in vampy.formats.compile_vocab. Every problem is one
InputError line naming the file and the key path (`backend.quantize.calibrate_mode`,
`dataset.process_ops[2].size`); other frontends (pytorch, huggingface, ...) are refused first.
Device-only keys (`backend.type`, `backend.compile.*`, `dataset.type`, ...) are accepted and listed
in `ignored_keys` with `ignored_reasons`; a key that looks like a misspelt known one is a warning.

Relative paths in the file (checkpoint, dataset, workspace) are relative to the current working
directory, as with vamc: `vampy compile build/x.yaml` run from the project root writes under
`./deploy_weights/`.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from vampy.config import (
    ACTIVATION_TYPES,
    CALIBRATE_MODES,
    DEFAULT_CALIBRATE_RANGE,
    MAX_DIM,
    PRECISIONS,
    CenterCropOp,
    ChannelSplitOp,
    CompileConfig,
    CvtColorOp,
    DatasetConfig,
    DecodeImageOp,
    ExtraOp,
    FloatNodes,
    NormalizeOp,
    PadOp,
    ProcessOp,
    QuantizeConfig,
    ResizeOp,
    ToTensorOp,
)
from vampy.errors import InputError, short_repr
from vampy.formats import compile_vocab as vocab
from vampy.formats.files import check_nesting, read_input_bytes

MAX_YAML_BYTES = 1 << 20
DEFAULT_WORKSPACE = "deploy_weights"
MIN_BINS, MAX_BINS = 128, 1 << 16
MAX_LAYER_INDEX = 1 << 20

# vamc norm_type spellings -> CompileConfig's normalisation names (vampy.formats.vdsp.Norm values).
_NORM_TYPES = {
    "none": "none",
    "div255": "unit",
    "minusmean_divstd": "mean_std",
    "div255_minusmean_divstd": "unit_mean_std",
}
_INTERPOLATIONS = {"nearest": "nearest", "bilinear": "bilinear", "linear": "bilinear", "bicubic": "bicubic",
                   "cubic": "bicubic", "area": "area", "lanczos": "lanczos"}
_RESIZE_BACKENDS = {"cv2": "cv2", "opencv": "cv2", "pillow": "pillow", "pil": "pillow"}
_COLOUR_FLAGS = ("IMREAD_COLOR", "IMREAD_UNCHANGED", "IMREAD_ANYCOLOR")
_CV_CODE = re.compile(r"^COLOR_[A-Za-z0-9_]+$")
_FOLDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


class _Ctx:
    """Where we are in the file, so every error names the file and the key path; what was ignored, and why."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.ignored: list[str] = []
        self.reasons: list[str] = []
        self.warnings: list[str] = []
        self.notes: list[str] = []

    def error(self, key: str, problem: str) -> InputError:
        return InputError(f"{self.source}: {key}: {problem}")

    def ignore(self, key: str, reason: str) -> None:
        self.ignored.append(key)
        self.reasons.append(reason)


def load_compile_config(path: str | Path, vdsp_params: str | None = None, calib_datalist: str | None = None) -> CompileConfig:
    """Read and validate a vamc YAML; the CLI's --vdsp_params and --calib_datalist ride along."""
    source = Path(path)
    return parse_compile_config(_read_yaml(source), str(source), vdsp_params, calib_datalist)


def _read_yaml(source: Path) -> object:
    try:
        text = read_input_bytes(source, "give the compiler YAML file", MAX_YAML_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise InputError(f"{source}: no such compiler YAML file") from None
    except IsADirectoryError:
        raise InputError(f"{source}: is a folder; give the compiler YAML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{source}: cannot read it ({exc})") from None
    check_nesting(text, str(source))
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{source}: not valid YAML{where} ({_one_line(getattr(exc, 'problem', None) or exc)})") from None
    except Exception as exc:  # noqa: BLE001 - see below
        # PyYAML's safe constructors raise plain Python errors (ValueError, IndexError,
        # AttributeError, ...) for values such as the date 2020-13-45, `!!float ''` or a
        # 5000-digit number, and RecursionError for deep nesting; none of them runs user code.
        raise InputError(f"{source}: not valid YAML (a value cannot be read: {_one_line(exc)})") from None


def _one_line(detail: object) -> str:
    return " ".join(str(detail).split())[:200] or "unknown problem"


def parse_compile_config(obj: object, source: str, vdsp_params: str | None = None, calib_datalist: str | None = None) -> CompileConfig:
    ctx = _Ctx(source)
    top = _section(ctx, obj, "", vocab.TOP_KEYS, required=("name", "frontend", "backend"))
    # The frontend first: a PyTorch or Hugging Face file is refused for what it is, whatever else it holds.
    if isinstance(top["frontend"], Mapping):
        _frontend_type(ctx, top["frontend"])
    frontend = _section(ctx, top["frontend"], "frontend", vocab.FRONTEND_KEYS)
    frontend_dtype = _frontend(ctx, frontend)
    backend = _section(ctx, top["backend"], "backend", vocab.BACKEND_KEYS, required=("dtype",))
    precision = _choice(ctx, "backend.dtype", backend["dtype"], PRECISIONS)
    quantize = _quantize(ctx, backend.get("quantize"))
    dataset = _dataset(ctx, top["dataset"]) if top.get("dataset") is not None else None
    extra_ops = _graph(ctx, top["graph"]) if top.get("graph") is not None else ()
    if precision == "int8" and dataset is None and calib_datalist is None:
        raise ctx.error("dataset", "missing; backend.dtype int8 needs calibration images (or pass --calib_datalist FILE)")
    return CompileConfig(
        source=source,
        name=_name(ctx, top["name"]),
        checkpoint=_text(ctx, "frontend.checkpoint", frontend["checkpoint"]),
        precision=precision,
        workspace=_workspace(ctx, top.get("workspace")),
        input_shapes=_shapes(ctx, frontend.get("shape")),
        frontend_dtype=frontend_dtype,
        quantize=quantize,
        dataset=dataset,
        vdsp_params=vdsp_params,
        calib_datalist=calib_datalist,
        ignored_keys=tuple(ctx.ignored),
        unused_keys=_unused(top, backend, precision, vdsp_params, calib_datalist),
        ignored_reasons=tuple(ctx.reasons),
        extra_ops=extra_ops,
        warnings=tuple(ctx.warnings),
        notes=tuple(ctx.notes),
    )


# --- generic checks ---


def _section(ctx: _Ctx, obj: object, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The known keys of one mapping; device-only keys are ignored with their reason, a key that
    looks like a misspelt known one is a warning, any other key an error naming its path."""
    where = path or "the top level"
    if not isinstance(obj, Mapping):
        raise ctx.error(where, f"expected a mapping of keys, got {_kind(obj)}")
    out: dict[str, Any] = {}
    for key, value in obj.items():
        full = f"{path}.{_key(key)}" if path else _key(key)
        reason = vocab.vendor_reason(full) if isinstance(key, str) else None
        if key in allowed:
            out[key] = value
        elif reason is not None and full in vocab.VENDOR_SECTIONS and isinstance(value, Mapping) and value:
            for sub in value:  # each device option listed, with its own reason where the zoo's files tell it
                ctx.ignore(f"{full}.{_key(sub)}", vocab.vendor_reason(f"{full}.{_key(sub)}") or reason)
        elif reason is not None:
            ctx.ignore(full, reason)
        elif isinstance(key, str) and (likely := vocab.likely_key(key, allowed)) is not None:
            ctx.warnings.append(f"{ctx.source}: {full}: unknown key, probably a misspelling of {likely}; ignored "
                                f"(as the vendor's compiler ignores it): write {likely} to set it")
            ctx.ignore(full, f"misspelt {likely}")
        else:
            raise ctx.error(full, f"unknown key (expected one of: {', '.join(allowed)})")
    for key in required:
        if out.get(key) is None:
            raise ctx.error(f"{path}.{key}" if path else key, "missing; it is required")
    return out


def _kind(value: object) -> str:
    # reprlib bounds the work: YAML aliases can make a tiny file a value with a gigabyte repr.
    return "nothing" if value is None else f"{type(value).__name__} {short_repr(value, 60)}"[:80]


def _key(key: object) -> str:
    """A key as written when it is plain text; repr otherwise, so every message stays one line."""
    return key if isinstance(key, str) and key.isprintable() else short_repr(key, 60)


def _text(ctx: _Ctx, key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ctx.error(key, f"expected a non-empty string, got {_kind(value)}")
    return value.strip()


def _choice(ctx: _Ctx, key: str, value: object, choices: tuple[str, ...]) -> str:
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text not in choices:
        raise ctx.error(key, f"{_kind(value)} is not one of {', '.join(choices)}")
    return text


def _bool(ctx: _Ctx, key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ctx.error(key, f"expected true or false, got {_kind(value)}")
    return value


def _int(ctx: _Ctx, key: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ctx.error(key, f"expected a whole number from {low} to {high}, got {_kind(value)}")
    return value


def _is_finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float range (YAML allows 10**400)
        return False


def _number(ctx: _Ctx, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _is_finite(value):
        raise ctx.error(key, f"expected a number, got {_kind(value)}")
    return float(value)


def _size_wh(ctx: _Ctx, key: str, value: object) -> tuple[int, int]:
    """One number (square) or [width, height], as cv2.resize takes its size."""
    if isinstance(value, int) and not isinstance(value, bool):
        side = _int(ctx, key, value, 1, MAX_DIM)
        return side, side
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return _int(ctx, key, value[0], 1, MAX_DIM), _int(ctx, key, value[1], 1, MAX_DIM)
    raise ctx.error(key, f"expected one number or [width, height], got {_kind(value)}")


# --- sections ---


def _name(ctx: _Ctx, value: object) -> str:
    name = _text(ctx, "name", value)
    # The name becomes a folder under workspace.path: keep every output inside it.
    if not _FOLDER_NAME.match(name) or name in (".", ".."):
        raise ctx.error("name", f"{name!r} must be a plain folder name (letters, digits, . _ + -), no path separators")
    return name


def _workspace(ctx: _Ctx, obj: object) -> str:
    if obj is None:
        return DEFAULT_WORKSPACE
    section = _section(ctx, obj, "workspace", vocab.WORKSPACE_KEYS, required=("path",))
    return _text(ctx, "workspace.path", section["path"])


def _frontend(ctx: _Ctx, frontend: dict[str, Any]) -> str:
    _frontend_type(ctx, frontend)
    if frontend.get("checkpoint") is None:
        raise ctx.error("frontend.checkpoint", "missing; it is required")
    return _choice(ctx, "frontend.dtype", frontend.get("dtype", "fp32"), vocab.FRONTEND_DTYPES)


def _frontend_type(ctx: _Ctx, frontend: Mapping[Any, Any]) -> None:
    """frontend.type: missing with a .onnx checkpoint means onnx; any other frontend is refused."""
    kind = frontend.get("type")
    checkpoint = frontend.get("checkpoint")
    fix = "export the model to ONNX first (the seed's step 1) and point frontend.checkpoint at the .onnx file (type: onnx)"
    if kind is None:
        if not (isinstance(checkpoint, str) and checkpoint.strip().lower().endswith(".onnx")):
            raise ctx.error("frontend.type", f"missing, and frontend.checkpoint {_kind(checkpoint)} is not an .onnx file: {fix}")
    elif not isinstance(kind, str) or kind.strip().lower() != "onnx":
        raise ctx.error("frontend.type", f"{_kind(kind)}: vampy compiles ONNX models only; {fix}")


def _shapes(ctx: _Ctx, obj: object) -> tuple[tuple[str, tuple[int, ...]], ...]:
    if obj is None:
        return ()
    if not isinstance(obj, Mapping) or not obj:
        raise ctx.error("frontend.shape", f"expected a mapping of input name to shape, e.g. {{input: [1, 1, 256, 256]}}, got {_kind(obj)}")
    shapes = []
    for name, dims in obj.items():
        key = f"frontend.shape.{_key(name)}"
        if not isinstance(dims, (list, tuple)) or not dims:
            raise ctx.error(key, f"expected a list of dimensions such as [1, 3, 224, 224], got {_kind(dims)}")
        shapes.append((str(name), tuple(_int(ctx, key, d, 1, MAX_DIM) for d in dims)))
    return tuple(shapes)


def _quantize(ctx: _Ctx, obj: object) -> QuantizeConfig:
    if obj is None:
        return QuantizeConfig()
    q = _section(ctx, obj, "backend.quantize", vocab.QUANTIZE_KEYS)
    key = "backend.quantize."
    return QuantizeConfig(
        calibrate_mode=_choice(ctx, key + "calibrate_mode", q.get("calibrate_mode", "kl_divergence"), CALIBRATE_MODES),
        per_channel=_bool(ctx, key + "quantize_per_channel", q.get("quantize_per_channel", False)),
        calibrate_range=_calibrate_range(ctx, q.get("calibrate_range", DEFAULT_CALIBRATE_RANGE)),
        skip_layers=_skip_layers(ctx, q.get("skip_layers", [])),
        activation_type=_choice(ctx, key + "activation_type", q.get("activation_type", "uint8"), ACTIVATION_TYPES),
        num_bins=None if q.get("num_bins") is None else _int(ctx, key + "num_bins", q["num_bins"], MIN_BINS, MAX_BINS),
        float_nodes=tuple(
            _float_nodes(ctx, key + name, q[name], among) for name, among in _FLOAT_NODE_KEYS.items() if q.get(name) is not None
        ),
    )


# backend.quantize lists of nodes kept in float -> which nodes their integers count.
_FLOAT_NODE_KEYS = {"skip_conv_layers": "conv", "skip_matmul_layers": "matmul", "exclude_layers": "all", "ops_usingfp": "op_type"}


def _float_nodes(ctx: _Ctx, key: str, value: object, among: str) -> FloatNodes:
    """A list (or one item) of node names or indices; ops_usingfp: operator type names."""
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    out: list[str | int] = []
    for k, item in enumerate(items):
        if isinstance(item, str) and item.strip():
            out.append(item.strip())
        elif among != "op_type" and isinstance(item, int) and not isinstance(item, bool) and abs(item) <= MAX_LAYER_INDEX:
            out.append(item)
        else:
            wanted = "an operator type such as Softmax" if among == "op_type" else "a node name or an index (0 = first, -1 = last)"
            raise ctx.error(f"{key}[{k}]", f"expected {wanted}, got {_kind(item)}")
    return FloatNodes(key, among, tuple(out))


def _graph(ctx: _Ctx, obj: object) -> tuple[ExtraOp, ...]:
    graph = _section(ctx, obj, "graph", vocab.GRAPH_KEYS)
    ops = graph.get("extra_ops")
    if ops is None:
        return ()
    items = [ops] if isinstance(ops, Mapping) else ops
    if not isinstance(items, list):
        raise ctx.error("graph.extra_ops", f"expected a mapping such as {{type: softmax}} or a list of them, got {_kind(ops)}")
    applied: list[ExtraOp] = []
    for k, item in enumerate(items):
        key = "graph.extra_ops" if isinstance(ops, Mapping) else f"graph.extra_ops[{k}]"
        op = _section(ctx, item, key, vocab.EXTRA_OP_KEYS, required=("type",))
        kind = _text(ctx, f"{key}.type", op["type"]).lower()
        params = op.get("params") or {}
        if not isinstance(params, Mapping):
            raise ctx.error(f"{key}.params", f"expected a mapping, got {_kind(params)}")
        if kind == "softmax":
            applied.append(ExtraOp("softmax", _softmax_axis(ctx, f"{key}.params", params)))
        elif vocab.is_not_applied_extra_op(kind):
            ctx.notes.append(
                f"{key}.type {kind}: not applied (the vendor's device post-processing); the compiled model keeps its raw outputs"
            )
        else:
            raise ctx.error(
                f"{key}.type", f"{kind!r} is not an extra op vampy knows (softmax; *_nms and insert_odma are accepted, not applied)"
            )
    return tuple(applied)


def _softmax_axis(ctx: _Ctx, key: str, params: Mapping[Any, Any]) -> int:
    for name in params:
        if name != "axis":
            ctx.ignore(f"{key}.{_key(name)}", "a softmax parameter of the vendor's device; vampy's Softmax takes axis only")
    return _int(ctx, f"{key}.axis", params.get("axis", -1), -8, 8)


def _calibrate_range(ctx: _Ctx, value: object) -> float:
    fraction = _number(ctx, "backend.quantize.calibrate_range", value)
    if not 0.5 <= fraction <= 1.0:
        raise ctx.error("backend.quantize.calibrate_range", f"{value} must be a fraction in [0.5, 1] (vamc writes 0.99999 for 99.999 %)")
    return fraction


def _skip_layers(ctx: _Ctx, value: object) -> tuple[str | int, ...]:
    key = "backend.quantize.skip_layers"
    if not isinstance(value, (list, tuple)):
        raise ctx.error(key, f"expected a list of node names or Conv indices, got {_kind(value)}")
    out: list[str | int] = []
    for k, item in enumerate(value):
        if isinstance(item, str) and item.strip():
            out.append(item.strip())
        elif isinstance(item, int) and not isinstance(item, bool) and item >= 0:
            out.append(item)
        else:
            raise ctx.error(f"{key}[{k}]", f"expected a node name or a Conv index (0 = first Conv), got {_kind(item)}")
    return tuple(out)


def _dataset(ctx: _Ctx, obj: object) -> DatasetConfig:
    d = _section(ctx, obj, "dataset", vocab.DATASET_KEYS, required=("path",))
    sampler = _section(ctx, d.get("sampler") or {}, "dataset.sampler", vocab.SAMPLER_KEYS)
    num = sampler.get("get_data_num")
    return DatasetConfig(
        path=_text(ctx, "dataset.path", d["path"]),
        suffixes=_suffixes(ctx, sampler.get("suffix")),
        pattern=_pattern(ctx, sampler.get("pattern", "*")),
        max_samples=None if num is None else _int(ctx, "dataset.sampler.get_data_num", num, 1, 10**7),
        ops=_process_ops(ctx, d.get("process_ops")),
    )


def _suffixes(ctx: _Ctx, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(s, str) and s.strip(" .") for s in items):
        raise ctx.error("dataset.sampler.suffix", f"expected a file suffix such as bmp (or a list), got {_kind(value)}")
    return tuple(s.strip().lstrip(".").lower() for s in items)


def _pattern(ctx: _Ctx, value: object) -> str:
    pattern = _text(ctx, "dataset.sampler.pattern", value)
    if "/" in pattern or "\\" in pattern:
        raise ctx.error("dataset.sampler.pattern", f"{pattern!r} matches file names inside dataset.path; no folders (e.g. '*_scale_4.bmp')")
    return pattern


# --- process_ops ---


def _process_ops(ctx: _Ctx, obj: object) -> tuple[ProcessOp, ...]:
    key = "dataset.process_ops"
    if not isinstance(obj, list) or not obj:
        raise ctx.error(key, f"expected a list of operations starting with '- type: DecodeImage', got {_kind(obj)}")
    ops = tuple(_process_op(ctx, f"{key}[{k}]", item) for k, item in enumerate(obj))
    if not isinstance(ops[0], DecodeImageOp) or any(isinstance(op, DecodeImageOp) for op in ops[1:]):
        raise ctx.error(key, "DecodeImage must come first, once (it reads each file as an RGB image)")
    tensors = [k for k, op in enumerate(ops) if isinstance(op, ToTensorOp)]
    if tensors and tensors != [len(ops) - 1]:
        raise ctx.error(f"{key}[{tensors[0]}]", "ToTensor must be the last operation, once")
    return ops


def _process_op(ctx: _Ctx, key: str, obj: object) -> ProcessOp:
    if not isinstance(obj, Mapping) or not isinstance(obj.get("type"), str):
        raise ctx.error(key, f"expected a mapping with a 'type' (e.g. type: Resize), got {_kind(obj)}")
    kind = obj["type"]
    if kind not in _OP_PARSERS:
        raise ctx.error(f"{key}.type", f"unknown operation {kind!r} (expected one of: {', '.join(_OP_PARSERS)})")
    allowed, parse = _OP_PARSERS[kind]
    params = _section(ctx, {k: v for k, v in obj.items() if k != "type"}, key, allowed)
    return parse(ctx, key, params)


def _decode(ctx: _Ctx, key: str, p: dict[str, Any]) -> ProcessOp:
    """vampy decodes every file to RGB with OpenCV; `backend` (cv2 or pillow) decodes the same pixels
    for the lossless formats and nearly so for JPEG; cv2_flags may only ask for colour."""
    if "backend" in p:
        _choice(ctx, f"{key}.backend", p["backend"], tuple(_RESIZE_BACKENDS))
    flags = p.get("cv2_flags")
    if flags is not None and not (flags in (1, -1) or (isinstance(flags, str) and flags.split(".")[-1] in _COLOUR_FLAGS)):
        raise ctx.error(f"{key}.cv2_flags", f"{_kind(flags)}: vampy decodes to RGB colour (IMREAD_COLOR); convert afterwards with CvtColor")
    return DecodeImageOp()


def _cvt_color(ctx: _Ctx, key: str, p: dict[str, Any]) -> ProcessOp:
    code = _text(ctx, f"{key}.code", p.get("code"))
    if not _CV_CODE.match(code):
        raise ctx.error(f"{key}.code", f"{code!r} is not an OpenCV colour code name such as COLOR_RGB2YCrCb")
    return CvtColorOp(code)


def _resize(ctx: _Ctx, key: str, p: dict[str, Any]) -> ProcessOp:
    if "size" not in p:
        raise ctx.error(f"{key}.size", "missing; give one number or [width, height]")
    size = _size_wh(ctx, f"{key}.size", p["size"])
    side = p.get("adaptive_side")
    if side is not None:
        side = _choice(ctx, f"{key}.adaptive_side", side, ("short", "long"))
        if size[0] != size[1]:
            raise ctx.error(f"{key}.size", "with adaptive_side give one number: the length of that side")
    return ResizeOp(
        size_wh=size,
        interpolation=_INTERPOLATIONS[_choice(ctx, f"{key}.interpolation", p.get("interpolation", "bilinear"), tuple(_INTERPOLATIONS))],
        backend=_RESIZE_BACKENDS[_choice(ctx, f"{key}.backend", p.get("backend", "cv2"), tuple(_RESIZE_BACKENDS))],
        adaptive_side=side,
    )


def _channel_split(ctx: _Ctx, key: str, p: dict[str, Any]) -> ProcessOp:
    return ChannelSplitOp(_int(ctx, f"{key}.index", p.get("index"), 0, 3))


def _normalize(ctx: _Ctx, key: str, p: dict[str, Any]) -> ProcessOp:
    mean = _channels(ctx, f"{key}.mean", p.get("mean"))
    std = _channels(ctx, f"{key}.std", p.get("std"))
    norm = _norm_type(ctx, key, p, mean is not None)
    if norm in ("mean_std", "unit_mean_std"):
        if mean is None or std is None:
            raise ctx.error(key, "this norm_type needs both mean and std")
        if len(mean) != len(std) or any(s == 0 for s in std):
            raise ctx.error(f"{key}.std", "mean and std need the same number of values, and std no zeros")
    return NormalizeOp(norm, mean, std)


def _norm_type(ctx: _Ctx, key: str, p: dict[str, Any], has_mean: bool) -> str:
    if "norm_type" in p:
        if "div255" in p:
            raise ctx.error(f"{key}.div255", "give norm_type or div255, not both")
        value = p["norm_type"]
        # YAML reads `norm_type: None` as the string "None" and `norm_type: null` as nothing.
        return _NORM_TYPES[_choice(ctx, f"{key}.norm_type", "none" if value is None else value, tuple(_NORM_TYPES))]
    div255 = _bool(ctx, f"{key}.div255", p.get("div255", False))
    if not div255 and not has_mean:
        raise ctx.error(key, f"give norm_type ({', '.join(_NORM_TYPES)}), or div255 and/or mean, std")
    return ("unit_mean_std" if has_mean else "unit") if div255 else "mean_std"


def _channels(ctx: _Ctx, key: str, value: object) -> tuple[float, ...] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= 4:
        raise ctx.error(key, f"expected a list of 1 to 4 numbers, got {_kind(value)}")
    return tuple(_number(ctx, key, v) for v in value)


def _to_tensor(ctx: _Ctx, key: str, p: dict[str, Any]) -> ProcessOp:
    return ToTensorOp()


def _center_crop(ctx: _Ctx, key: str, p: dict[str, Any]) -> ProcessOp:
    if "crop_size" not in p:
        raise ctx.error(f"{key}.crop_size", "missing; give one number or [width, height]")
    return CenterCropOp(_size_wh(ctx, f"{key}.crop_size", p["crop_size"]))


def _pad(ctx: _Ctx, key: str, p: dict[str, Any]) -> ProcessOp:
    square = _bool(ctx, f"{key}.pad_to_square", p.get("pad_to_square", False))
    size = _size_wh(ctx, f"{key}.size", p["size"]) if p.get("size") is not None else None
    if square == (size is not None):
        raise ctx.error(key, "give either pad_to_square: true or size: [width, height]")
    return PadOp(pad_to_square=square, size_wh=size, value=_number(ctx, f"{key}.value", p.get("value", 0)))


_OP_PARSERS: dict[str, tuple[tuple[str, ...], Callable[[_Ctx, str, dict[str, Any]], ProcessOp]]] = {
    "DecodeImage": (("backend", "cv2_flags"), _decode),
    "CvtColor": (("code",), _cvt_color),
    "Resize": (("size", "interpolation", "backend", "adaptive_side"), _resize),
    "ChannelSplit": (("index",), _channel_split),
    "Normalize": (("norm_type", "mean", "std", "div255"), _normalize),
    "ToTensor": ((), _to_tensor),
    "CenterCrop": (("crop_size",), _center_crop),
    "Pad": (("pad_to_square", "size", "value"), _pad),
}


def _unused(
    top: dict[str, Any], backend: dict[str, Any], precision: str, vdsp_params: str | None, calib_datalist: str | None
) -> tuple[str, ...]:
    """Valid keys and flags this run does not use: reported, so nobody believes they changed the result."""
    unused = []
    if precision != "int8":
        candidates = (("backend.quantize", "quantize" in backend), ("dataset", "dataset" in top),
                      ("--vdsp_params", vdsp_params is not None), ("--calib_datalist", calib_datalist is not None))
        unused += [key for key, present in candidates if present]
    elif calib_datalist is not None and "dataset" in top:
        unused.append("dataset (replaced by --calib_datalist)")
    return tuple(unused)


__all__ = ["DEFAULT_WORKSPACE", "load_compile_config", "parse_compile_config"]
