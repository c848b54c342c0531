"""Real builds from the zoo's YAML forms (VAMP-FORMATS.md 6b) on tiny models made here: a letterbox
detector, a gray OCR model and a token model calibrated from npz files, each int8 model checked
against its fp32 source on the calibration set; a dynamic shape range; fp16 with no dataset path.

The int8 check: the outputs' signal-to-noise ratio over the calibration set at least 20 dB and the
cosine similarity at least 0.99. Rounding to 256 levels costs ~48 dB per tensor at best, a few
layers add up: these models measured 38-39 dB and cosine 0.9999 (2026-12-06). The same letterbox
detector calibrated on the wrong pixel scale (div255: false, 0..255 for a 0..1 model) measured
-0.3 dB and cosine 0.07, so the threshold separates the two with room on both sides.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import yaml
from onnx import TensorProto, helper, numpy_helper

from vampy.compiler.pipeline import compile_model
from vampy.data.process_ops import image_tensor
from vampy.errors import InputError, ModelError
from vampy.formats.compile_yaml import parse_compile_config

MIN_SNR_DB = 20.0
MIN_COSINE = 0.99
VOCAB, TYPES, SEQ, EMB = 30, 2, 16, 8


def _conv(
    name: str, x: str, y: str, shape: tuple[int, ...], rng: np.random.Generator, stride: int = 1
) -> tuple[onnx.NodeProto, onnx.TensorProto, onnx.TensorProto]:
    w = numpy_helper.from_array((rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))).astype(np.float32), f"{name}_w")
    b = numpy_helper.from_array(rng.standard_normal(shape[0]).astype(np.float32) * 0.1, f"{name}_b")
    pad = shape[2] // 2
    node = helper.make_node("Conv", [x, w.name, b.name], [y], name=name, strides=[stride, stride], pads=[pad] * 4)
    return node, w, b


def conv_net(path: Path, channels: int, hw: tuple[int | str, int | str], name: str = "images") -> Path:
    """[1, C, H, W] -> Conv 3x3 stride 2 -> Relu -> Conv 1x1 -> [1, 21, H/2, W/2]: a detector head's shape."""
    rng = np.random.default_rng(0)
    c1, w1, b1 = _conv("conv0", name, "c0", (8, channels, 3, 3), rng, stride=2)
    c2, w2, b2 = _conv("head", "r0", "out", (21, 8, 1, 1), rng)
    graph = helper.make_graph([c1, helper.make_node("Relu", ["c0"], ["r0"], name="relu"), c2], "net",
                              [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, channels, *hw])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], [w1, b1, w2, b2])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def token_net(path: Path) -> Path:
    """input_ids, attention_mask, token_type_ids (int64 [1, 16]) -> Gather word + type tables -> * mask -> MatMul."""
    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.standard_normal((VOCAB, EMB)).astype(np.float32), "word"),
             numpy_helper.from_array(rng.standard_normal((TYPES, EMB)).astype(np.float32), "type_table"),
             numpy_helper.from_array(rng.standard_normal((EMB, 4)).astype(np.float32), "proj_w"),
             numpy_helper.from_array(np.array([-1], np.int64), "last_axis")]
    nodes = [helper.make_node("Gather", ["word", "input_ids"], ["we"], name="word_gather"),
             helper.make_node("Gather", ["type_table", "token_type_ids"], ["te"], name="type_gather"),
             helper.make_node("Add", ["we", "te"], ["e"], name="add"),
             helper.make_node("Cast", ["attention_mask"], ["m"], name="cast", to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["m", "last_axis"], ["m3"], name="unsq"),
             helper.make_node("Mul", ["e", "m3"], ["em"], name="mask"),
             helper.make_node("MatMul", ["em", "proj_w"], ["out"], name="proj")]
    names = ("input_ids", "attention_mask", "token_type_ids")
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"]) for n in names]
    graph = helper.make_graph(nodes, "tok", inputs, [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def photos(folder: Path, sizes_hw: list[tuple[int, int]], suffix: str = ".jpg") -> Path:
    """Smooth colour images with noise, of the given sizes (non-square, so the letterbox pads)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2)
    for k, (h, w) in enumerate(sizes_hw):
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([x * 255.0 / w, y * 255.0 / h, 128 + 100 * np.sin((x + y) / 5.0)], axis=2)
        image = np.clip(base + cv2.GaussianBlur(rng.uniform(-50, 50, (h, w, 3)), (5, 5), 0), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"img{k}{suffix}"), image)
    return folder


def build(tmp_path: Path, text: str, **paths: Path) -> Any:
    data = yaml.safe_load(text.format(**{k: str(v) for k, v in paths.items()}, out=str(tmp_path / "deploy")))
    return compile_model(parse_compile_config(data, "zoo.yaml"))


def run(model: str | Path, feed: dict[str, np.ndarray]) -> np.ndarray:
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, feed)[0], np.float64)


def agreement(reference: list[np.ndarray], quantized: list[np.ndarray]) -> tuple[float, float]:
    """(SNR in dB, cosine similarity) of the quantized outputs against the reference, over the whole set."""
    ref, got = np.concatenate([r.ravel() for r in reference]), np.concatenate([q.ravel() for q in quantized])
    snr_db = 10 * np.log10(np.sum(ref**2) / max(np.sum((ref - got) ** 2), 1e-30))
    cosine = float(ref @ got / (np.linalg.norm(ref) * np.linalg.norm(got)))
    return float(snr_db), cosine


def check_int8(source: Path, result: Any, feeds: list[dict[str, np.ndarray]]) -> None:
    assert result.precision == "int8" and result.calibration["samples"] == len(feeds)
    assert result.node_counts.get("QuantizeLinear", 0) > 0
    snr_db, cosine = agreement([run(source, f) for f in feeds], [run(result.model_path, f) for f in feeds])
    assert snr_db >= MIN_SNR_DB and cosine >= MIN_COSINE, (snr_db, cosine)


LETTERBOX_YAML = """
name: tiny_yolo_int8
frontend: {{checkpoint: {model}, shape: {{images: [1, 3, 32, 32]}}, type: onnx, dtype: fp32}}
graph:
  extra_ops:
    type: retinaface_nms
    params: {{num_classes: 2, nms_threshold: 0.65, confidence_threshold: 0.001, anchor: [10, 13, 16, 30, 33, 23], strides: [8]}}
dataset:
  type: tvm
  path: {data}
  sampler: {{suffix: jpg, get_data_num: 50}}
  process_ops:
    - type: DecodeImage
    - type: Resize
      size: [32, -1]
      adaptive_side: long
    - type: Pad
      pad_to_square: true
    - type: Normalize
      div255: true
      norm_type: null
    - type: ToTensor
backend:
  type: tvm_vacc
  dtype: int8
  compile: {{data_transport_mode: 3, cluster_mode: 0}}
  quantize: {{calibrate_mode: max, quantize_per_channel: true}}
workspace: {{path: {out}, env_recheck: false}}
"""


def test_letterbox_detector_int8_from_its_zoo_yaml(tmp_path: Path) -> None:
    model = conv_net(tmp_path / "det.onnx", 3, (32, 32))
    data = photos(tmp_path / "calib", [(24, 40), (40, 24), (30, 30), (19, 37)])
    result = build(tmp_path, LETTERBOX_YAML, model=model, data=data)
    cfg = parse_compile_config(yaml.safe_load(LETTERBOX_YAML.format(model=model, data=data, out=tmp_path)), "zoo.yaml")
    assert cfg.dataset is not None
    feeds = [{"images": image_tensor(p, cfg.dataset.ops, "zoo.yaml")[None]} for p in sorted(data.glob("*.jpg"))]
    assert all(f["images"].shape == (1, 3, 32, 32) for f in feeds) and np.allclose(feeds[0]["images"][0, :, 0, 0], 114 / 255)
    check_int8(model, result, feeds)
    assert any("retinaface_nms: not applied" in n for n in result.notes)  # applied NMS: tests/integration/test_compile_nms.py


OCR_YAML = """
name: tiny_ctc_int8
frontend:
  shape: {{input: [1, 1, 32, 64]}}
  checkpoint: {model}
backend:
  type: tvm_vacc
  dtype: int8
  compile: {{data_transport_mode: 1, cluster_mode: 0}}
  quantize: {{calibrate_mode: percentile, quantize_per_channel: true}}
dataset:
  path: {data}
  sampler: {{get_data_num: 100}}
  process_ops:
  - type: DecodeImage
    cv2_flags: 0
  - type: Resize
    size: [32, 64]
  - type: Normalize
    mean: [0.5]
    std: [0.5]
  - type: ToTensor
workspace: {{work_dir: {out}, save_log: false}}
"""


def test_gray_ocr_model_int8_from_gray_decode(tmp_path: Path) -> None:
    model = conv_net(tmp_path / "ocr.onnx", 1, (32, 64), name="input")
    data = photos(tmp_path / "words", [(20, 70), (31, 90), (16, 50)], suffix=".png")
    result = build(tmp_path, OCR_YAML, model=model, data=data)
    feeds = []
    for path in sorted(data.glob("*.png")):
        gray = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (64, 32), interpolation=cv2.INTER_LINEAR)  # type: ignore[arg-type]
        feeds.append({"input": ((gray.astype(np.float32) / 255 - 0.5) / 0.5)[None, None]})
    assert result.calibration["input_range"][0] >= -1.0 and result.calibration["input_range"][1] <= 1.0
    assert result.model_path.startswith(str(tmp_path / "deploy"))  # workspace.work_dir
    check_int8(model, result, feeds)


TOKEN_YAML = """
name: tiny_bert_int8
frontend:
  checkpoint: {model}
  shape:
    input_ids: [1, 16]
    attention_mask: [1, 16]
    token_type_ids: [1, 16]
  dtype: int64
backend:
  type: tvm_vacc
  dtype: int8
  compile: {{cluster_mode: 0, data_type: 0, output_layout: ["0:YX"]}}
  quantize: {{calibrate_mode: max, quantize_per_channel: false, overflow_adaptive: 1, calibrate_range: 0.99999}}
dataset:
  type: tvm
  path: {data}
  sampler: {{suffix: npz, get_data_num: 10}}
workspace: {{path: {out}}}
"""


def token_samples(n: int) -> list[dict[str, np.ndarray]]:
    """int32 ids, masks (ones, then zeros: padding) and type ids, [1, 16], as gen_vamp_data.py writes them."""
    rng = np.random.default_rng(3)
    samples = []
    for _ in range(n):
        length = int(rng.integers(6, SEQ + 1))
        ids = np.zeros((1, SEQ), np.int32)
        ids[0, :length] = rng.integers(1, VOCAB, length)
        mask = (np.arange(SEQ) < length).astype(np.int32)[None]
        types = (np.arange(SEQ) >= length // 2).astype(np.int32)[None] * mask
        samples.append({"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
    return samples


@pytest.mark.parametrize("keys", ["names", "positions"])
def test_token_model_int8_from_an_npz_folder(tmp_path: Path, keys: str) -> None:
    model = token_net(tmp_path / "tok.onnx")
    samples = token_samples(6)
    folder = tmp_path / "quant_dir"
    folder.mkdir()
    for k, sample in enumerate(samples):
        if keys == "names":  # gen_vamp_data.py: keyed by input name, with extra masks the model does not take
            members: dict[str, Any] = {**sample, "attention_mask1": sample["attention_mask"]}
            np.savez(folder / f"s{k}.npz", **members)
        else:  # sequence2npz.py: input_0..input_2, 1-D, in the model's input order
            np.savez(folder / f"s{k}.npz", input_0=sample["input_ids"][0], input_1=sample["attention_mask"][0],
                     input_2=sample["token_type_ids"][0])
    result = build(tmp_path, TOKEN_YAML, model=model, data=folder)
    assert result.calibration["origin"] == "npz" and [i["dtype"] for i in result.inputs] == ["int64"] * 3
    assert any("attention_mask1" in n for n in result.notes) == (keys == "names")
    feeds = [{name: array.astype(np.int64) for name, array in s.items()} for s in samples]
    check_int8(model, result, feeds)


def test_an_npz_that_mixes_names_and_positions_is_refused_as_run_refuses_it(tmp_path: Path) -> None:
    """One rule for the whole sample, as `vampy run --datalist` decides it (data/npz_inputs.npz_keys)."""
    model = token_net(tmp_path / "tok.onnx")
    folder = tmp_path / "quant_dir"
    folder.mkdir()
    for k, sample in enumerate(token_samples(2)):
        np.savez(folder / f"s{k}.npz", input_ids=sample["input_ids"], input_1=sample["attention_mask"],
                 token_type_ids=sample["token_type_ids"])
    with pytest.raises(InputError, match="name the arrays after the model's inputs \\(input_ids, attention_mask, token_type_ids\\) "
                                         "or input_0..input_2"):
        build(tmp_path, TOKEN_YAML, model=model, data=folder)


DYNAMIC_YAML = """
name: tiny_elic_{precision}
frontend:
  shape:
    x: [[1, 3, 16, 16], [1, 3, 48, 48]]
  checkpoint: {model}
  type: onnx
  dtype: fp32
backend:
  type: tvm_vacc
  dtype: {precision}
  compile: {{data_type: 0, opt_level: 2}}
  dynamic_params: {{is_elic_gs: true}}
dataset:
  path: {data}
  process_ops:
    - type: DecodeImage
    - type: Resize
      size: [{side}, {side}]
    - type: Normalize
      div255: true
    - type: ToTensor
workspace: {{path: {out}}}
"""


def test_dynamic_range_keeps_the_dims_dynamic_and_calibrates_at_the_data_shape(tmp_path: Path) -> None:
    model = conv_net(tmp_path / "dyn.onnx", 3, ("h", "w"), name="x")
    data = photos(tmp_path / "imgs", [(30, 40), (40, 30)])
    for precision in ("fp16", "int8"):
        result = build(tmp_path, DYNAMIC_YAML.replace("{precision}", precision).replace("{side}", "24"), model=model, data=data)
        assert result.inputs[0]["shape"][:2] == [1, 3] and all(isinstance(d, str) for d in result.inputs[0]["shape"][2:])
        for side in (16, 40):  # any size in the range runs
            assert run(result.model_path, {"x": np.zeros((1, 3, side, side), np.float32)}).shape == (1, 21, side // 2, side // 2)
    with pytest.raises(ModelError, match=r"produce \(1,3,64,64\) .*outside frontend.shape's range \[1, 3, 16, 16\] .. \[1, 3, 48, 48\]"):
        build(tmp_path, DYNAMIC_YAML.replace("{precision}", "int8").replace("{side}", "64"), model=model, data=data)


def test_fp16_with_a_dataset_without_path_builds(tmp_path: Path) -> None:
    text = LETTERBOX_YAML.replace("dtype: int8", "dtype: fp16").replace("  path: {data}\n", "")
    result = build(tmp_path, text, model=conv_net(tmp_path / "det.onnx", 3, (32, 32)))
    assert result.precision == "fp16" and result.calibration is None
    assert any(n.startswith("not used for fp16: dataset") for n in result.notes)
