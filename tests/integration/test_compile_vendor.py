"""Vendor-file features end to end on tiny models built here: softmax extra op (checked against numpy),
nodes kept in float from skip_conv_layers / skip_matmul_layers / exclude_layers / ops_usingfp, a
two-input model calibrated from npz, and non-image inputs refused before any work."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.support.files import images
from vampy.compiler.pipeline import compile_model
from vampy.errors import InputError, ModelError
from vampy.formats.compile_yaml import parse_compile_config

N_FEATURES, N_CLASSES = 8, 5


def classifier(path: Path, opset: int = 17) -> Path:
    """x [1, 8] -> MatMul W -> Add b -> Relu -> MatMul W2 -> logits [1, 5]."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((N_FEATURES, 16)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "b1"),
             numpy_helper.from_array(rng.standard_normal((16, N_CLASSES)).astype(np.float32), "w2")]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"), helper.make_node("Add", ["h", "b1"], ["hb"], name="bias"),
             helper.make_node("Relu", ["hb"], ["r"], name="relu"), helper.make_node("MatMul", ["r", "w2"], ["logits"], name="fc2")]
    graph = helper.make_graph(nodes, "cls", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, N_FEATURES])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, N_CLASSES])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), str(path))
    return path


def two_input_model(path: Path) -> Path:
    """Inputs named as exporters name them ('x/0:a', 'onnx::Mask_1'), both [1, 8]: (x * mask) @ W."""
    w = numpy_helper.from_array(np.random.default_rng(1).standard_normal((N_FEATURES, 4)).astype(np.float32), "w")
    nodes = [helper.make_node("Mul", ["x/0:a", "onnx::Mask_1"], ["masked"], name="mask"),
             helper.make_node("MatMul", ["masked", "w"], ["y"], name="proj")]
    graph = helper.make_graph(nodes, "two", [helper.make_tensor_value_info("x/0:a", TensorProto.FLOAT, ["n", N_FEATURES]),
                                             helper.make_tensor_value_info("onnx::Mask_1", TensorProto.FLOAT, ["n", N_FEATURES])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def token_model(path: Path) -> Path:
    """int64 token ids [1, 6] -> Gather from an embedding -> [1, 6, 4]."""
    table = numpy_helper.from_array(np.random.default_rng(2).standard_normal((10, 4)).astype(np.float32), "emb")
    graph = helper.make_graph([helper.make_node("Gather", ["emb", "input_ids"], ["e"], name="gather")], "tok",
                              [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, 6])],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, [1, 6, 4])], [table])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def config(tmp_path: Path, checkpoint: Path, precision: str = "fp32", **extra: Any) -> Any:
    data: dict[str, Any] = {"name": f"m_{precision}", "frontend": {"checkpoint": str(checkpoint)},
                            "backend": {"type": "tvm_vacc", "dtype": precision, "compile": {"opt_level": 2}},
                            "workspace": {"path": str(tmp_path / "out")}, **extra}
    return data


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_softmax_extra_op_matches_numpy(tmp_path: Path) -> None:
    source = classifier(tmp_path / "cls.onnx")
    data = config(tmp_path, source, graph={"extra_ops": {"type": "softmax"}})
    result = compile_model(parse_compile_config(data, "c.yaml"))
    x = np.random.default_rng(3).standard_normal((1, N_FEATURES)).astype(np.float32)
    (logits,) = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    (probs,) = ort.InferenceSession(result.model_path, providers=["CPUExecutionProvider"]).run(["logits"], {"x": x})
    np.testing.assert_allclose(probs, softmax(logits), rtol=1e-5, atol=1e-7)
    assert result.node_counts.get("Softmax") == 1 and [o["name"] for o in result.outputs] == ["logits"]
    assert any("softmax (axis -1) appended to output(s) logits" in n for n in result.notes)


