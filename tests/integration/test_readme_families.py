"""The README's classification and segmentation walk-through, command for command, in a scratch folder: the zoo's
random-weight classifier and segmenter, the example data, then both routes (image2npz + run --datalist + eval --preset,
and infer --preset). The two routes must give the same metrics; the figures themselves are those of random weights."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.slow
TIMEOUT_S = 300  # a hang guard, not a timing assertion
CLS_VDSP = "vdsp_params/imagenet-classifier-vdsp_params.json"
SEG_VDSP = "vdsp_params/voc-segmenter-vdsp_params.json"


def _vampy(cwd: Path, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "vampy", *args], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"vampy {' '.join(args)}: {proc.stderr}"


def _metrics(path: Path) -> dict[str, float]:
    return dict(json.loads(path.read_text())["metrics"])


def test_readme_classification_and_segmentation_routes_agree(tmp_path: Path) -> None:
    for shared in ("vdsp_params", "scripts"):
        (tmp_path / shared).symlink_to(REPO_ROOT / shared)
    _vampy(tmp_path, "zoo", "classifier", "-o", "work/classifier")
    _vampy(tmp_path, "zoo", "segmenter", "-o", "work/segmenter")
    subprocess.run([sys.executable, "scripts/example_data.py", "families", "work"], cwd=tmp_path, check=True, timeout=TIMEOUT_S)

    _vampy(tmp_path, "image2npz", "--preset", "imagenet_topk", "--dataset_path", "work/cls_val", "--pattern", "**/*.JPEG",
           "--target_path", "work/cls_npz", "--text_path", "work/cls_datalist.txt", "-q")
    assert all(Path(line).parent.name.startswith("n0") for line in (tmp_path / "work/cls_datalist.txt").read_text().splitlines())
    _vampy(tmp_path, "run", "-m", "work/classifier/mod", "--vdsp_params", CLS_VDSP, "-i", "1", "-p", "1", "-b", "1",
           "--datalist", "work/cls_datalist.txt", "--path_output", "work/cls_out", "-q")
    _vampy(tmp_path, "eval", "--preset", "imagenet_topk", "--npz_txt", "work/cls_datalist.txt", "--npz_dir", "work/cls_out",
           "--result_txt", "work/cls_result.txt", "--label_txt", "work/imagenet.txt", "--json", "work/cls_eval.json", "-q")
    _vampy(tmp_path, "infer", "--preset", "imagenet_topk", "--lr_image_dir", "work/cls_val", "--pattern", "*/*.JPEG",
           "-m", "work/classifier/mod", "--vdsp_params", CLS_VDSP, "--label_txt", "work/imagenet.txt",
           "--json", "work/cls_infer.json", "-q")
    assert _metrics(tmp_path / "work/cls_eval.json") == _metrics(tmp_path / "work/cls_infer.json")
    assert len((tmp_path / "work/cls_result.txt").read_text().splitlines()) == 6 * 5

    _vampy(tmp_path, "image2npz", "--dataset_path", "work/voc/JPEGImages", "--target_path", "work/seg_npz", "--text_path",
           "work/seg_datalist.txt", "-q")
    _vampy(tmp_path, "run", "-m", "work/segmenter/mod", "--vdsp_params", SEG_VDSP, "-i", "1", "-p", "1", "-b", "1", "-s", "[3,320,320]",
           "--datalist", "work/seg_datalist.txt", "--path_output", "work/seg_out", "-q")
    _vampy(tmp_path, "eval", "--preset", "voc_seg", "--gt_dir", "work/voc/SegmentationClass", "--input_npz_path", "work/seg_datalist.txt",
           "--out_npz_dir", "work/seg_out", "--input_shape", "320", "320", "--json", "work/seg_eval.json", "-q")
    _vampy(tmp_path, "infer", "--preset", "voc_seg", "--lr_image_dir", "work/voc/JPEGImages", "--gt_dir", "work/voc/SegmentationClass",
           "-m", "work/segmenter/mod", "--vdsp_params", SEG_VDSP, "--json", "work/seg_infer.json", "-q")
    seg_eval = json.loads((tmp_path / "work/seg_eval.json").read_text())
    seg_infer = json.loads((tmp_path / "work/seg_infer.json").read_text())
    assert seg_eval["metrics"] == seg_infer["metrics"] and seg_eval["per_class_iou"] == seg_infer["per_class_iou"]
    assert 0 < seg_eval["metrics"]["pixacc"] <= 100 and len(seg_eval["images"]) == 3
