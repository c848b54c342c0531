"""The vamc compiler YAML (VAMP-FORMATS.md section 6) -> a validated `CompileConfig`.

The vendor's files are read as they are. vamc's spellings (`get_data_num`, `norm_type:
div255_minusmean_divstd`, `quantize_per_channel`, `calibrate_range` as a fraction,
`skip_conv_layers`, `graph.extra_ops`) are translated here and nowhere else (the `dataset` section
and its process_ops in vampy.formats.compile_dataset; the shared checks in compile_checks); the key
vocabulary (which keys are device-only, and why) is data in vampy.formats.compile_vocab. Every problem is one
InputError line naming the file and the key path (`backend.quantize.calibrate_mode`,
`dataset.process_ops[2].size`); other frontends (pytorch, huggingface, ...) are refused first.
Device-only keys (`backend.type`, `backend.compile.*`, `dataset.type`, ...) are accepted and listed
in `ignored_keys` with `ignored_reasons`; a key that looks like a misspelt known one is a warning.

Relative paths in the file (checkpoint, dataset, workspace) are relative to the current working
directory, as with vamc: `vampy compile build/x.yaml` run from the project root writes under
`./deploy_weights/`.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from vampy.config import (
    ACTIVATION_TYPES,
    CALIBRATE_MODES,
    DEFAULT_CALIBRATE_RANGE,
    MAX_DIM,
    PRECISIONS,
    CompileConfig,
    ExtraOp,
    FloatNodes,
    QuantizeConfig,
)
from vampy.config.compile import NmsParams
from vampy.errors import InputError
from vampy.formats import compile_vocab as vocab
from vampy.formats.compile_checks import _bool, _choice, _Ctx, _int, _key, _kind, _number, _section, _text
from vampy.formats.compile_dataset import parse_dataset
from vampy.formats.files import check_nesting, read_input_bytes

MAX_YAML_BYTES = 1 << 20
DEFAULT_WORKSPACE = "deploy_weights"
MIN_BINS, MAX_BINS = 128, 1 << 16
MAX_LAYER_INDEX = 1 << 20

_FOLDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


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
        raise InputError(f"{source}: not valid YAML{where} ({_one_line(getattr(exc, 'problem', None) or type(exc).__name__)})") from None
    except Exception as exc:  # noqa: BLE001 - see below
        # PyYAML's safe constructors raise plain Python errors (ValueError, IndexError,
        # AttributeError, ...) for values such as the date 2020-13-45, `!!float ''` or a
        # 5000-digit number, and RecursionError for deep nesting; none of them runs user code. Their
        # messages quote the value (`invalid literal for int(): 'hunter2'`): only the kind is shown.
        raise InputError(f"{source}: not valid YAML (a value cannot be read: {type(exc).__name__})") from None


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
    dataset = parse_dataset(ctx, top["dataset"]) if top.get("dataset") is not None else None
    extra_ops = _graph(ctx, top["graph"]) if top.get("graph") is not None else ()
    if precision == "int8" and calib_datalist is None and (dataset is None or dataset.path is None):
        where = "dataset" if dataset is None else "dataset.path"
        raise ctx.error(where, "missing; backend.dtype int8 needs calibration images or npz files (or pass --calib_datalist FILE)")
    shapes, shape_ranges = _shapes(ctx, frontend.get("shape"))
    return CompileConfig(
        source=source,
        name=_name(ctx, top["name"]),
        checkpoint=_text(ctx, "frontend.checkpoint", frontend["checkpoint"]),
        precision=precision,
        workspace=_workspace(ctx, top.get("workspace")),
        input_shapes=shapes,
        input_shape_ranges=shape_ranges,
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


# --- sections ---


def _name(ctx: _Ctx, value: object) -> str:
    name = _text(ctx, "name", value)
    # The name becomes a folder under workspace.path: keep every output inside it.
    if not _FOLDER_NAME.match(name) or name in (".", ".."):
        raise ctx.error("name", f"{name!r} must be a plain folder name (letters, digits, . _ + -), no path separators")
    return name


def _workspace(ctx: _Ctx, obj: object) -> str:
    """workspace.path, or work_dir (the older files' spelling of it)."""
    if obj is None:
        return DEFAULT_WORKSPACE
    section = _section(ctx, obj, "workspace", vocab.WORKSPACE_KEYS)
    if section.get("path") is not None and section.get("work_dir") is not None:
        raise ctx.error("workspace.work_dir", "an older spelling of workspace.path; give one of them")
    key = "workspace.path" if section.get("path") is not None else "workspace.work_dir"
    if section.get(key.split(".")[1]) is None:
        raise ctx.error("workspace.path", "missing; it is required (or its older spelling work_dir)")
    return _text(ctx, key, section[key.split(".")[1]])


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


Shape = tuple[int, ...]


def _shapes(ctx: _Ctx, obj: object) -> tuple[tuple[tuple[str, Shape], ...], tuple[tuple[str, Shape, Shape], ...]]:
    """Fixed shapes, and dynamic ranges (`x: [[1, 3, 512, 512], [1, 3, 1280, 1280]]`: min and max)."""
    if obj is None:
        return (), ()
    if not isinstance(obj, Mapping) or not obj:
        raise ctx.error("frontend.shape", f"expected a mapping of input name to shape, e.g. {{input: [1, 1, 256, 256]}}, got {_kind(obj)}")
    shapes: list[tuple[str, Shape]] = []
    ranges: list[tuple[str, Shape, Shape]] = []
    for name, dims in obj.items():
        key = f"frontend.shape.{_key(name)}"
        if not isinstance(dims, (list, tuple)) or not dims:
            raise ctx.error(key, f"expected a list of dimensions such as [1, 3, 224, 224], got {_kind(dims)}")
        if not all(isinstance(d, (list, tuple)) for d in dims):
            shapes.append((str(name), _dims(ctx, key, dims)))
            continue
        low, high = _shape_range(ctx, key, dims)
        if low == high:
            shapes.append((str(name), low))
        else:
            ranges.append((str(name), low, high))
            ctx.notes.append(f"{key}: dynamic, {list(low)} .. {list(high)}: the dims that differ stay dynamic in the compiled model; "
                             "int8 calibrates at the shapes the data has")
    return tuple(shapes), tuple(ranges)


def _dims(ctx: _Ctx, key: str, dims: list[Any] | tuple[Any, ...]) -> Shape:
    return tuple(_int(ctx, key, d, 1, MAX_DIM) for d in dims)


def _shape_range(ctx: _Ctx, key: str, shapes: list[Any] | tuple[Any, ...]) -> tuple[Shape, Shape]:
    """[[min dims], [max dims]] (one shape: fixed); same rank, min <= max in every dim."""
    if not 1 <= len(shapes) <= 2 or not all(shapes):
        raise ctx.error(key, f"expected [dims] or a range [[min dims], [max dims]], got {_kind(shapes)}")
    low, high = _dims(ctx, key, shapes[0]), _dims(ctx, key, shapes[-1])
    if len(low) != len(high) or any(a > b for a, b in zip(low, high)):
        raise ctx.error(key, f"the range {list(low)} .. {list(high)} needs one rank and min <= max in every dimension")
    return low, high


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
        ) + _excluded_operators(ctx, q.get("quantize_operators")),
    )


