"""`vampy.compiler.pipeline`: fp32 / fp16 / int8 from a vamc YAML, on tiny models and images made here."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from tests.support.files import N_IMAGES, images
from vampy.compiler.pipeline import compile_model, mse_range
from vampy.config import CompileConfig
from vampy.errors import InputError, ModelError
from vampy.formats.compile_yaml import parse_compile_config
from vampy.models.zoo import build_vdsr, conv_stack_model

HW = 16
VDSP_DIV255: dict[str, Any] = {"OpType": "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR",
               "OpConfig": {"OimageWidth": HW, "OimageHeight": HW, "NormaType": "DIV255", "ResizeType": "BILINEAR_CV"}}
Y_OPS: list[dict[str, Any]] = [
    {"type": "DecodeImage"},
    {"type": "CvtColor", "code": "COLOR_RGB2YCrCb"},
    {"type": "Resize", "size": [HW, HW]},
    {"type": "ChannelSplit", "index": 0},
    {"type": "Normalize", "norm_type": "div255"},
    {"type": "ToTensor"},
]


def tiny_model(path: Path, shape: tuple[int | str, ...] = (1, 1, HW, HW), seed: int = 0) -> Path:
    """conv 1->4, ReLU, conv 4->4, ReLU, conv 4->1, + input: a three-layer VDSR."""
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(s).astype(np.float32) * np.float32(np.sqrt(2.0 / (s[1] * 9)))
               for s in ((4, 1, 3, 3), (4, 4, 3, 3), (1, 4, 3, 3))]
    onnx.save(conv_stack_model(weights, shape, residual=True, graph_name="tiny"), str(path))
    return path


def yaml_dict(tmp_path: Path, precision: str = "int8", **quantize: Any) -> dict[str, Any]:
    model = tmp_path / "src.onnx"
    if not model.exists():
        tiny_model(model)
    return {
        "name": f"tiny_{precision}",
        "frontend": {"type": "onnx", "checkpoint": str(model), "shape": {"input": [1, 1, HW, HW]}, "dtype": "fp32"},
        "backend": {"type": "tvm_vacc", "dtype": precision,
                    "quantize": {"calibrate_mode": "kl_divergence", "quantize_per_channel": True, **quantize}},
        "dataset": {"path": str(images(tmp_path / "data")), "sampler": {"suffix": "bmp", "get_data_num": N_IMAGES},
                    "process_ops": [dict(op) for op in Y_OPS]},
        "workspace": {"path": str(tmp_path / "ws")},
    }


def config(data: dict[str, Any], **flags: Any) -> CompileConfig:
    return parse_compile_config(data, "test.yaml", **flags)


def run(model: Path | str, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def y_input(path: Path, size: int = HW) -> np.ndarray:
    """The quick protocol: OpenCV BGR -> YCrCb channel 0, bilinear resize, / 255, NCHW."""
    bgr = cv2.imread(str(path))
    assert bgr is not None, path
    y = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)[:, :, 0]
    return (cv2.resize(y, (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255)[None, None]


def calibration_inputs(folder: Path) -> list[np.ndarray]:
    return [y_input(path) for path in sorted(folder.glob("*.bmp"))]


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def start(self, description: str, total: int | None) -> None:
        self.events.append(("start", total))

    def advance(self, steps: int = 1) -> None:
        self.events.append(("advance", steps))

    def finish(self) -> None:
        self.events.append(("finish", None))


# --- int8 ---


@pytest.mark.parametrize("mode", ["kl_divergence", "max", "percentile", "mse"])
def test_int8_each_mode_is_quantized_and_close_to_fp32(tmp_path: Path, mode: str) -> None:
    progress = Recorder()
    result = compile_model(config(yaml_dict(tmp_path, calibrate_mode=mode)), progress)
    model = onnx.load(result.model_path)
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    for x in calibration_inputs(tmp_path / "data"):
        reference, quantized = run(tmp_path / "src.onnx", x), run(result.model_path, x)
        assert np.abs(quantized - reference).max() < 0.05 * (reference.max() - reference.min())
    passes = 1 if mode == "max" else 2
    calibration = progress.events[: progress.events.index(("finish", None)) + 1]  # then compile's drift check, one step a sample
    assert calibration[0] == ("start", N_IMAGES * passes)
    assert sum(n for e, n in calibration if e == "advance") == N_IMAGES * passes
    assert progress.events[len(calibration)] == ("start", N_IMAGES) and progress.events[-1] == ("finish", None)
    assert result.calibration is not None and result.calibration["samples"] == N_IMAGES
    assert result.calibration["method"] == mode and result.calibration["per_channel"] is True


def test_int8_per_channel_and_per_tensor_weight_scales(tmp_path: Path) -> None:
    def weight_scale_sizes(per_channel: bool) -> set[int]:
        data = yaml_dict(tmp_path, quantize_per_channel=per_channel)
        data["name"] = f"pc_{per_channel}"
        model = onnx.load(compile_model(config(data)).model_path)
        inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        weights = [n for n in model.graph.node
                   if n.op_type == "DequantizeLinear" and inits.get(n.input[0]) is not None and inits[n.input[0]].ndim == 4]
        return {inits[n.input[1]].size for n in weights}

    assert weight_scale_sizes(True) == {4, 1} and weight_scale_sizes(False) == {1}


def test_kl_divergence_with_ort_default_bins_equals_max(tmp_path: Path) -> None:
    kl = compile_model(config(yaml_dict(tmp_path)))
    data = yaml_dict(tmp_path, calibrate_mode="max")
    data["name"] = "tiny_max"
    mx = compile_model(config(data))
    assert kl.calibration is not None and mx.calibration is not None
    kl_ranges, max_ranges = kl.calibration["tensor_ranges"], mx.calibration["tensor_ranges"]
    assert kl_ranges.keys() == max_ranges.keys()
    for name, (low, high) in max_ranges.items():
        assert kl_ranges[name] == pytest.approx([low, high], rel=1e-6)


def test_skip_layers_keeps_that_conv_in_float(tmp_path: Path) -> None:
    result = compile_model(config(yaml_dict(tmp_path, skip_layers=[2])))
    assert result.calibration is not None
    skipped = result.calibration["skipped_nodes"]
    assert len(skipped) == 1
    model = onnx.load(result.model_path)
    node = next(n for n in model.graph.node if n.name == skipped[0])
    float_inits = {i.name for i in model.graph.initializer if i.data_type == onnx.TensorProto.FLOAT}
    assert node.op_type == "Conv" and node.input[1] in float_inits


def test_skip_layers_unknown_name_and_index(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"skip_layers\[0\]: no node named 'nope'"):
        compile_model(config(yaml_dict(tmp_path, skip_layers=["nope"])))
    with pytest.raises(InputError, match=r"Conv index 7 but the model has 3 Conv"):
        compile_model(config(yaml_dict(tmp_path, skip_layers=[7])))


def test_quantizer_failure_is_one_model_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def reject(*args: Any, **kwargs: Any) -> None:
        raise ValueError("Unsupported model\nsecond line")

    monkeypatch.setattr("vampy.engines.ort_build._quantize_static", reject)
    with pytest.raises(ModelError, match="int8 quantizer rejects the model: Unsupported model$"):
        compile_model(config(yaml_dict(tmp_path)))


def test_mse_range_clips_a_long_tail_and_keeps_a_uniform_range() -> None:
    edges = np.linspace(-10, 10, 2049)
    centres = (edges[:-1] + edges[1:]) / 2
    tail = np.where(np.abs(centres) < 1, 10**6, 0) + (np.abs(centres) > 9.9)
    low, high = mse_range(tail, edges, -10.0, 10.0)
    assert -3 < low < -0.9 and 0.9 < high < 3
    uniform = np.ones(2048, np.int64)
    assert mse_range(uniform, edges, -10.0, 10.0) == pytest.approx((-10.0, 10.0), rel=0.02)


# --- fp32 / fp16 ---


def test_fp32_equals_source_and_stays_portable(tmp_path: Path) -> None:
    result = compile_model(config(yaml_dict(tmp_path, "fp32")))
    x = calibration_inputs(tmp_path / "data")[0]
    np.testing.assert_allclose(run(result.model_path, x), run(tmp_path / "src.onnx", x), rtol=1e-6, atol=1e-6)
    assert not any(op.startswith("Reorder") for op in result.node_counts)  # no NCHWc layout saved
    assert result.calibration is None and "dataset" in " ".join(result.notes)


def test_fp16_has_fp16_weights_and_fp32_io(tmp_path: Path) -> None:
    result = compile_model(config(yaml_dict(tmp_path, "fp16")))
    model = onnx.load(result.model_path)
    float_inits = [i for i in model.graph.initializer if i.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)]
    assert float_inits and all(i.data_type == onnx.TensorProto.FLOAT16 for i in float_inits)
    io = [*model.graph.input, *model.graph.output]
    assert all(v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for v in io)
    x = calibration_inputs(tmp_path / "data")[0]
    np.testing.assert_allclose(run(result.model_path, x), run(tmp_path / "src.onnx", x), atol=1e-2)


def test_metadata_file(tmp_path: Path) -> None:
    times = iter([100.0, 102.5])
    result = compile_model(config(yaml_dict(tmp_path)), clock=lambda: next(times))
    meta = json.loads((tmp_path / "ws" / "tiny_int8" / "mod.json").read_text())
    assert meta == json.loads(json.dumps(result.to_dict()))
    assert meta["kind"] == "compile" and meta["schema_version"] == 1 and meta["compile_time_s"] == 2.5
    assert meta["inputs"] == [{"name": "input", "shape": [1, 1, HW, HW], "dtype": "float32"}]
    assert len(meta["source"]["sha256"]) == 64 and meta["source"]["checkpoint"].endswith("src.onnx")
    assert meta["macs"] == HW * HW * 9 * (4 + 16 + 4) and meta["params"] == 9 * (4 + 16 + 4)
    assert set(meta["versions"]) >= {"vampy", "onnxruntime"} and meta["node_counts"]["QuantizeLinear"] >= 3
    assert meta["ignored_keys"] == ["backend.type"] and meta["config"]["dataset"]["ops"][2]["type"] == "Resize"


def test_dynamic_model_gets_the_yaml_shape(tmp_path: Path) -> None:
    data = yaml_dict(tmp_path, "fp32")
    tiny_model(Path(data["frontend"]["checkpoint"]), shape=("batch", 1, "height", "width"))
    result = compile_model(config(data))
    assert result.inputs[0]["shape"] == [1, 1, HW, HW] and result.outputs[0]["shape"] == [1, 1, HW, HW]


# --- calibration data and the run-time normalisation ---


def write_vdsp(tmp_path: Path, norm: str = "DIV255") -> str:
    path = tmp_path / "vdsp.json"
    path.write_text(json.dumps({**VDSP_DIV255, "OpConfig": {**VDSP_DIV255["OpConfig"], "NormaType": norm,
                                                            "Mean": [0.5, 0.5, 0.5], "Std": [0.25, 0.25, 0.25]}}))
    return str(path)


def test_norm_none_without_vdsp_warns_and_with_vdsp_is_completed(tmp_path: Path) -> None:
    data = yaml_dict(tmp_path)
    data["dataset"]["process_ops"][4] = {"type": "Normalize", "norm_type": "None"}
    raw = compile_model(config(data))
    assert raw.calibration is not None and raw.calibration["input_range"][1] > 2
    assert any("0..255" in w and "--vdsp_params" in w for w in raw.warnings)
    completed = compile_model(config(data, vdsp_params=write_vdsp(tmp_path)))
    assert completed.calibration is not None and 0.5 < completed.calibration["input_range"][1] <= 1.0
    assert completed.calibration["runtime_input_range"] == [0.0, 1.0] and not completed.warnings
    assert "div255" in completed.calibration["normalisation"]


def test_double_normalisation_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError,
                       match=r"process_ops\[4\] normalises \(div255\).*DIV255|process_ops\[4\] normalises \(div255\).*minusmean"):
        compile_model(config(yaml_dict(tmp_path), vdsp_params=write_vdsp(tmp_path, "DIV255_MINUSMEAN_DIVSTD")))
    same = compile_model(config(yaml_dict(tmp_path), vdsp_params=write_vdsp(tmp_path, "DIV255")))
    assert not same.warnings


def test_calib_datalist_through_the_vdsp_preprocessing(tmp_path: Path) -> None:
    lines = []
    for k, x in enumerate(calibration_inputs(images(tmp_path / "data"))[:3]):
        y_u8 = np.round(x[0, 0] * 255).astype(np.uint8)
        np.savez(tmp_path / f"s{k}.npz", input_0=np.stack([y_u8] * 3))
        lines.append(f"s{k}.npz")
    (tmp_path / "list.txt").write_text("\n".join(lines) + "\n")
    data = yaml_dict(tmp_path)
    result = compile_model(config(data, calib_datalist=str(tmp_path / "list.txt"), vdsp_params=write_vdsp(tmp_path)))
    assert result.calibration is not None
    assert result.calibration["origin"] == "datalist" and result.calibration["samples"] == 3
    assert result.calibration["input_range"][1] <= 1.0 and not result.warnings


# --- errors: one line each ---


def test_missing_checkpoint(tmp_path: Path) -> None:
    data = yaml_dict(tmp_path)
    data["frontend"]["checkpoint"] = str(tmp_path / "absent.onnx")
    with pytest.raises(InputError, match=r"frontend.checkpoint .*absent.onnx: no such file"):
        compile_model(config(data))


def test_missing_and_empty_dataset(tmp_path: Path) -> None:
    data = yaml_dict(tmp_path)
    data["dataset"]["path"] = str(tmp_path / "nowhere")
    with pytest.raises(InputError, match=r"dataset.path .*nowhere: no such folder"):
        compile_model(config(data))
    data["dataset"]["path"] = str(tmp_path / "data")
    data["dataset"]["sampler"]["pattern"] = "*_scale_4.bmp"
    with pytest.raises(InputError, match=r"calibration set is empty.*\*_scale_4.bmp"):
        compile_model(config(data))


def test_process_ops_that_do_not_fit_name_both_shapes(tmp_path: Path) -> None:
    data = yaml_dict(tmp_path)
    data["dataset"]["process_ops"][2] = {"type": "Resize", "size": [12, 10]}  # vamc: [height, width]
    with pytest.raises(ModelError, match=r"produce \(1,1,12,10\) for input 'input'.*model takes \(1,1,16,16\)"):
        compile_model(config(data))
    assert not (tmp_path / "ws").exists()


def test_frontend_shape_errors(tmp_path: Path) -> None:
    data = yaml_dict(tmp_path, "fp32")
    data["frontend"]["shape"] = {"image": [1, 1, HW, HW]}
    with pytest.raises(InputError, match=r"frontend.shape.image: the model has no input 'image'"):
        compile_model(config(data))
    data["frontend"]["shape"] = {"input": [1, 3, HW, HW]}
    with pytest.raises(ModelError, match=r"frontend.shape.input \[1, 3, 16, 16\] does not fit the model input 'input' \(1,1,16,16\)"):
        compile_model(config(data))


def test_bad_colour_code_and_op_failure(tmp_path: Path) -> None:
    data = yaml_dict(tmp_path)
    data["dataset"]["process_ops"][1] = {"type": "CvtColor", "code": "COLOR_NOPE"}
    with pytest.raises(InputError, match=r"process_ops\[1\].code: OpenCV has no colour code COLOR_NOPE"):
        compile_model(config(data))
    data["dataset"]["process_ops"][1] = {"type": "CenterCrop", "crop_size": 64}
    with pytest.raises(InputError, match=r"process_ops\[1\] \(CenterCrop\) fails on img0.bmp: crop 64x64 is larger"):
        compile_model(config(data))


# --- the real VDSR (skips without ../shared/data) ---


def test_vdsr_int8_on_set5_stays_close_to_fp32(tmp_path: Path, shared_data: Path) -> None:
    model, _ = build_vdsr(shared_data / "vdsr" / "vdsr_x234_weights.npz", dynamic=True)
    onnx.save(model, str(tmp_path / "vdsr.onnx"))
    size = 64
    ops = [dict(op) for op in Y_OPS]
    ops[2] = {"type": "Resize", "size": [size, size]}
    ops[4] = {"type": "Normalize", "norm_type": "None"}
    data = {
        "name": "vdsr_int8", "frontend": {"checkpoint": str(tmp_path / "vdsr.onnx"), "shape": {"input": [1, 1, size, size]}},
        "backend": {"dtype": "int8", "quantize": {"calibrate_mode": "kl_divergence", "quantize_per_channel": True}},
        "dataset": {"path": str(shared_data / "Set5"), "sampler": {"suffix": "bmp", "pattern": "*_scale_4.bmp", "get_data_num": 2},
                    "process_ops": ops},
        "workspace": {"path": str(tmp_path / "ws")},
    }
    vdsp = Path(__file__).resolve().parents[2] / "vdsp_params" / "official-vdsr-vdsp_params.json"
    result = compile_model(config(data, vdsp_params=str(vdsp)))
    assert result.calibration is not None and result.calibration["files"] == ["baby_GT_scale_4.bmp", "bird_GT_scale_4.bmp"]
    x = y_input(shared_data / "Set5" / "head_GT_scale_4.bmp", size)
    reference = np.clip(run(tmp_path / "vdsr.onnx", x), 0, 1)
    quantized = np.clip(run(result.model_path, x), 0, 1)
    psnr_db = 10 * np.log10(1.0 / np.mean((quantized - reference) ** 2))
    assert psnr_db > 38


def test_range_warning_when_calibration_and_run_time_values_differ(tmp_path: Path) -> None:
    # The YAML divides by 255 but the vdsp file says the device feeds raw 0..255 values.
    result = compile_model(config(yaml_dict(tmp_path), vdsp_params=write_vdsp(tmp_path, "EQUAL")))
    assert any("span [0, 1]" in w and "[0, 255]" in w for w in result.warnings)


def test_the_engine_prints_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    for mode in ("kl_divergence", "percentile"):
        data = yaml_dict(tmp_path, calibrate_mode=mode)
        data["name"] = mode
        compile_model(config(data))
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
