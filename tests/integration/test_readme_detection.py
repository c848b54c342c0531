"""The README's detection walk-through, command for command, in a scratch folder: `vampy zoo yolov5-head`, the
example data, the zoo's yolov5 YAML compiled with its NMS extra op, image2npz, `run --datalist` with the vdsp
letterbox file, and the coco_det preset. The planted boxes must score a perfect COCO mAP and come back in the
reader's text files within the int8 heads' few pixels (fp32: within a pixel, tests/integration/test_compile_nms.py)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.slow
TIMEOUT_S = 300  # a hang guard, not a timing assertion
INT8_BOX_ERROR_PX = 3  # the README: up to 3 pixels from the 8-bit head logits


def _vampy(cwd: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "vampy", *args], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"vampy {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def test_readme_detection_walk_through_scores_the_planted_boxes(tmp_path: Path) -> None:
    pytest.importorskip("pycocotools")
    for shared in ("build", "vdsp_params", "scripts"):
        (tmp_path / shared).symlink_to(REPO_ROOT / shared)
    _vampy(tmp_path, "zoo", "yolov5-head", "-o", "work/yolov5s")
    (tmp_path / "work/yolov5s-640.onnx").write_bytes((tmp_path / "work/yolov5s/mod.onnx").read_bytes())
    subprocess.run([sys.executable, "scripts/example_data.py", "detection", "work/yolov5s/mod.json", "work"], cwd=tmp_path, check=True,
                   timeout=TIMEOUT_S)
    _vampy(tmp_path, "compile", "build/vendor/ultralytics_yolov5.yaml", "-q")
    _vampy(tmp_path, "image2npz", "--dataset_path", "work/det_images", "--target_path", "work/det_npz", "--text_path",
           "work/det_datalist.txt", "-q")
    _vampy(tmp_path, "run", "-m", "deploy_weights/ultralytics_yolov5s_int8/mod", "--vdsp_params",
           "vdsp_params/yolov5-letterbox-vdsp_params.json", "-i", "1", "-p", "1", "-b", "1", "--datalist", "work/det_datalist.txt",
           "--path_output", "work/det_out", "-q")
    _vampy(tmp_path, "eval", "--preset", "coco_det", "--format", "bbox", "--label_txt", "work/coco.txt", "--input_image_dir",
           "work/det_images", "--model_size", "640", "640", "--vamp_datalist_path", "work/det_datalist.txt", "--vamp_output_dir",
           "work/det_out", "--txt", "work/det_txt", "--gt", "work/instances.json", "--json", "work/eval.json", "-q")
    metrics = json.loads((tmp_path / "work/eval.json").read_text())["metrics"]
    assert metrics["bbox_map"] == pytest.approx(1.0) and metrics["bbox_map_75"] == pytest.approx(1.0)
    planted = json.loads((tmp_path / "work/yolov5s/mod.json").read_text())["planted_boxes"]
    lines = (tmp_path / "work/det_txt/000000000001.txt").read_text().splitlines()  # 640x480: gain 1, 80 rows of padding above
    assert [line.split()[0] for line in lines] == [box["name"] for box in planted]
    for line, box in zip(lines, planted, strict=True):
        found = [int(v) for v in line.split()[2:]]
        expected = [box["x1"], box["y1"] - 80, box["x2"], box["y2"] - 80]
        assert max(abs(f - e) for f, e in zip(found, expected, strict=True)) <= INT8_BOX_ERROR_PX, (line, expected)