def _excluded_operators(ctx: _Ctx, value: object) -> tuple[FloatNodes, ...]:
    """quantize_operators: `!name` keeps that operator kind in float (applied); the plain names, the
    kinds the device quantizes, have no ONNX Runtime counterpart (ignored, with the reason)."""
    key = "backend.quantize.quantize_operators"
    if value is None:
        return ()
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not all(isinstance(item, str) and item.strip(" !") for item in items):
        raise ctx.error(key, f"expected a list of operator names such as ['!nn.vacc_matmul'], got {_kind(value)}")
    names = [str(item).strip() for item in items]
    if any(not name.startswith("!") for name in names):
        ctx.ignore(key, vocab.VENDOR_KEYS[key])
    excluded = [name[1:].strip() for name in names if name.startswith("!")]
    return (_float_nodes(ctx, key, excluded, "op_type"),) if excluded else ()


# backend.quantize lists of nodes kept in float -> which nodes their integers count.
_FLOAT_NODE_KEYS = {"skip_conv_layers": "conv", "skip_matmul_layers": "matmul", "exclude_layers": "all", "ops_usingfp": "op_type"}


def _float_nodes(ctx: _Ctx, key: str, value: object, among: str) -> FloatNodes:
    """A list (or one item) of node names or indices; ops_usingfp: operator type names."""
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    out: list[str | int] = []
    for k, item in enumerate(items):
        if isinstance(item, str) and item.strip() and among == "op_type":
            out += [op for op in vocab.onnx_op_types(item) if op not in out]  # the vendor's `concatenate` is ONNX's Concat
        elif isinstance(item, str) and item.strip():
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
        elif kind in vocab.APPLIED_NMS_OPS:
            applied.append(ExtraOp(kind, nms=_nms_params(ctx, f"{key}.params", params)))
        elif vocab.is_not_applied_extra_op(kind):
            ctx.notes.append(
                f"{key}.type {kind}: not applied (the vendor's device post-processing); the compiled model keeps its raw outputs"
            )
        else:
            raise ctx.error(
                f"{key}.type", f"{kind!r} is not an extra op vampy knows (softmax, yolov5_nms, yolov8_nms, yolov11_nms, "
                "yolox_nms; other *_nms and insert_odma are accepted, not applied)"
            )
    return tuple(applied)


