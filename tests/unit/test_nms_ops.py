"""yolov5_nms extra op: the appended decode + NonMaxSuppression against an independent numpy
implementation (tests/support/yolo_heads.py) on planted boxes, on ONNX Runtime and OpenVINO."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from tests.support.yolo_heads import (
    ANCHORS,
    INPUT_HW,
    N_CLASSES,
    STRIDES,
    decode_heads,
    decode_v8,
    decode_yolox,
    expected_free,
    expected_planted,
    heads_model,
    planted_heads,
    reference_nms,
    reference_nms_scores,
    v8_heads,
    yolo_model,
    yolox_heads,
    yolox_rows,
)
from vampy.compiler.nms_ops import apply_nms
from vampy.config.compile import NMS_MAX_BOXES, ExtraOp, NmsParams
from vampy.errors import InputError, ModelError
from vampy.formats.compile_yaml import parse_compile_config

PARAMS = NmsParams(num_classes=N_CLASSES, nms_threshold=0.65, confidence_threshold=0.001, anchors=tuple(map(float, ANCHORS)),
                   strides=STRIDES, max_boxes=20)
OP = ExtraOp("yolov5_nms", nms=PARAMS)
IMAGE = np.random.default_rng(0).uniform(0, 1, (1, 3, INPUT_HW, INPUT_HW)).astype(np.float32)


def _with_nms(tmp_path: Path, decoded_too: bool = False, op: ExtraOp = OP) -> tuple[Path, str]:
    model = onnx.load(str(yolo_model(tmp_path / "yolo.onnx", decoded_too=decoded_too)))
    note = apply_nms(model, op, "y.yaml")
    onnx.checker.check_model(model, full_check=True)
    path = tmp_path / "nms.onnx"
    onnx.save(model, str(path))
    return path, note


def _ort(path: Path) -> list[np.ndarray]:
    return list(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"images": IMAGE}))


def _openvino(path: Path) -> list[np.ndarray]:
    ov = pytest.importorskip("openvino")
    compiled = ov.Core().compile_model(str(path), "CPU")
    result = compiled({"images": IMAGE})
    return [np.asarray(result[out]) for out in compiled.outputs]


@pytest.mark.parametrize("runtime", [_ort, _openvino])
@pytest.mark.parametrize("decoded_too", [False, True])
def test_decode_and_nms_match_numpy_and_the_planted_boxes(tmp_path: Path, runtime: object, decoded_too: bool) -> None:
    path, note = _with_nms(tmp_path, decoded_too)
    ids, scores, boxes = runtime(path)  # type: ignore[operator]
    assert ids.shape == scores.shape == (1, 20, 1) and boxes.shape == (1, 20, 4)
    want = reference_nms(decode_heads(planted_heads()), 0.65, 0.001, 20)
    np.testing.assert_array_equal(ids[0], want[0])
    np.testing.assert_allclose(scores[0], want[1], atol=1e-5)
    np.testing.assert_allclose(boxes[0], want[2], atol=1e-3)
    planted = expected_planted()
    assert [int(i) for i in ids[0, : len(planted), 0]] == [p[0] for p in planted]
    np.testing.assert_allclose(boxes[0, : len(planted)], [p[2] for p in planted], atol=1e-2)
    assert np.all(boxes[0, len(planted):] == -1) and np.all(ids[0, len(planted):] == -1)
    assert ("already-decoded [1, boxes, 5+3]" if decoded_too else "raw heads [1, 3*(5+3), H, W] at strides 8, 16, 32") in note


def test_more_boxes_than_n_keeps_the_best(tmp_path: Path) -> None:
    path, _ = _with_nms(tmp_path, op=ExtraOp("yolov5_nms", nms=NmsParams(anchors=PARAMS.anchors, max_boxes=2, nms_threshold=0.65)))
    ids, scores, _ = _ort(path)
    assert ids[0, :, 0].tolist() == [1, 2] and scores[0, :, 0] == pytest.approx([0.9, 0.8], abs=1e-5)


def test_no_detection_is_all_padding(tmp_path: Path) -> None:
    path, _ = _with_nms(tmp_path, op=ExtraOp("yolov5_nms", nms=NmsParams(anchors=PARAMS.anchors, confidence_threshold=0.95)))
    assert all(np.all(out == -1) for out in _ort(path))


def test_other_layouts_and_wrong_class_counts_are_refused_in_one_line(tmp_path: Path) -> None:
    model = onnx.load(str(yolo_model(tmp_path / "yolo.onnx")))
    del model.graph.output[1:]
    with pytest.raises(ModelError, match=r"neither raw heads \[1, A\*\(5\+C\), H, W\], one per stride \[8, 16, 32\] with A = 3") as info:
        apply_nms(model, OP, "y.yaml")
    assert "\n" not in str(info.value)
    wrong = ExtraOp("yolov5_nms", nms=NmsParams(num_classes=80, anchors=PARAMS.anchors))
    with pytest.raises(ModelError, match="params.num_classes is 80 but the raw heads"):
        apply_nms(onnx.load(str(tmp_path / "yolo.onnx")), wrong, "y.yaml")
    old = onnx.load(str(yolo_model(tmp_path / "old.onnx", opset=10)))
    with pytest.raises(ModelError, match="needs ONNX opset 11 or newer"):
        apply_nms(old, OP, "y.yaml")


def _yaml_graph(params: dict[str, object]) -> dict[str, object]:
    return {"name": "det", "frontend": {"checkpoint": "m.onnx", "type": "onnx", "shape": {"images": [1, 3, 64, 64]}},
            "backend": {"type": "tvm_vacc", "dtype": "fp16"}, "graph": {"extra_ops": {"type": "YOLOv5_nms", "params": params}}}


def test_the_yaml_params_become_the_decode_params() -> None:
    cfg = parse_compile_config(_yaml_graph({"num_classes": 80, "nms_threshold": 0.65, "confidence_threshold": 0.001,
                                            "anchor": list(ANCHORS), "strides": [8, 16, 32], "max_det": 100}), "y.yaml")
    assert cfg.extra_ops == (ExtraOp("yolov5_nms", nms=NmsParams(80, 0.65, 0.001, tuple(map(float, ANCHORS)), (8, 16, 32))),)
    assert cfg.extra_ops[0].nms is not None and cfg.extra_ops[0].nms.max_boxes == NMS_MAX_BOXES == 300
    assert "graph.extra_ops.params.max_det" in cfg.ignored_keys
    with pytest.raises(InputError, match=r"graph.extra_ops.params.anchor: expected w, h pairs, got 3 numbers"):
        parse_compile_config(_yaml_graph({"anchor": [1, 2, 3]}), "y.yaml")
    with pytest.raises(InputError, match=r"graph.extra_ops.params.nms_threshold: expected a fraction in \[0, 1\], got 65"):
        parse_compile_config(_yaml_graph({"nms_threshold": 65}), "y.yaml")


def test_strides_listed_coarse_first_keep_their_anchors(tmp_path: Path) -> None:
    anchors = np.asarray(ANCHORS, np.float64).reshape(3, 6)[::-1].ravel()  # the same anchors, listed for strides 32, 16, 8
    op = ExtraOp("yolov5_nms", nms=NmsParams(N_CLASSES, 0.65, 0.001, tuple(anchors), (32, 16, 8), max_boxes=20))
    path, _ = _with_nms(tmp_path, op=op)
    ids, _, boxes = _ort(path)
    planted = expected_planted()
    np.testing.assert_allclose(boxes[0, : len(planted)], [p[2] for p in planted], atol=1e-2)


def _v8_decoded() -> np.ndarray:
    boxes, scores = decode_v8(v8_heads())
    centre, size = (boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]
    return np.concatenate([centre, size, scores], axis=1).T[None].astype(np.float32)  # [1, 4+C, boxes] as ultralytics exports


def _case(name: str) -> tuple[str, list[tuple[str, np.ndarray]], tuple[np.ndarray, np.ndarray], str]:
    """(kind, model outputs, numpy (boxes, scores), the layout's words in the report)."""
    if name == "v8_dfl":
        heads = v8_heads()
        return "yolov8_nms", [(f"p{k}", h) for k, h in enumerate(heads)], decode_v8(heads), "raw heads [1, 4*16+3, H, W] (DFL)"
    if name == "v11_plain":
        heads = v8_heads(1)
        words = "raw heads [1, 4*1+3, H, W] (plain distances)"
        return "yolov11_nms", [(f"p{k}", h) for k, h in enumerate(heads)], decode_v8(heads, 1), words
    if name == "v8_decoded":
        return "yolov8_nms", [("output0", _v8_decoded())], decode_v8(v8_heads()), "already-decoded [1, 4+3, boxes] (output0 [1, 7, 84])"
    heads = yolox_heads()
    if name == "yolox_raw":
        outputs = [(f"output_{k}", h) for k, h in enumerate(heads)]  # the zoo reader's order: cls, box, obj per stride
        return "yolox_nms", outputs, decode_yolox(yolox_rows(heads)), "raw heads class [1, 3, H, W]"
    rows = yolox_rows(heads)
    return "yolox_nms", [("output", rows[None])], decode_yolox(rows), "YOLOX export [1, boxes, 5+3] (box not decoded) (output [1, 84, 8])"


@pytest.mark.parametrize("runtime", [_ort, _openvino])
@pytest.mark.parametrize("name", ["v8_dfl", "v11_plain", "v8_decoded", "yolox_raw", "yolox_flat"])
def test_anchor_free_families_match_numpy_and_the_planted_boxes(tmp_path: Path, runtime: object, name: str) -> None:
    kind, outputs, (ref_boxes, ref_scores), words = _case(name)
    model = onnx.load(str(heads_model(tmp_path / "heads.onnx", outputs)))
    params = NmsParams(num_classes=N_CLASSES, nms_threshold=0.65, confidence_threshold=0.001, max_boxes=20)
    note = apply_nms(model, ExtraOp(kind, nms=params), "y.yaml")
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(tmp_path / "nms.onnx"))
    ids, scores, boxes = runtime(tmp_path / "nms.onnx")  # type: ignore[operator]
    want = reference_nms_scores(ref_boxes, ref_scores, 0.65, 0.001, 20)
    np.testing.assert_array_equal(ids[0], want[0])
    np.testing.assert_allclose(scores[0], want[1], atol=1e-5)
    np.testing.assert_allclose(boxes[0], want[2], atol=1e-3)
    planted = expected_free()
    assert [int(i) for i in ids[0, : len(planted), 0]] == [p[0] for p in planted]
    np.testing.assert_allclose(boxes[0, : len(planted)], [p[2] for p in planted], atol=1e-2)
    assert words in note, note


def test_anchor_free_layouts_not_recognised_are_refused(tmp_path: Path) -> None:
    heads = v8_heads()
    model = onnx.load(str(heads_model(tmp_path / "two.onnx", [("p0", heads[0]), ("p1", heads[1])])))
    with pytest.raises(ModelError, match=r"yolov8_nms: the outputs \(p0 \[1, 67, 8, 8\]; p1 \[1, 67, 4, 4\]\) are neither raw heads"):
        apply_nms(model, ExtraOp("yolov8_nms", nms=NmsParams()), "y.yaml")
    with pytest.raises(ModelError, match=r"yolox_nms: .* with one box per grid cell \(C = params.num_classes 80\)"):
        apply_nms(onnx.load(str(heads_model(tmp_path / "x.onnx", [(f"o{k}", h) for k, h in enumerate(yolox_heads())]))),
                  ExtraOp("yolox_nms", nms=NmsParams(num_classes=80)), "y.yaml")
