"""coco_det (DET-1 + DET-0) and coco_det_stretch (DET-2 + DET-0): the reader's txt files and eval_map.py's mAP,
against both scripts written out again here (pycocotools as eval_map.py calls it)."""
from __future__ import annotations

import glob
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

import vampy
from tests.support.coco import coco_bbox_stats
from vampy.errors import UsageError
from vampy.quality.detection import COCO80_TO_91, COCO_NAMES
from vampy.quality.families import FAMILY_PRESETS
from vampy.quality.family_eval import vendor_line

SIZES_HW = {"000000000001": (480, 640), "000000000002": (640, 480)}


def _vendor_decode(flags: dict[str, str], stretch: bool) -> dict[str, str]:
    """npz_decode.py (or darknet_npz_decode.py): the txt files' text by name."""
    classes = [c.strip() for c in Path(flags["label_txt"]).read_text().splitlines(keepends=True)]
    lines = Path(flags["vamp_datalist_path"]).read_text().splitlines(keepends=True)
    model_h, model_w = 640, 640
    out = {}
    for index, npz_file in enumerate(sorted(glob.glob(flags["vamp_output_dir"] + "/*.npz"))):
        image = os.path.basename(lines[index].strip().replace("npz", "jpg"))
        h0, w0 = cv2.imread(os.path.join(flags["input_image_dir"], image)).shape[:2]
        data = np.load(npz_file)
        arrays = []
        for key in ("output_0", "output_1", "output_2"):
            a = np.squeeze(data[key], axis=0)
            arrays.append(a[[not np.all(a[i] == -1) for i in range(a.shape[0])], :])
        ids, scores, coords = arrays
        if stretch:
            coords[:, [0, 2]] = coords[:, [0, 2]] / model_w * w0
            coords[:, [1, 3]] = coords[:, [1, 3]] / model_h * h0
        else:
            gain = min(model_h / h0, model_w / w0)
            pad = (model_w - w0 * gain) / 2, (model_h - h0 * gain) / 2
            coords[:, [0, 2]] -= pad[0]
            coords[:, [1, 3]] -= pad[1]
            coords[:, :4] /= gain
            coords[:, [0, 2]] = coords[:, [0, 2]].clip(0, w0)
            coords[:, [1, 3]] = coords[:, [1, 3]].clip(0, h0)
        coords = coords.round()
        text = ""
        for i in range(len(coords)):
            b = coords[i, :].tolist()
            text += f"{classes[ids[i, :][0].astype(np.int8)]} {scores[i, :][0]} {int(b[0])} {int(b[1])} {int(b[2])} {int(b[3])}\n"
        out[os.path.splitext(image)[0] + ".txt"] = text
    return out


def _vendor_map(texts: dict[str, str], gt_path: str) -> list[float]:
    """eval_map.py's get_jdict_from_txt + coco_map (stats unrounded)."""
    jdict = []
    for name, text in texts.items():
        stem = os.path.splitext(name)[0]
        rows = [line.strip().split() for line in text.splitlines()]
        if not rows:
            continue
        box = np.array([[float(v) for v in r[-4:]] for r in rows])
        xywh = np.copy(box)
        xywh[:, 0], xywh[:, 1] = (box[:, 0] + box[:, 2]) / 2, (box[:, 1] + box[:, 3]) / 2
        xywh[:, 2], xywh[:, 3] = box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]
        xywh[:, :2] -= xywh[:, 2:] / 2
        for r, b in zip(rows, xywh.tolist()):
            jdict.append({"image_id": int(stem), "category_id": COCO80_TO_91[COCO_NAMES.index(" ".join(r[:-5]))], "bbox": b,
                          "score": float(r[-5])})
    return coco_bbox_stats(gt_path, jdict)


def _case(tmp_path: Path, boxes: dict[str, list[tuple[int, float, list[float]]]], dtype: type = np.float32) -> dict[str, str]:
    img = tmp_path / "val2017"
    img.mkdir()
    out = tmp_path / "npz_out"
    out.mkdir()
    for stem, (h, w) in SIZES_HW.items():
        cv2.imwrite(str(img / f"{stem}.jpg"), np.zeros((h, w, 3), np.uint8))
    rows = []
    for i, stem in enumerate(SIZES_HW):
        ids = -np.ones((1, 5, 1), dtype)
        scores = -np.ones((1, 5, 1), dtype)
        xyxy = -np.ones((1, 5, 4), dtype)
        for k, (cls, score, box) in enumerate(boxes.get(stem, [])):
            ids[0, k, 0], scores[0, k, 0], xyxy[0, k] = cls, score, box
        np.savez(out / f"output_{i:06d}.npz", output_0=ids, output_1=scores, output_2=xyxy)
        rows.append(f"/x/npz/{stem}.npz")
    datalist = tmp_path / "datalist.txt"
    datalist.write_text("\n".join(rows) + "\n")
    labels = tmp_path / "coco.txt"
    labels.write_text("\n".join(COCO_NAMES) + "\n")
    gt = {"images": [{"id": int(s), "height": h, "width": w, "file_name": f"{s}.jpg"} for s, (h, w) in SIZES_HW.items()],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [100, 60, 200, 150], "area": 30000, "iscrowd": 0},
                          {"id": 2, "image_id": 2, "category_id": 3, "bbox": [40, 300, 120, 80], "area": 9600, "iscrowd": 0}],
          "categories": [{"id": i, "name": f"c{i}"} for i in range(1, 91)]}
    gt_path = tmp_path / "instances.json"
    gt_path.write_text(json.dumps(gt))
    return dict(label_txt=str(labels), input_image_dir=str(img), vamp_datalist_path=str(datalist), vamp_output_dir=str(out),
                txt=str(tmp_path / "txt"), gt=str(gt_path))


