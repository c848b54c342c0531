"""The OpenVINO engine on tiny real models, against ONNX Runtime's numbers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openvino", reason="the openvino extra is not installed (pip install 'vampy[openvino]')")

from tests.models import conv_model, x_to_y_model  # noqa: E402
from vampy.engines.base import EngineOptions, get_engine  # noqa: E402
from vampy.errors import ModelError, UsageError  # noqa: E402
from vampy.measure.profiling import summarize_profiles  # noqa: E402

X = np.random.default_rng(0).random((1, 1, 16, 16), dtype=np.float32)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return conv_model(tmp_path_factory.mktemp("ov") / "mod.onnx", in_ch=1, hw=(16, 16), dynamic=True)


def ort_output(model: Path, x: np.ndarray) -> np.ndarray:
    return np.asarray(get_engine("onnxruntime").open(model, EngineOptions(intra_threads=1)).run({"input": x})[0])


def test_f32_equals_onnxruntime_and_says_so(model: Path) -> None:
    session = get_engine("openvino").open(model, EngineOptions(intra_threads=1, precision="f32"))
    (y,) = session.run({"input": X})
    np.testing.assert_allclose(y, ort_output(model, X), rtol=1e-5, atol=1e-6)
    import openvino

    info = session.info.to_dict()
    assert info.pop("build_s") > 0  # compile_model's time, reported apart
    assert info == {"engine": "openvino", "version": openvino.get_version(), "device": "cpu", "precision": "fp32",
                    "intra_threads": 1, "providers": ["CPU"], "engine_cache": None}
    assert session.output_names == ("output",)


def test_default_precision_is_the_devices_own_and_reported(model: Path) -> None:
    import openvino

    capabilities = openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    session = get_engine("openvino").open(model, EngineOptions(intra_threads=1))
    assert session.info.precision == ("bf16" if "BF16" in capabilities else "fp32")
    (y,) = session.run({"input": X})
    np.testing.assert_allclose(y, ort_output(model, X), rtol=0.02, atol=0.02)  # bf16 keeps 8 bits of mantissa


def test_dynamic_shapes_and_batches(model: Path) -> None:
    session = get_engine("openvino").open(model, EngineOptions(intra_threads=1, precision="f32"))
    x = np.random.default_rng(1).random((2, 1, 20, 12), dtype=np.float32)
    np.testing.assert_allclose(session.run({"input": x})[0], ort_output(model, x), rtol=1e-5, atol=1e-6)


def test_int8_graph_is_reported_int8(tmp_path: Path) -> None:
    from onnx import helper, numpy_helper

    scale = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    zero = numpy_helper.from_array(np.array(0, np.uint8), "z")
    qdq = x_to_y_model(tmp_path, "q.onnx", [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
                                           helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])], [scale, zero])
    session = get_engine("openvino").open(qdq, EngineOptions(intra_threads=1))
    assert session.info.precision == "int8"
    x = np.linspace(0, 2, 4, dtype=np.float32)[None]
    np.testing.assert_allclose(session.run({"x": x})[0], np.round(x / 0.1) * 0.1, atol=1e-6)


def test_instances_share_one_compiled_model_as_streams(model: Path) -> None:
    engine = get_engine("openvino")
    a = engine.open(model, EngineOptions(intra_threads=1, streams=2, precision="f32"))
    b = engine.open(model, EngineOptions(intra_threads=1, streams=2, precision="f32"))
    assert a.raw.get_compiled_model().get_property("NUM_STREAMS") == 2
    assert a.raw is not b.raw  # one infer request each
    assert a.info.intra_threads == 1


def test_per_layer_counters_become_the_top_operators_table(model: Path, tmp_path: Path) -> None:
    session = get_engine("openvino").open(model, EngineOptions(intra_threads=1, precision="f32", profile_prefix=str(tmp_path / "p")))
    for _ in range(3):
        session.run({"input": X})
    trace = session.end_profiling()
    assert trace is not None and Path(trace).name.startswith("p_openvino_")
    top = {op["op_type"]: op for op in summarize_profiles([trace])["top_ops"]}
    assert top["Convolution"]["calls"] == 3  # one convolution, summed over the three requests
    assert abs(sum(op["share"] for op in top.values()) - 1.0) < 1e-9


def test_refusals_are_one_line(model: Path, tmp_path: Path) -> None:
    engine = get_engine("openvino")
    with pytest.raises(UsageError, match="--provider cuda is an ONNX Runtime option"):
        engine.open(model, EngineOptions(device="cuda"))
    with pytest.raises(UsageError, match="--infer_precision i8: choose one of f32, bf16, f16"):
        engine.open(model, EngineOptions(precision="i8"))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a readable ONNX file"):
        engine.open(bad, EngineOptions())


def test_load_failures_name_the_reason_and_print_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("NoSuchOp", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    bad_op = tmp_path / "bad_op.onnx"
    onnx.save(helper.make_model(graph), str(bad_op))
    engine = get_engine("openvino")
    with pytest.raises(ModelError) as caught:
        engine.open(bad_op, EngineOptions())
    assert "No conversion rule found for operations: NoSuchOp" in str(caught.value) and "\n" not in str(caught.value)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"garbage")
    with pytest.raises(ModelError, match="not a readable ONNX file"):
        engine.describe(garbage)
    assert capfd.readouterr().err == ""  # OpenVINO's other readers never got to print
