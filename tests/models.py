"""Tiny ONNX models for everyone's tests, built with onnx.helper (no model is ever committed).

Each builder writes the model to `path` (creating its folder), checks it with onnx.checker and
returns the path. Names are stable: single-input models use `input`, single-output ones `output`.
Dims given as str (or None) become symbolic. Independent of vampy, so any test can use them.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # what opset 17 shipped with; accepted by every supported onnxruntime

Dim = int | str | None


def save(model: onnx.ModelProto, path: Path) -> Path:
    """Check (including strict shape inference) and write; returns path."""
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def make_model(graph: onnx.GraphProto) -> onnx.ModelProto:
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION, producer_name="vampy-tests")


def _elem(dtype: np.dtype | type) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def conv_model(
    path: Path, in_ch: int = 1, out_ch: int = 1, hw: tuple[int, int] = (8, 8), dynamic: bool = False, seed: int = 0
) -> Path:
    """A mini VDSR: `output = conv3x3(input, pad 1, with bias) + input` (residual only when
    in_ch == out_ch). Weights are seeded; the weight is `conv.weight` (out,in,3,3), bias `conv.bias`.
    dynamic: N, H, W are symbolic ("batch", "height", "width")."""
    rng = np.random.default_rng(seed)
    weight = (rng.standard_normal((out_ch, in_ch, 3, 3)) * np.sqrt(2.0 / (in_ch * 9))).astype(np.float32)
    bias = (rng.standard_normal(out_ch) * 0.01).astype(np.float32)
    n, h, w = ("batch", "height", "width") if dynamic else (1, hw[0], hw[1])
    residual = in_ch == out_ch
    nodes = [helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["conv_out" if residual else "output"],
                              name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    if residual:
        nodes.append(helper.make_node("Add", ["conv_out", "input"], ["output"], name="residual_add"))
    graph = helper.make_graph(
        nodes, "conv_model",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [n, in_ch, h, w])],
        [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, [n, out_ch, h, w])],
        initializer=[numpy_helper.from_array(weight, "conv.weight"), numpy_helper.from_array(bias, "conv.bias")],
    )
    return save(make_model(graph), path)


def identity_like_model(path: Path, shape: Sequence[Dim], dtype: np.dtype | type = np.float32) -> Path:
    """`output = Identity(input)`, any shape (str/None dims symbolic) and any numeric dtype."""
    elem = _elem(dtype)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["output"], name="identity")], "identity_like_model",
        [helper.make_tensor_value_info("input", elem, list(shape))],
        [helper.make_tensor_value_info("output", elem, list(shape))],
    )
    return save(make_model(graph), path)


TOKEN_INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def token_input_names(n_inputs: int) -> list[str]:
    """BERT's names for the first three inputs, then `input_3`, `input_4`, ..."""
    return [TOKEN_INPUT_NAMES[i] if i < len(TOKEN_INPUT_NAMES) else f"input_{i}" for i in range(n_inputs)]


def token_model(
    path: Path, n_inputs: int = 2, seq_len: int = 16, dtype: np.dtype | type = np.int32, dynamic: bool = False
) -> Path:
    """Integer inputs (1, seq_len) named like BERT's -> `output` float32 (1, seq_len), the
    element-wise sum of all inputs cast to float (so pass-through tests can check exact values).
    dynamic: batch and sequence dims are symbolic ("batch", "sequence")."""
    names = token_input_names(n_inputs)
    shape: list[Dim] = ["batch", "sequence"] if dynamic else [1, seq_len]
    nodes = [helper.make_node("Cast", [name], [f"{name}_f"], name=f"cast_{name}", to=onnx.TensorProto.FLOAT) for name in names]
    total = f"{names[0]}_f"
    for index, name in enumerate(names[1:], start=1):
        out = "output" if index == n_inputs - 1 else f"sum_{index}"
        nodes.append(helper.make_node("Add", [total, f"{name}_f"], [out], name=f"add_{index}"))
        total = out
    if n_inputs == 1:
        nodes.append(helper.make_node("Identity", [total], ["output"], name="identity"))
    graph = helper.make_graph(
        nodes, "token_model",
        [helper.make_tensor_value_info(name, _elem(dtype), shape) for name in names],
        [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, shape)],
    )
    return save(make_model(graph), path)


def two_output_model(path: Path, shape: Sequence[Dim] = (1, 4)) -> Path:
    """float32 `input` -> outputs declared in this order: `zeta` = input + 1, then `alpha` = input * 2.
    The declared order is not alphabetical, so tests catch code that sorts outputs by name."""
    one = numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")
    two = numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")
    graph = helper.make_graph(
        [helper.make_node("Add", ["input", "one"], ["zeta"], name="add_one"),
         helper.make_node("Mul", ["input", "two"], ["alpha"], name="mul_two")],
        "two_output_model",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("zeta", onnx.TensorProto.FLOAT, list(shape)),
         helper.make_tensor_value_info("alpha", onnx.TensorProto.FLOAT, list(shape))],
        initializer=[one, two],
    )
    return save(make_model(graph), path)