def test_softmax_on_an_old_opset_over_the_last_axis_and_a_bad_axis(tmp_path: Path) -> None:
    source = classifier(tmp_path / "cls11.onnx", opset=11)
    result = compile_model(parse_compile_config(config(tmp_path, source, graph={"extra_ops": {"type": "softmax"}}), "c.yaml"))
    x = np.ones((1, N_FEATURES), np.float32)
    (logits,) = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    (probs,) = ort.InferenceSession(result.model_path, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    np.testing.assert_allclose(probs, softmax(logits), rtol=1e-5)
    bad = config(tmp_path, source, graph={"extra_ops": {"type": "softmax", "params": {"axis": 0}}})
    with pytest.raises(ModelError, match="softmax over axis 0 needs ONNX opset 13"):
        compile_model(parse_compile_config(bad, "c.yaml"))
    worse = config(tmp_path, classifier(tmp_path / "c17.onnx"), graph={"extra_ops": {"type": "softmax", "params": {"axis": 4}}})
    with pytest.raises(ModelError, match="axis 4 but the output 'logits' has 2 dimension"):
        compile_model(parse_compile_config(worse, "c.yaml"))


def test_nms_extra_op_is_noted_and_the_model_keeps_its_heads(tmp_path: Path) -> None:
    source = classifier(tmp_path / "cls.onnx")
    graph = {"extra_ops": {"type": "retinaface_nms", "params": {}}}
    result = compile_model(parse_compile_config(config(tmp_path, source, graph=graph), "c.yaml"))
    assert "Softmax" not in result.node_counts and any("retinaface_nms: not applied" in n for n in result.notes)


def _npz_datalist(tmp_path: Path, arrays: list[dict[str, np.ndarray]]) -> Path:
    lines = []
    for k, a in enumerate(arrays):
        path = tmp_path / f"s{k}.npz"
        np.savez(path, **a)
        lines.append(str(path))
    datalist = tmp_path / "calib.txt"
    datalist.write_text("\n".join(lines) + "\n")
    return datalist


def test_two_input_model_int8_from_npz_with_named_shapes(tmp_path: Path) -> None:
    source = two_input_model(tmp_path / "two.onnx")
    rng = np.random.default_rng(4)
    datalist = _npz_datalist(tmp_path, [{"input_0": rng.standard_normal((1, N_FEATURES)).astype(np.float32),
                                         "input_1": (rng.random((1, N_FEATURES)) > 0.3).astype(np.float32)} for _ in range(3)])
    data = config(tmp_path, source, "int8")
    data["frontend"]["shape"] = {"x/0:a": [1, N_FEATURES], "onnx::Mask_1": [1, N_FEATURES]}
    data["backend"]["quantize"] = {"calibrate_mode": "max", "skip_matmul_layers": [0]}
    result = compile_model(parse_compile_config(data, "c.yaml", calib_datalist=str(datalist)))
    assert [i["shape"] for i in result.inputs] == [[1, N_FEATURES], [1, N_FEATURES]]
    assert result.calibration is not None and result.calibration["samples"] == 3
    assert result.calibration["skipped_nodes"] == ["proj"]
    assert "MatMul" in result.node_counts  # kept in float


def test_nodes_kept_in_float_from_every_vendor_list(tmp_path: Path) -> None:
    source = classifier(tmp_path / "cls.onnx")
    datalist = _npz_datalist(tmp_path, [{"input_0": np.random.default_rng(k).standard_normal((1, N_FEATURES)).astype(np.float32)}
                                        for k in range(2)])
    data = config(tmp_path, source, "int8", graph={"extra_ops": {"type": "softmax"}})
    data["backend"]["quantize"] = {"calibrate_mode": "max", "skip_matmul_layers": [-1], "exclude_layers": ["fc1"],
                                   "ops_usingfp": ["softmax"], "overflow_adaptive": 1, "calibrate_chunk_by": 4}
    result = compile_model(parse_compile_config(data, "c.yaml", calib_datalist=str(datalist)))
    assert result.calibration is not None and result.calibration["skipped_nodes"] == ["fc2", "fc1/MatMulAddFusion", "extra_softmax_0"]
    bad = config(tmp_path, source, "int8")
    bad["backend"]["quantize"] = {"skip_matmul_layers": [5]}
    with pytest.raises(InputError, match=r"skip_matmul_layers\[0\]: MatMul/Gemm index 5 but the model has 2 MatMul/Gemm node"):
        compile_model(parse_compile_config(bad, "c.yaml", calib_datalist=str(datalist)))


def test_images_cannot_calibrate_token_or_multi_input_models(tmp_path: Path) -> None:
    folder = images(tmp_path / "imgs")
    ops = [{"type": "DecodeImage"}, {"type": "ToTensor"}]
    for model, problem in ((token_model(tmp_path / "tok.onnx"), "the model input 'input_ids' is int64"),
                           (two_input_model(tmp_path / "two.onnx"), "the model has 2 inputs ('x/0:a', 'onnx::Mask_1')")):
        data = config(tmp_path, model, "int8", dataset={"type": "tvm", "path": str(folder), "process_ops": ops})
        data["frontend"]["dtype"] = "int64" if "tok" in model.name else "fp32"
        with pytest.raises(InputError, match="--calib_datalist") as info:
            compile_model(parse_compile_config(data, "c.yaml"))
        assert problem in str(info.value) and not (tmp_path / "out").exists()
