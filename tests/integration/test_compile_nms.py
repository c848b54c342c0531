"""The zoo's own yolov5 YAML (build/vendor/ultralytics_yolov5.yaml) pointed at a tiny YOLO-head-shaped model
(tests/support/yolo_heads.py): `vampy compile` appends the decode + NMS, `vampy run --datalist` writes
the three-output layout the zoo's detection readers take, and the planted boxes come back within a pixel."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import yaml

from tests.support.files import images
from tests.support.yolo_heads import INPUT_HW, N_CLASSES, expected_free, expected_planted, heads_model, v8_heads, yolo_model, yolox_heads
from vampy.compiler.pipeline import compile_model
from vampy.compiler.plan import compile_plan
from vampy.config.compile import NMS_MAX_BOXES
from vampy.errors import ModelError
from vampy.formats.compile_yaml import parse_compile_config
from vampy.quality.detection import nms_arrays

VENDOR_YAML = Path(__file__).resolve().parents[2] / "build" / "vendor" / "ultralytics_yolov5.yaml"
TIMEOUT_S = 300


def vendor_config(tmp_path: Path, dtype: str = "int8", decoded_too: bool = False) -> dict[str, Any]:
    """The vendor file with its checkpoint, shape, letterbox size and calibration folder pointed at tmp_path."""
    data: dict[str, Any] = yaml.safe_load(VENDOR_YAML.read_text())
    data["frontend"]["checkpoint"] = str(yolo_model(tmp_path / "yolo.onnx", decoded_too=decoded_too))
    data["frontend"]["shape"] = {"images": [1, 3, INPUT_HW, INPUT_HW]}
    data["graph"]["extra_ops"]["params"]["num_classes"] = N_CLASSES
    data["dataset"]["path"] = str(images(tmp_path / "calib", n=3, size_wh=(40, 24)))
    data["dataset"]["sampler"]["suffix"] = "bmp"
    data["dataset"]["process_ops"][1]["size"] = [INPUT_HW, -1]
    data["backend"]["dtype"] = dtype
    data["workspace"]["path"] = str(tmp_path / "ws")
    return data


def _check_planted(ids: np.ndarray, scores: np.ndarray, boxes: np.ndarray, pixel: float, free: bool = False) -> None:
    planted = expected_free() if free else expected_planted()
    assert [int(i) for i in ids[:, 0]] == [p[0] for p in planted]
    np.testing.assert_allclose(scores[:, 0], [p[1] for p in planted], atol=0.01)
    np.testing.assert_allclose(boxes, [p[2] for p in planted], atol=pixel)


@pytest.mark.parametrize("dtype", ["fp32", "int8"])
def test_vendor_yaml_compiles_into_the_three_output_layout_and_run_datalist_gives_the_planted_boxes(tmp_path: Path, dtype: str) -> None:
    result = compile_model(parse_compile_config(vendor_config(tmp_path, dtype), str(VENDOR_YAML)))
    n = NMS_MAX_BOXES
    assert [(o["name"], o["shape"]) for o in result.outputs] == [
        ("extra_nms/class_ids", [1, n, 1]), ("extra_nms/scores", [1, n, 1]), ("extra_nms/boxes", [1, n, 4])]
    note = next(n for n in result.notes if "yolov5_nms applied" in n)
    assert "raw heads [1, 3*(5+3), H, W] at strides 8, 16, 32" in note and "iou 0.65, score 0.001" in note
    assert result.node_counts["NonMaxSuppression"] == 1
    folder = tmp_path / "inputs"
    folder.mkdir()
    lines = []
    for k in range(2):  # letterboxed model inputs, as the vdsp letterbox writes them
        image = np.full((3, INPUT_HW, INPUT_HW), 114 / 255, np.float32)
        image[:, 16:48, :] = np.random.default_rng(k).uniform(0, 1, (3, 32, INPUT_HW))
        np.savez(folder / f"{k:012d}.npz", input_0=image)
        lines.append(str(folder / f"{k:012d}.npz"))
    datalist = tmp_path / "list.txt"
    datalist.write_text("\n".join(lines) + "\n")
    out, report = tmp_path / "out", tmp_path / "report.json"
    prefix = str(Path(result.model_path).with_suffix(""))
    command = [sys.executable, "-m", "vampy", "run", "-m", prefix, "--datalist", str(datalist), "--path_output", str(out),
               "--json", str(report), "-q"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(report.read_text())["datalist"]["written"] == 2
    for k in range(2):
        ids, scores, boxes = nms_arrays(out / f"output_{k:06d}.npz")  # the detection readers' own loading
        # int8: the decode and NMS stay float, but the model's own heads are 8-bit (logit steps ~0.06): 2 px
        _check_planted(ids, scores, boxes, pixel=1.0 if dtype == "fp32" else 2.0)
    if dtype == "int8":
        assert any("nodes of the NMS extra op (decode, NonMaxSuppression) kept in float" in n for n in result.notes)
        assert result.calibration is not None and result.calibration["skipped_nodes"] == []


def test_already_decoded_output_is_used_and_the_plan_lists_the_params(tmp_path: Path) -> None:
    cfg = parse_compile_config(vendor_config(tmp_path, "fp32", decoded_too=True), str(VENDOR_YAML))
    applied = compile_plan(cfg)["extra_ops_applied"]
    assert applied[0]["type"] == "yolov5_nms" and applied[0]["max_boxes"] == NMS_MAX_BOXES and applied[0]["strides"] == [8, 16, 32]
    result = compile_model(cfg)
    assert any("already-decoded [1, boxes, 5+3] (decoded [1, 252, 8])" in n for n in result.notes)


def test_a_head_layout_not_recognised_is_refused(tmp_path: Path) -> None:
    data = vendor_config(tmp_path, "fp32")
    data["graph"]["extra_ops"]["params"]["strides"] = [8, 16]
    with pytest.raises(ModelError, match="are neither raw heads"):
        compile_model(parse_compile_config(data, str(VENDOR_YAML)))


# The zoo's yolov8 and yolox files (cv/detection/yolov8/build_in/build/ultralytics_yolov8.yaml,
# cv/detection/yolox/build_in/build/official_yolox.yaml), their graph sections as written there.
ZOO_GRAPHS: dict[str, dict[str, Any]] = {
    "yolov8_nms": {"type": "yolov8_nms", "params": {"num_classes": 80, "nms_threshold": 0.65, "confidence_threshold": 0.001,
                                                    "strides": [8, 16, 32]}},
    "yolox_nms": {"type": "yolox_nms", "params": {"num_classes": 80, "nms_threshold": 0.45, "confidence_threshold": 0.01}},
}


@pytest.mark.parametrize("kind", ["yolov8_nms", "yolox_nms"])
def test_zoo_anchor_free_graph_sections_compile_and_give_the_planted_boxes(tmp_path: Path, kind: str) -> None:
    data = vendor_config(tmp_path, "int8")
    heads = v8_heads() if kind == "yolov8_nms" else yolox_heads()
    data["frontend"]["checkpoint"] = str(heads_model(tmp_path / "heads.onnx", [(f"output_{k}", h) for k, h in enumerate(heads)]))
    data["graph"] = {"extra_ops": {**ZOO_GRAPHS[kind], "params": {**ZOO_GRAPHS[kind]["params"], "num_classes": N_CLASSES}}}
    result = compile_model(parse_compile_config(data, "zoo.yaml"))
    assert any(f"{kind} applied: raw heads" in n for n in result.notes)
    session = ort.InferenceSession(result.model_path, providers=["CPUExecutionProvider"])
    image = np.zeros((1, 3, INPUT_HW, INPUT_HW), np.float32)
    ids, scores, boxes = (np.squeeze(a, 0) for a in session.run(None, {"images": image}))
    planted = expected_free()
    assert scores.shape == (NMS_MAX_BOXES, 1) and np.all(boxes[len(planted):] == -1)
    _check_planted(ids[: len(planted)], scores[: len(planted)], boxes[: len(planted)], pixel=2.0, free=True)  # int8 heads, float decode
