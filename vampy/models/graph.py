"""The ONNX Runtime boundary: resolve `-m`, describe inputs/outputs, open sessions, count MACs.

Everything that touches a model file goes through here, so the rest of the engine deals in
`Path`, `ModelInfo` and numpy dtypes, and every failure becomes one `VampyError` line.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import onnx

from vampy.errors import InputError, ModelError, UsageError

if TYPE_CHECKING:
    import onnxruntime

MODEL_SUFFIX = ".onnx"
DEFAULT_MODEL_NAME = "mod.onnx"
# vamp's compiled model is `PREFIX.so/.json/.params`; a user pasting one of them means PREFIX.
VENDOR_SUFFIXES = (".so", ".params")
# The sidecar is descriptive only; a bigger file is not ours (e.g. a vendor graph JSON).
MAX_SIDECAR_BYTES = 1 << 20
# Convention for the whole project: one multiply-accumulate is two floating-point operations.
FLOPS_PER_MAC = 2

_ORT_TYPES: dict[str, str] = {
    "float": "float32", "double": "float64", "float16": "float16", "bool": "bool", "string": "object",
    "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64",
    "uint8": "uint8", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64",
}


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output. `shape` has None for every symbolic or unknown dim."""

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype[Any]
    # Same length as shape: the symbolic name (e.g. "batch") where the model gives one, else None.
    dim_names: tuple[str | None, ...]
    # False when the model does not even say the rank; shape and dim_names are then ().
    rank_known: bool = True


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    # The parsed sidecar JSON (same stem + .json), e.g. what `vampy zoo` wrote; None when absent.
    metadata: dict[str, Any] | None


# --- resolve -m ---


def resolve_model(arg: str) -> Path:
    """`-m` value -> the .onnx file: a file, a vamp prefix (`dir/mod`), or a folder holding one."""
    if not arg.strip():
        raise InputError("-m: empty model path; give a .onnx file, a prefix DIR/mod, or a folder holding mod.onnx")
    given = Path(arg).expanduser()
    tried = _candidates(given)
    for candidate in tried:
        if candidate.is_file():
            return candidate
    raise InputError(
        f"-m {arg}: no ONNX model found; tried {', '.join(str(p) for p in tried)} "
        "(give a .onnx file, a prefix DIR/mod for DIR/mod.onnx, or a folder holding mod.onnx)"
    )


def _candidates(given: Path) -> list[Path]:
    if given.is_dir():
        return _folder_candidates(given)
    if given.suffix.lower() == MODEL_SUFFIX:
        return [given]
    if given.suffix.lower() in VENDOR_SUFFIXES:
        return [given.with_suffix(MODEL_SUFFIX)]
    if given.is_file():
        # Some other runtime format (e.g. .ort): let ONNX Runtime judge it when it opens.
        return [given]
    return [given.with_name(given.name + MODEL_SUFFIX)]


def _folder_candidates(folder: Path) -> list[Path]:
    preferred = folder / DEFAULT_MODEL_NAME
    if preferred.is_file():
        return [preferred]
    found = sorted(p for p in folder.glob("*" + MODEL_SUFFIX) if p.is_file())
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise InputError(f"-m {folder}: folder holds {len(found)} .onnx files ({names}) and no {DEFAULT_MODEL_NAME}; name one")
    return [preferred, *found] if found else [preferred, folder / ("*" + MODEL_SUFFIX)]


# --- describe ---


def describe_model(path: Path) -> ModelInfo:
    """Inputs, outputs and sidecar metadata, from the ONNX graph alone (no session, no weights data)."""
    if not path.is_file():
        raise InputError(f"model {path}: no such file")
    try:
        # Weights stored outside the file are not needed to read the signature.
        proto = onnx.load(str(path), load_external_data=False)
        inputs, outputs = _signature_from_proto(proto)
    except ModelError:
        raise
    except Exception:  # noqa: BLE001 - not an ONNX protobuf (e.g. .ort): ONNX Runtime may still read it
        inputs, outputs = _signature_from_session(path)
    return ModelInfo(path=path, inputs=inputs, outputs=outputs, metadata=read_sidecar(path))