# Image 1 (480x640) sits at y 80..560 of the 640 letterbox; image 2 (640x480) at x 80..560.
LETTERBOX_BOXES = {
    "000000000001": [(0, 0.9, [100, 140, 300, 290]), (0, 0.02, [400, 300, 500, 400]), (5, 0.4, [-20, 70, 50, 120.5])],
    "000000000002": [(2, 0.8, [120, 300, 240, 380]), (2, 0.3, [559.5, 0.5, 650, 20])],
}


@pytest.mark.parametrize("dtype", [np.float32, np.float16])  # vamp writes either; the scripts compute in that dtype
def test_txt_files_and_map_equal_the_two_scripts(tmp_path: Path, dtype: type) -> None:
    flags = _case(tmp_path, LETTERBOX_BOXES, dtype)
    texts = _vendor_decode(dict(flags), stretch=False)
    report = vampy.evaluate(preset="coco_det", model_size=(640, 640), format="bbox", **flags)
    for name, text in texts.items():
        assert (Path(flags["txt"]) / name).read_bytes() == text.encode()
    if dtype is np.float32:
        assert "0.8999999761581421" in texts["000000000001.txt"]  # the score as format(np.float32) writes it
    expected = _vendor_map(texts, flags["gt"])
    keys = ["bbox_map", "bbox_map_50", "bbox_map_75", "bbox_map_s", "bbox_map_m", "bbox_map_l"]
    assert [report.metrics[k] for k in keys] == expected
    assert report.metrics["bbox_map_50"] == pytest.approx(1.0) and report.metrics["bbox_map_s"] == -1.0
    assert vendor_line(FAMILY_PRESETS["coco_det"], report.metrics).startswith("{'bbox_mAP': ")
    assert json.loads((Path(flags["txt"]) / "pred.json").read_text())[0]["image_id"] == 1


def test_stretch_keeps_boxes_outside_the_image(tmp_path: Path) -> None:
    flags = _case(tmp_path, LETTERBOX_BOXES)
    texts = _vendor_decode(dict(flags), stretch=True)
    report = vampy.evaluate(preset="coco_det_stretch", model_size=(640, 640), **flags)
    for name, text in texts.items():
        assert (Path(flags["txt"]) / name).read_bytes() == text.encode()
    assert "bus 0.4000000059604645 -20 " in texts["000000000001.txt"]  # x -20 * 640/640 stays outside: no clip
    assert [report.metrics[k] for k in sorted(report.metrics)] == [
        dict(zip(["bbox_map", "bbox_map_50", "bbox_map_75", "bbox_map_s", "bbox_map_m", "bbox_map_l"],
                 _vendor_map(texts, flags["gt"])))[k] for k in sorted(report.metrics)]


def test_zero_detections_score_instead_of_crashing(tmp_path: Path) -> None:
    flags = _case(tmp_path, {})
    report = vampy.evaluate(preset="coco_det", **flags)
    assert all((Path(flags["txt"]) / f"{s}.txt").read_bytes() == b"" for s in SIZES_HW)
    assert report.metrics["bbox_map"] == 0.0 and report.metrics["bbox_map_s"] == -1.0


def test_needs_its_flags_and_bbox(tmp_path: Path) -> None:
    flags = _case(tmp_path, {})
    with pytest.raises(UsageError, match="--txt"):
        vampy.evaluate(preset="coco_det", **{k: v for k, v in flags.items() if k != "txt"})
    with pytest.raises(UsageError, match="only bbox"):
        vampy.evaluate(preset="coco_det", format="segm", **flags)


def test_refused_in_one_line_without_pycocotools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    flags = _case(tmp_path, {})
    monkeypatch.setitem(sys.modules, "pycocotools.cocoeval", None)  # as if the [zoo-eval] extra were absent
    refusal = (r"^preset coco_det needs the pycocotools package: pip install 'vampy\[zoo-eval\]' "
               r"\(in a clone of vampy: make setup-zoo-eval\)$")
    with pytest.raises(UsageError, match=refusal):
        vampy.evaluate(preset="coco_det", **flags)
