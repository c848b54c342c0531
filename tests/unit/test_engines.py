"""The Engine seam and its first implementation, ONNX Runtime's CPU provider, on tiny real models."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from tests.models import conv_model, corrupt_model, two_output_model, x_to_y_model
from vampy.engines.base import DEFAULT_ENGINE, ENGINES, EngineOptions, get_engine
from vampy.errors import InputError, ModelError, UsageError
from vampy.models.graph import graph_precision


@pytest.fixture(scope="module")
def engine():
    return get_engine()


def test_registry_names_the_default_and_refuses_unknown_names() -> None:
    assert DEFAULT_ENGINE in ENGINES and get_engine(DEFAULT_ENGINE).name == DEFAULT_ENGINE
    with pytest.raises(UsageError, match=r"--engine tvm: unknown engine; choose one of onnxruntime"):
        get_engine("tvm")


def test_open_runs_and_reports_what_ran(engine, tmp_path: Path) -> None:
    import onnxruntime

    session = engine.open(conv_model(tmp_path / "mod.onnx"), EngineOptions(intra_threads=1, allow_spinning=False))
    (y,) = session.run({"input": np.zeros((1, 1, 8, 8), np.float32)})
    assert y.shape == (1, 1, 8, 8)
    assert session.output_names == ("output",)
    info = session.info.to_dict()
    build_s = info.pop("build_s")
    assert info == {"engine": "onnxruntime", "version": onnxruntime.__version__, "device": "cpu", "precision": "fp32",
                    "intra_threads": 1, "providers": ["CPUExecutionProvider"], "engine_cache": None}
    assert build_s > 0  # the InferenceSession's construction, reported apart from any measurement
    assert session.end_profiling() is None  # profiling was off


def test_profiles_with_prefix(engine, tmp_path: Path) -> None:
    prefix = str(tmp_path / "prof")
    session = engine.open(two_output_model(tmp_path / "two.onnx"), EngineOptions(intra_threads=1, profile_prefix=prefix))
    session.run({"input": np.zeros((1, 4), np.float32)})
    profile = Path(session.end_profiling())
    assert profile.is_file() and profile.name.startswith("prof")


def test_corrupt_is_one_line_model_error(engine, tmp_path: Path) -> None:
    path = corrupt_model(tmp_path / "mod.onnx")
    with pytest.raises(ModelError) as info:
        engine.open(path, EngineOptions(intra_threads=1))
    message = str(info.value)
    assert message.startswith(f"model {path}: ONNX Runtime cannot load it: ") and "\n" not in message


def test_missing_is_input_error(engine, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        engine.open(tmp_path / "absent.onnx", EngineOptions(intra_threads=1))


def test_negative_threads_and_other_devices_are_usage_errors(engine, tmp_path: Path) -> None:
    model = conv_model(tmp_path / "mod.onnx")
    with pytest.raises(UsageError, match="threads"):
        engine.open(model, EngineOptions(intra_threads=-1))
    with pytest.raises(UsageError, match="--provider cuda: this ONNX Runtime .* has no CUDAExecutionProvider"):
        engine.open(model, EngineOptions(device="cuda"))


def test_precision_is_read_from_the_graph(tmp_path: Path) -> None:
    scale = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    zero = numpy_helper.from_array(np.array(0, np.uint8), "z")
    qdq = x_to_y_model(tmp_path, "q.onnx", [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
                                           helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])], [scale, zero])
    half = numpy_helper.from_array(np.ones(4, np.float16), "h")
    fp16 = x_to_y_model(tmp_path, "h.onnx", [helper.make_node("Cast", ["h"], ["hc"], to=onnx.TensorProto.FLOAT),
                                            helper.make_node("Add", ["x", "hc"], ["y"])], [half])
    assert graph_precision(conv_model(tmp_path / "f.onnx")) == "fp32"
    assert graph_precision(qdq) == "int8"
    assert graph_precision(fp16) == "fp16"
    assert graph_precision(corrupt_model(tmp_path / "bad.onnx")) == "unknown"
    assert get_engine().open(qdq, EngineOptions(intra_threads=1)).info.precision == "int8"
    # fp16 weights on the CPU provider: ONNX Runtime casts them and computes in fp32, and says so
    assert get_engine().open(fp16, EngineOptions(intra_threads=1)).info.precision == "fp32 (fp16 weights)"


def test_graph_optimisation_can_be_turned_off_and_is_checked(engine, tmp_path: Path) -> None:
    model = conv_model(tmp_path / "mod.onnx")
    x = {"input": np.ones((1, 1, 8, 8), np.float32)}
    plain = engine.open(model, EngineOptions(intra_threads=1, graph_optimization="none"))
    optimised = engine.open(model, EngineOptions(intra_threads=1))
    np.testing.assert_allclose(plain.run(x)[0], optimised.run(x)[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(UsageError, match="graph optimisation 'some'"):
        engine.open(model, EngineOptions(graph_optimization="some"))