def _signature_from_proto(proto: onnx.ModelProto) -> tuple[tuple[TensorInfo, ...], tuple[TensorInfo, ...]]:
    graph = proto.graph
    if not graph.output:
        raise ValueError("graph has no outputs")
    # Older exporters list initializers as graph inputs too; they are weights, not feeds.
    weight_names = {init.name for init in graph.initializer}
    inputs = tuple(_tensor_from_value_info(vi) for vi in graph.input if vi.name not in weight_names)
    outputs = tuple(_tensor_from_value_info(vi) for vi in graph.output)
    return inputs, outputs


def _tensor_from_value_info(vi: onnx.ValueInfoProto) -> TensorInfo:
    if vi.type.WhichOneof("value") != "tensor_type":
        raise ModelError(f"model tensor {vi.name!r} is not a plain tensor (sequence/map); vampy feeds and reads tensors only")
    tensor_type = vi.type.tensor_type
    dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type))
    if not tensor_type.HasField("shape"):
        return TensorInfo(vi.name, (), dtype, (), rank_known=False)
    shape: list[int | None] = []
    names: list[str | None] = []
    for dim in tensor_type.shape.dim:
        known = dim.HasField("dim_value") and dim.dim_value > 0
        shape.append(int(dim.dim_value) if known else None)
        names.append(dim.dim_param if dim.HasField("dim_param") and dim.dim_param else None)
    return TensorInfo(vi.name, tuple(shape), dtype, tuple(names))


def _signature_from_session(path: Path) -> tuple[tuple[TensorInfo, ...], tuple[TensorInfo, ...]]:
    session = open_session(path, intra_threads=1)
    inputs = tuple(_tensor_from_node_arg(arg) for arg in session.get_inputs())
    outputs = tuple(_tensor_from_node_arg(arg) for arg in session.get_outputs())
    return inputs, outputs


def _tensor_from_node_arg(arg: Any) -> TensorInfo:
    type_name = str(arg.type)
    if not type_name.startswith("tensor(") or type_name[7:-1] not in _ORT_TYPES:
        raise ModelError(f"model tensor {arg.name!r} has type {type_name}; vampy feeds and reads numeric tensors only")
    dtype = np.dtype(_ORT_TYPES[type_name[7:-1]])
    dims = list(arg.shape) if arg.shape is not None else []
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in dims)
    names = tuple(d if isinstance(d, str) else None for d in dims)
    return TensorInfo(arg.name, shape, dtype, names, rank_known=arg.shape is not None)


def read_sidecar(model_path: Path) -> dict[str, Any] | None:
    """The JSON object beside the model (same stem + .json), or None when absent or not ours.

    The sidecar is informative, never required: an unreadable, oversized or non-object file is
    ignored rather than failing a run (vamp's own compiled `mod.json` is a different format).
    """
    sidecar = model_path.with_suffix(".json")
    try:
        if not sidecar.is_file() or sidecar.stat().st_size > MAX_SIDECAR_BYTES:
            return None
        parsed = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return parsed if isinstance(parsed, dict) else None


# --- sessions ---


def open_session(
    path: Path,
    intra_threads: int,
    inter_threads: int = 1,
    allow_spinning: bool = True,
    profile_prefix: str | None = None,
) -> onnxruntime.InferenceSession:
    """A CPU session, fully optimised, sequential; any load failure is one ModelError line."""
    import onnxruntime as ort

    if intra_threads < 0 or inter_threads < 0:
        raise UsageError(f"threads must be >= 0 (0 lets ONNX Runtime choose); got intra {intra_threads}, inter {inter_threads}")
    if not path.is_file():
        raise InputError(f"model {path}: no such file")
    options = _session_options(ort, intra_threads, inter_threads, allow_spinning, profile_prefix)
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT raises several pybind types; all mean "cannot load"
        raise ModelError(f"model {path}: ONNX Runtime cannot load it: {_first_line(exc)}") from exc


def _session_options(
    ort: Any, intra_threads: int, inter_threads: int, allow_spinning: bool, profile_prefix: str | None
) -> Any:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = intra_threads
    options.inter_op_num_threads = inter_threads
    # ORT would otherwise write warnings to the terminal itself; the engine never prints.
    options.log_severity_level = 3
    spin = "1" if allow_spinning else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", spin)
    options.add_session_config_entry("session.inter_op.allow_spinning", spin)
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    return options


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


# --- MACs and parameters ---


