"""A model's ONNX graph, read with the onnx package alone: its signature, its precision, its MACs.

No runtime is opened here (engines/ does that): reading a signature or counting MACs needs no
session and no weights data, and every failure becomes one `VampyError` line.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnx

from vampy.errors import InputError, ModelError, first_line
from vampy.models.info import ModelInfo, TensorInfo
from vampy.models.resolve import read_sidecar

# Node types that only a quantized (QDQ or QOperator) graph holds.
_INT8_OPS = frozenset(
    {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger", "DynamicQuantizeLinear"}
)


# --- describe ---


def read_signature(path: Path) -> ModelInfo | None:
    """Inputs, outputs and sidecar metadata from the ONNX graph alone (no session, no weights data).

    None when the file is not an ONNX protobuf at all (e.g. a runtime's own format such as .ort):
    the engine that opens it may still describe it.
    """
    if not path.is_file():
        raise InputError(f"model {path}: no such file")
    try:
        # Weights stored outside the file are not needed to read the signature.
        proto = onnx.load(str(path), load_external_data=False)
        inputs, outputs = _signature_from_proto(proto)
    except ModelError:
        raise
    except Exception:  # noqa: BLE001 - protobuf raises several types; all mean "not an ONNX graph"
        return None
    return ModelInfo(path=path, inputs=inputs, outputs=outputs, metadata=read_sidecar(path))


def graph_precision(path: Path) -> str:
    """The precision the graph computes in: int8 (quantize/dequantize or integer ops), fp16 (float16
    weights), else fp32; "unknown" when the file is not an ONNX graph. Read once per file version:
    every instance of a run opens the same model."""
    try:
        return _graph_precision(str(path), path.stat().st_mtime_ns)
    except OSError:
        return "unknown"


@lru_cache(maxsize=16)
def _graph_precision(path: str, mtime_ns: int) -> str:
    try:
        graph = onnx.load(path, load_external_data=False).graph
    except Exception:  # noqa: BLE001 - not an ONNX protobuf
        return "unknown"
    if any(node.op_type in _INT8_OPS for node in graph.node):
        return "int8"
    if any(init.data_type == onnx.TensorProto.FLOAT16 for init in graph.initializer):
        return "fp16"
    return "fp32"


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


# --- index tables ---

# Ops that pass ids on unchanged in value: exporters cast int32 ids to int64 or reshape them before the
# embedding's Gather, and the table must still be found behind them.
_VALUE_KEEPING_OPS = frozenset({"Cast", "Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten"})


def gather_index_bounds(path: Path) -> dict[str, int]:
    """For each graph input whose values index a constant table through a Gather (a token model's
    embeddings): the table's size along the gathered axis, the exclusive bound of the ids it takes
    (the smallest, where the input indexes several tables). {} when the file is not an ONNX graph."""
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:  # noqa: BLE001 - not an ONNX protobuf (e.g. OpenVINO's .xml): no tables known
        return {}
    tables = _constant_dims(graph)
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    bounds: dict[str, int] = {}
    for graph_input in graph.input:
        rows = _gathered_rows(graph_input.name, consumers, tables)
        if rows:
            bounds[graph_input.name] = min(rows)
    return bounds


def _constant_dims(graph: onnx.GraphProto) -> dict[str, tuple[int, ...]]:
    """The dims of every constant tensor: initializers (data may live outside the file) and Constant nodes."""
    dims = {init.name: tuple(int(d) for d in init.dims) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            value = next((a.t for a in node.attribute if a.name == "value"), None)
            if value is not None:
                dims[node.output[0]] = tuple(int(d) for d in value.dims)
    return dims


def _gathered_rows(name: str, consumers: Mapping[str, list[onnx.NodeProto]], tables: Mapping[str, tuple[int, ...]]) -> list[int]:
    """Sizes of the tables that `name`'s values index, following value-keeping ops."""
    rows: list[int] = []
    pending, seen = [name], {name}
    while pending:
        tensor = pending.pop()
        for node in consumers.get(tensor, []):
            if node.op_type == "Gather" and len(node.input) > 1 and node.input[1] == tensor and node.input[0] in tables:
                table = tables[node.input[0]]
                axis = next((int(a.i) for a in node.attribute if a.name == "axis"), 0)
                if table and -len(table) <= axis < len(table):
                    rows.append(table[axis])
            elif node.op_type in _VALUE_KEEPING_OPS and node.input and node.input[0] == tensor:
                pending += [out for out in node.output if out not in seen]
                seen.update(node.output)
    return rows


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
        raise ModelError(f"cannot infer shapes to count MACs: {first_line(exc)}") from exc
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
        raise ModelError(f"model {model}: not a readable ONNX file: {first_line(exc)}") from exc


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
