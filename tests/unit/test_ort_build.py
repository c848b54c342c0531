"""vampy.engines.ort_build: ONNX Runtime's build tools behind typed functions, on a tiny model made here."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import pytest

from vampy.engines import ort_build
from vampy.engines.base import EngineOptions, get_engine
from vampy.errors import ModelError
from vampy.models.zoo import conv_stack_model

HW = 8


def tiny(path: Path) -> Path:
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(s).astype(np.float32) * np.float32(0.3) for s in ((2, 1, 3, 3), (1, 2, 3, 3))]
    onnx.save(conv_stack_model(weights, (1, 1, HW, HW), residual=True, graph_name="tiny"), str(path))
    return path


def feed(seed: int = 0) -> dict[str, np.ndarray]:
    return {"input": np.random.default_rng(seed).uniform(0, 1, (1, 1, HW, HW)).astype(np.float32)}


def test_version_is_the_engines() -> None:
    assert ort_build.ort_version() == get_engine().version()


def test_optimise_fp32_writes_an_equal_model(tmp_path: Path) -> None:
    source = tiny(tmp_path / "src.onnx")
    ort_build.optimise_fp32(source, tmp_path / "fp32.onnx", label="src")
    before, after = (get_engine().open(p, EngineOptions(intra_threads=1)) for p in (source, tmp_path / "fp32.onnx"))
    np.testing.assert_allclose(after.run(feed())[0], before.run(feed())[0], rtol=1e-6, atol=1e-6)


def test_optimise_fp32_failure_is_one_model_error(tmp_path: Path) -> None:
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"^label: ONNX Runtime cannot load it to optimise: .+$"):
        ort_build.optimise_fp32(tmp_path / "bad.onnx", tmp_path / "out.onnx", label="label")


def test_convert_fp16_keeps_float32_io(tmp_path: Path) -> None:
    model = ort_build.convert_fp16(onnx.load(str(tiny(tmp_path / "src.onnx"))), label="src")
    assert {i.data_type for i in model.graph.initializer if i.dims} == {onnx.TensorProto.FLOAT16}
    assert all(v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for v in [*model.graph.input, *model.graph.output])


def test_pre_process_and_the_augmented_model(tmp_path: Path) -> None:
    source = tiny(tmp_path / "src.onnx")
    assert ort_build.pre_process(source, tmp_path / "prepared.onnx") is None
    names = ort_build.write_augmented_model(tmp_path / "prepared.onnx", tmp_path / "augmented.onnx")
    session = get_engine().open(tmp_path / "augmented.onnx", EngineOptions(intra_threads=1))
    assert "input" in names and set(names) <= set(session.output_names) and len(names) >= 4
    values = dict(zip(session.output_names, session.run(feed())))
    np.testing.assert_array_equal(values["input"], feed()["input"])


def test_pre_process_failure_is_a_reason(tmp_path: Path) -> None:
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    reason = ort_build.pre_process(tmp_path / "bad.onnx", tmp_path / "out.onnx")
    assert reason and "\n" not in reason


def test_histogram_thresholds_percentile_and_entropy() -> None:
    edges = np.linspace(0, 10, 2049, dtype=np.float32)
    counts = np.zeros(2048, np.int64)
    counts[:204] = 1000  # |x| mostly below 1, one sample near 10
    counts[-1] = 1
    hist = (counts, edges, np.float32(-10), np.float32(10))
    low, high = ort_build.histogram_thresholds("percentile", {"t": hist}, 2048, 99.0)["t"]
    assert low == -high and 0.9 < high < 1.1
    symmetric_edges = np.linspace(-4, 4, 129, dtype=np.float32)
    uniform = (np.ones(128, np.int64), symmetric_edges, np.float32(-4), np.float32(4), symmetric_edges[-1])
    assert ort_build.histogram_thresholds("entropy", {"t": uniform}, 128, 99.999)["t"] == pytest.approx((-4.0, 4.0))


def test_quantize_qdq_uses_the_given_ranges(tmp_path: Path) -> None:
    source = tiny(tmp_path / "src.onnx")
    names = ort_build.write_augmented_model(source, tmp_path / "augmented.onnx")
    ranges = {name: (-2.0, 4.0) for name in names}
    ort_build.quantize_qdq(source, tmp_path / "int8.onnx", feed(), ranges, per_channel=False, activation_type="uint8", excluded=[])
    model = onnx.load(str(tmp_path / "int8.onnx"))
    scales = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    q_input = next(n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "input")
    assert float(scales[q_input.input[1]]) == pytest.approx(6.0 / 255, rel=1e-6)


def test_capture_ort_logs_keeps_first_lines_once() -> None:
    notes: list[str] = []
    with ort_build.capture_ort_logs(notes):
        for _ in range(3):
            logging.getLogger("onnxruntime.test").warning("first line\nsecond line")
        logging.getLogger().info("below warning")
        for k in range(ort_build.MAX_LOG_NOTES + 5):
            logging.warning("note %d", k)
    logging.warning("after: not captured")
    assert notes[0] == "onnxruntime: first line" and len(notes) == ort_build.MAX_LOG_NOTES