def count_macs_params(
    model: onnx.ModelProto | Path, input_shapes: Mapping[str, Sequence[int]] | None = None
) -> tuple[int, int]:
    """(MACs of one forward pass, parameter count) for Conv, ConvTranspose, Gemm and MatMul.

    1 MAC = one multiply-accumulate = FLOPS_PER_MAC (2) FLOPs; bias adds, activations and
    element-wise ops are not counted. Parameters are the elements of every initializer except
    int64 ones (shapes, axes, indices). Nodes inside subgraphs (If/Loop) are not counted.
    `input_shapes` fixes symbolic input dims, e.g. {"input": (1, 1, 256, 256)}.
    """
    proto = _load_for_counting(model)
    if input_shapes:
        _fix_input_shapes(proto, input_shapes)
    try:
        inferred = onnx.shape_inference.infer_shapes(proto, data_prop=True)
    except Exception as exc:  # noqa: BLE001 - inference errors are model errors here
        raise ModelError(f"cannot infer shapes to count MACs: {_first_line(exc)}") from exc
    shapes = _known_shapes(inferred.graph)
    macs = sum(_node_macs(node, shapes) for node in inferred.graph.node)
    return macs, _count_params(inferred.graph)


def _load_for_counting(model: onnx.ModelProto | Path) -> onnx.ModelProto:
    if isinstance(model, onnx.ModelProto):
        copy = onnx.ModelProto()
        copy.CopyFrom(model)  # input_shapes edits the graph; the caller's model stays as it was
        return copy
    if not model.is_file():
        raise InputError(f"model {model}: no such file")
    try:
        # Initializer dims are in the protobuf even when their data lives outside it.
        return onnx.load(str(model), load_external_data=False)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"model {model}: not a readable ONNX file: {_first_line(exc)}") from exc


def _fix_input_shapes(proto: onnx.ModelProto, input_shapes: Mapping[str, Sequence[int]]) -> None:
    by_name = {vi.name: vi for vi in proto.graph.input}
    for name, dims in input_shapes.items():
        if name not in by_name:
            raise ModelError(f"input_shapes names {name!r}, which is not a model input ({', '.join(by_name)})")
        shape = by_name[name].type.tensor_type.shape
        if len(shape.dim) and len(shape.dim) != len(dims):
            raise ModelError(f"input {name!r} has rank {len(shape.dim)}, but input_shapes gives {list(dims)}")
        shape.ClearField("dim")
        for size in dims:
            shape.dim.add().dim_value = int(size)


def _known_shapes(graph: onnx.GraphProto) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for init in graph.initializer:
        shapes[init.name] = tuple(int(d) for d in init.dims)
    for vi in [*graph.input, *graph.value_info, *graph.output]:
        dims = vi.type.tensor_type.shape.dim
        if vi.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            shapes.setdefault(vi.name, tuple(int(d.dim_value) for d in dims))
    return shapes


def _node_macs(node: onnx.NodeProto, shapes: dict[str, tuple[int, ...]]) -> int:
    if node.op_type not in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
        return 0
    needed = [node.input[0], node.input[1], node.output[0]]
    missing = [name for name in needed if name not in shapes]
    if missing:
        raise ModelError(
            f"cannot count MACs: node {node.name or node.op_type!r} has tensors of unknown shape "
            f"({', '.join(missing)}); give input_shapes for the symbolic inputs"
        )
    a_shape, w_shape, y_shape = (shapes[name] for name in needed)
    if node.op_type == "Conv":
        # Each output element sums (C_in / group) * kernel products.
        return int(np.prod(y_shape)) * int(np.prod(w_shape[1:]))
    if node.op_type == "ConvTranspose":
        # Each input element scatters into (C_out / group) * kernel outputs.
        return int(np.prod(a_shape)) * int(np.prod(w_shape[1:]))
    if node.op_type == "Gemm":
        trans_a = any(attr.name == "transA" and attr.i for attr in node.attribute)
        return int(np.prod(y_shape)) * a_shape[0 if trans_a else 1]
    return int(np.prod(y_shape)) * a_shape[-1]


def _count_params(graph: onnx.GraphProto) -> int:
    return sum(
        int(np.prod(init.dims)) for init in graph.initializer if init.data_type != onnx.TensorProto.INT64
    )


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks (models and weights can be large)."""
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