def _nms_params(ctx: _Ctx, key: str, params: Mapping[Any, Any]) -> NmsParams:
    """*_nms params vampy applies: thresholds, anchors (yolov5: w, h pixel pairs) and strides; the rest is the device's."""
    for name in params:
        if name not in vocab.NMS_PARAM_KEYS:
            ctx.ignore(f"{key}.{_key(name)}", "a parameter of the vendor's device NMS; vampy's decode takes "
                       + ", ".join(vocab.NMS_PARAM_KEYS))
    defaults = NmsParams()
    classes = params.get("num_classes")
    anchors = _numbers(ctx, f"{key}.anchor", params.get("anchor", []))
    if len(anchors) % 2:
        raise ctx.error(f"{key}.anchor", f"expected w, h pairs, got {len(anchors)} numbers")
    strides = tuple(_int(ctx, f"{key}.strides", s, 1, 1024) for s in _list(ctx, f"{key}.strides", params.get("strides", [8, 16, 32])))
    return NmsParams(
        num_classes=None if classes is None else _int(ctx, f"{key}.num_classes", classes, 1, 100_000),
        nms_threshold=_fraction(ctx, f"{key}.nms_threshold", params.get("nms_threshold", defaults.nms_threshold)),
        confidence_threshold=_fraction(
            ctx, f"{key}.confidence_threshold", params.get("confidence_threshold", defaults.confidence_threshold)
        ),
        anchors=anchors, strides=strides or defaults.strides,
    )


def _list(ctx: _Ctx, key: str, value: object) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise ctx.error(key, f"expected a list, got {_kind(value)}")
    return list(value)


def _numbers(ctx: _Ctx, key: str, value: object) -> tuple[float, ...]:
    return tuple(_number(ctx, key, item) for item in _list(ctx, key, value))


def _fraction(ctx: _Ctx, key: str, value: object) -> float:
    number = _number(ctx, key, value)
    if not 0.0 <= number <= 1.0:
        raise ctx.error(key, f"expected a fraction in [0, 1], got {value}")
    return number


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