def slow_model(path: Path, ms: float = 5.0, size: int = 384, seed: int = 0) -> Path:
    """float32 `input` (1, 1, size, size) -> `output` of the same shape through a chain of
    size x size MatMuls with orthogonal matrices (the norm is preserved, values stay finite).
    About round(ms) layers, each roughly 1 ms on one modern core at the default size 384: a model that takes
    measurable time, never a timing oracle (tests must not assert speed)."""
    rng = np.random.default_rng(seed)
    n_layers = max(1, round(ms))
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    current = "input"
    for index in range(n_layers):
        q, _ = np.linalg.qr(rng.standard_normal((size, size)))
        inits.append(numpy_helper.from_array(q.astype(np.float32), f"w{index:03d}"))
        out = "output" if index == n_layers - 1 else f"h{index:03d}"
        nodes.append(helper.make_node("MatMul", [current, f"w{index:03d}"], [out], name=f"matmul{index:03d}"))
        current = out
    shape = [1, 1, size, size]
    graph = helper.make_graph(
        nodes, "slow_model",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, shape)],
        initializer=inits,
    )
    return save(make_model(graph), path)


def corrupt_model(path: Path) -> Path:
    """A file named like a model that is not one (ONNX Runtime and onnx both refuse it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x08\x07this is not an onnx protobuf \xff\xfe" * 8)
    return path


def looping_model(path: Path, iterations: int, size: int = 256, seed: int = 0) -> Path:
    """float32 `input` (1, size) -> `output` (1, size) after `iterations` MatMuls in an ONNX Loop:
    a tiny file whose request takes as long as a test needs (e.g. to provoke --timeout)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((size, size)))
    body = helper.make_graph(
        [
            helper.make_node("MatMul", ["state_in", "w"], ["product"], name="loop_matmul"),
            helper.make_node("Identity", ["cond_in"], ["cond_out"], name="loop_cond"),
            helper.make_node("Identity", ["product"], ["state_out"], name="loop_state"),
        ],
        "loop_body",
        [
            helper.make_tensor_value_info("iter", onnx.TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", onnx.TensorProto.BOOL, []),
            helper.make_tensor_value_info("state_in", onnx.TensorProto.FLOAT, [1, size]),
        ],
        [
            helper.make_tensor_value_info("cond_out", onnx.TensorProto.BOOL, []),
            helper.make_tensor_value_info("state_out", onnx.TensorProto.FLOAT, [1, size]),
        ],
    )
    graph = helper.make_graph(
        [helper.make_node("Loop", ["trip_count", "keep_going", "input"], ["output"], name="loop", body=body)],
        "looping_model",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [1, size])],
        [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, [1, size])],
        initializer=[
            numpy_helper.from_array(np.array(iterations, np.int64), "trip_count"),
            numpy_helper.from_array(np.array(True), "keep_going"),
            numpy_helper.from_array(q.astype(np.float32), "w"),
        ],
    )
    return save(make_model(graph), path)


def x_to_y_model(folder: Path, name: str, nodes: list[onnx.NodeProto], initializers: list[onnx.TensorProto]) -> Path:
    """folder/name: float `x` (1, 4) -> `y` (1, 4) through the given nodes and initializers (opset 17),
    written as given, without the checker."""
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])], initializers)
    path = folder / name
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def bert_like_model(path: Path, vocab: int = 50, hidden: int = 8, type_vocab: int = 2, seed: int = 0) -> Path:
    """A three-input token model shaped like an ONNX BERT: int64 `input_ids`, `attention_mask`,
    `token_type_ids`, each (batch, sequence). `input_ids` and `token_type_ids` index embedding tables
    (Gather over `word_embeddings` (vocab, hidden) and `token_type_embeddings` (type_vocab, hidden)), so
    an id outside a table is ONNX Runtime's Gather error; the mask multiplies the summed embeddings.
    Outputs: `last_hidden_state` (batch, sequence, hidden) and `pooled` (batch, hidden), the sum over
    the sequence."""
    rng = np.random.default_rng(seed)
    words = rng.standard_normal((vocab, hidden)).astype(np.float32)
    types = rng.standard_normal((type_vocab, hidden)).astype(np.float32)
    names = TOKEN_INPUT_NAMES
    nodes = [
        helper.make_node("Gather", ["word_embeddings", "input_ids"], ["words"], name="word_gather"),
        helper.make_node("Gather", ["token_type_embeddings", "token_type_ids"], ["types"], name="type_gather"),
        helper.make_node("Add", ["words", "types"], ["embedded"], name="embed_add"),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], name="mask_cast", to=onnx.TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "mask_axes"], ["mask_3d"], name="mask_unsqueeze"),
        helper.make_node("Mul", ["embedded", "mask_3d"], ["last_hidden_state"], name="mask_mul"),
        helper.make_node("ReduceSum", ["last_hidden_state", "sum_axes"], ["pooled"], name="pool", keepdims=0),
    ]
    graph = helper.make_graph(
        nodes, "bert_like_model",
        [helper.make_tensor_value_info(name, onnx.TensorProto.INT64, ["batch", "sequence"]) for name in names],
        [helper.make_tensor_value_info("last_hidden_state", onnx.TensorProto.FLOAT, ["batch", "sequence", hidden]),
         helper.make_tensor_value_info("pooled", onnx.TensorProto.FLOAT, ["batch", hidden])],
        initializer=[numpy_helper.from_array(words, "word_embeddings"), numpy_helper.from_array(types, "token_type_embeddings"),
                     numpy_helper.from_array(np.array([2], np.int64), "mask_axes"),
                     numpy_helper.from_array(np.array([1], np.int64), "sum_axes")],
    )
    return save(make_model(graph), path)
