"""coco_det_yolox (DET-10 + DET-0): the zoo's YOLOX raw-head reader and eval_map.py.

The reader is written out again here with loops (its grid decode, threshold, torchvision's batched_nms
on both of its paths, the letterbox inverse, the line format) and compared byte for byte on
random-normal heads of the script's exact shapes; the mAP is compared with pycocotools run directly.
The two torch primitives the script's last bits depend on (its float32 sigmoid, its unstable sort) are
checked against bits torch 2.13 computed (AVX-512 CPU), then used as they are by the copy below.
"""
from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import vampy
from tests.support.coco import coco_bbox_stats
from vampy.errors import PartialResult, UsageError
from vampy.quality import detection
from vampy.quality.detection import COCO80_TO_91, COCO_NAMES
from vampy.quality.detection_yolox import image_name
from vampy.quality.families import FAMILY_PRESETS
from vampy.quality.torch_math import sigmoid_f32, sort_desc_order

F32 = np.float32
KEYS = ["bbox_map", "bbox_map_50", "bbox_map_75", "bbox_map_s", "bbox_map_m", "bbox_map_l"]
# 32 values through torch's vectorised sigmoid (SLEEF expf), then 16 through its scalar tail (glibc expf):
# each of the 48 results differs from the correctly rounded sigmoid in its last bit.
X_BITS = (
    0xc0735988, 0xc03be02b, 0xc0bf45b5, 0xbe956ec7, 0xbeb980df, 0xbfe2f474, 0xbff0697d, 0xc01aea17, 0xc06f588b, 0xbe7d5fa2,
    0xc0483b11, 0xc0740ab1, 0x3f91695f, 0xbfd53718, 0xbfde7c8e, 0x3ea85642, 0xc03ec63b, 0xc06f6b60, 0xbfe3b6d8, 0xbe2c5256,
    0xbecadbd8, 0xc0798b9b, 0xc08a9c65, 0xc01ed6db, 0xc07796cf, 0xc0507a0a, 0xc09258cf, 0xc0c739eb, 0xc03b7ede, 0xc078eaa6,
    0x3ea95370, 0x3f6cdbcd, 0xc0507a0a, 0xc06f635d, 0xbfbbff11, 0x3dcb03b6, 0xbfd73755, 0xc03c0a08, 0xbed6c8ed, 0x3f815f2a,
    0xc030e539, 0xc0a7d8e6, 0xc0591a99, 0xc0255bbd, 0xc03eebab, 0x3f0f27fc, 0x3e9fd24b, 0xc01a65cf,
)
TORCH_SIGMOID_BITS = (
    0x3cb2d776, 0x3d4e88f3, 0x3b25c380, 0x3edae79f, 0x3ed21ff8, 0x3e14a496, 0x3e07c69a, 0x3da7285c, 0x3cbe1e95, 0x3ee07d2a,
    0x3d2bcc07, 0x3cb0f5b6, 0x3f41c773, 0x3e22ceec, 0x3e192243, 0x3f14dac6, 0x3d45d4bd, 0x3cbde7f8, 0x3e13e404, 0x3eea82b0,
    0x3ecdf042, 0x3ca2aafd, 0x3c549962, 0x3d9dfb45, 0x3ca79d10, 0x3d17cc62, 0x3c27691a, 0x3b015ad5, 0x3d4fb3ea, 0x3ca43ddd,
    0x3f14f994, 0x3f3752be, 0x3d17cc62, 0x3cbdff31, 0x3e3fa0d8, 0x3f0656c9, 0x3e20ade3, 0x3d4e08d0, 0x3ecb13df, 0x3f3bb065,
    0x3d72e5fa, 0x3babde00, 0x3d054732, 0x3d8fc17d, 0x3d4566b8, 0x3f22e27a, 0x3f13d128, 0x3da866ba,
)
# torch.tensor(SORT_IN / 5, float32).sort(descending=True)[1]: ties not in index order past 16 values.
SORT_IN = (2, 3, 3, 3, 1, 2, 2, 2, 4, 2, 1, 1, 1, 3, 2, 0, 1, 1, 4, 2, 3, 4, 3, 4, 2, 2, 2, 1, 4, 3, 1, 0, 4, 3, 2, 1, 1, 1, 4, 2)
TORCH_SORT_OUT = (38, 32, 28, 23, 8, 21, 18, 1, 33, 29, 22, 20, 13, 2, 3, 26, 39, 0, 34, 5, 25, 24, 6, 9, 14, 19, 7, 12, 27, 10,
                  4, 30, 11, 17, 16, 35, 36, 37, 31, 15)
# Datalist order (the outputs' order) differs from the names' lexical order; sizes not square, gains not round.
IMAGES_HW = {"000000000003": (480, 640), "000000000001": (427, 640), "000000000002": (640, 359)}


def test_sigmoid_is_torchs_bit_for_bit() -> None:
    x = np.array(X_BITS, np.uint32).view(F32)
    assert sigmoid_f32(x).view(np.uint32).tolist() == list(TORCH_SIGMOID_BITS)
    rounded = (F32(1) / (F32(1) + np.exp(-x.astype(np.float64)).astype(F32))).view(np.uint32)
    assert (rounded != np.array(TORCH_SIGMOID_BITS, np.uint32)).all()  # the correctly rounded sigmoid is not torch's


def test_sort_order_is_torchs_unstable_sort() -> None:
    values = np.array(SORT_IN, F32) / F32(5)
    assert sort_desc_order(values).tolist() == list(TORCH_SORT_OUT)
    assert sorted(range(len(values)), key=lambda i: -values[i]) != list(TORCH_SORT_OUT)  # not the stable order
    assert sort_desc_order(values[:16]).tolist() == sorted(range(16), key=lambda i: -values[i])  # 16 or fewer: stable


def test_image_name_replaces_the_dotted_suffix_only() -> None:
    assert image_name("/data/npz/npz_cat.npz\n") == "npz_cat.jpg"
    assert detection.image_name("/data/npz/npz_cat.npz\n") == "jpg_cat.jpg"  # the common reader replaces every 'npz'


# --- the script written out again ---


def _candidates(data: dict[str, np.ndarray]) -> list[tuple[float, ...]]:
    """(x1, y1, x2, y2, obj, cls score, cls id) of every anchor with obj * cls >= 0.25, in the script's anchor order."""
    found = []
    for k, side in enumerate((80, 40, 20)):
        stride = F32(8 << k)
        cls = sigmoid_f32(data[f"output_{k}"].astype(F32))[0]
        obj = sigmoid_f32(data[f"output_{k + 6}"].astype(F32))[0, 0]
        box = data[f"output_{k + 3}"].astype(F32)[0]
        best = cls.argmax(axis=0)
        for gy in range(side):
            for gx in range(side):
                c = int(best[gy, gx])
                score, o = cls[c, gy, gx], obj[gy, gx]
                if not o * score >= F32(0.25):
                    continue
                cx, cy = (box[0, gy, gx] + F32(gx)) * stride, (box[1, gy, gx] + F32(gy)) * stride
                w = F32(np.exp(np.float64(box[2, gy, gx]))) * stride
                h = F32(np.exp(np.float64(box[3, gy, gx]))) * stride
                found.append((cx - w / F32(2), cy - h / F32(2), cx + w / F32(2), cy + h / F32(2), o, score, F32(c)))
    return found


def _greedy(boxes: np.ndarray, scores: np.ndarray) -> list[int]:
    """torchvision's CPU nms kernel: an IoU matrix in float32, then the greedy pass in stable descending score order."""
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1) * (y2 - y1)
    w = np.clip(np.minimum.outer(x2, x2) - np.maximum.outer(x1, x1), F32(0), None)
    h = np.clip(np.minimum.outer(y2, y2) - np.maximum.outer(y1, y1), F32(0), None)
    inter = w * h
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (np.add.outer(area, area) - inter)
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    dropped: set[int] = set()
    kept = []
    for n, i in enumerate(order):
        if i in dropped:
            continue
        kept.append(i)
        dropped.update(j for j in order[n + 1:] if float(iou[i, j]) > 0.45)
    return kept


def _batched_nms(rows: np.ndarray) -> list[int]:
    boxes, scores, classes = rows[:, :4], rows[:, 4] * rows[:, 5], rows[:, 6]
    if boxes.size <= 4000:  # one NMS over boxes shifted apart by class
        shift = classes * (boxes.max() + F32(1))
        return _greedy(boxes + shift[:, None], scores)
    kept = []
    for c in sorted(set(classes.tolist())):
        members = [i for i in range(len(rows)) if classes[i] == c]
        kept += [members[j] for j in _greedy(boxes[members], scores[members])]
    kept.sort()
    return [kept[j] for j in sort_desc_order(scores[kept])]


def _vendor_decode(flags: dict[str, str], model_hw: tuple[int, int]) -> tuple[dict[str, str], int]:
    """npz_decode.py: the txt files' text by name, and the most candidates any image had."""
    lines = Path(flags["vamp_datalist_path"]).read_text().splitlines(keepends=True)
    texts, most = {}, 0
    for index, npz_file in enumerate(sorted(glob.glob(flags["vamp_output_dir"] + "/*.npz"))):
        image = os.path.basename(lines[index].strip().replace(".npz", ".jpg"))
        h0, w0 = cv2.imread(os.path.join(flags["input_image_dir"], image)).shape[:2]
        rows = np.array(_candidates(dict(np.load(npz_file))), F32).reshape(-1, 7)
        most = max(most, len(rows))
        text = ""
        if len(rows):
            pred = rows[_batched_nms(rows)]
            ratio = min(model_hw[0] / h0, model_hw[1] / w0)
            pad_x, pad_y = F32((model_hw[1] - w0 * ratio) / 2), F32((model_hw[0] - h0 * ratio) / 2)
            for r in pred:
                x1 = np.clip((r[0] - pad_x) / F32(ratio), 0, w0)
                y1 = np.clip((r[1] - pad_y) / F32(ratio), 0, h0)
                x2 = np.clip((r[2] - pad_x) / F32(ratio), 0, w0)
                y2 = np.clip((r[3] - pad_y) / F32(ratio), 0, h0)
                xs = [int(np.round(v)) for v in (x1, y1, x2, y2)]
                text += f"{COCO_NAMES[int(r[6])]} {float(r[4])} {xs[0]} {xs[1]} {xs[2]} {xs[3]}\n"
        texts[os.path.splitext(image)[0] + ".txt"] = text
    return texts, most


def _coco_stats(texts: dict[str, str], gt_path: str) -> list[float]:
    """eval_map.py's results from those lines, scored by pycocotools directly."""
    results = []
    for name, text in texts.items():
        for line in text.splitlines():
            *label, score, x1, y1, x2, y2 = line.split()
            box = [float(v) for v in (x1, y1, x2, y2)]
            results.append({"image_id": int(name[:-4]), "category_id": COCO80_TO_91[COCO_NAMES.index(" ".join(label))],
                            "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]], "score": float(score)})
    return coco_bbox_stats(gt_path, results)


def _case(tmp_path: Path, seed: int, obj_shift: float, scale: float, dtype: type = np.float32) -> dict[str, str]:
    """Random-normal heads of the script's shapes, one output per image in datalist order, and a COCO json."""
    rng = np.random.default_rng(seed)
    img, out = tmp_path / "val2017", tmp_path / "npz_out"
    img.mkdir()
    out.mkdir()
    for i, (stem, (h, w)) in enumerate(IMAGES_HW.items()):
        cv2.imwrite(str(img / f"{stem}.jpg"), np.zeros((h, w, 3), np.uint8))
        heads = {}
        for k, side in enumerate((80, 40, 20)):
            heads[f"output_{k}"] = (rng.standard_normal((1, 80, side, side)) * scale).astype(dtype)
            heads[f"output_{k + 3}"] = (rng.standard_normal((1, 4, side, side)) * scale).astype(dtype)
            heads[f"output_{k + 6}"] = (rng.standard_normal((1, 1, side, side)) * scale + obj_shift).astype(dtype)
        np.savez(out / f"output_{i:06d}.npz", **heads)
    datalist = tmp_path / "datalist.txt"
    datalist.write_text("".join(f"/x/npz/{stem}.npz\n" for stem in IMAGES_HW))
    gt = {"images": [{"id": int(s), "height": h, "width": w, "file_name": f"{s}.jpg"} for s, (h, w) in IMAGES_HW.items()],
          "annotations": [{"id": n + 1, "image_id": int(s), "category_id": c, "bbox": [40.0 + 30 * n, 50.0, 120.0, 90.0],
                           "area": 10800.0, "iscrowd": 0} for n, (s, c) in enumerate([("000000000003", 1), ("000000000001", 3),
                                                                                     ("000000000002", 1), ("000000000002", 62)])],
          "categories": [{"id": i, "name": f"c{i}"} for i in range(1, 91)]}
    gt_path = tmp_path / "instances.json"
    gt_path.write_text(json.dumps(gt))
    return dict(input_image_dir=str(img), vamp_datalist_path=str(datalist), vamp_output_dir=str(out), txt=str(tmp_path / "txt"),
                gt=str(gt_path))


def _with_hits(flags: dict[str, str], texts: dict[str, str]) -> None:
    """Ground truth that some detections match: each image's first two written boxes become its annotations."""
    gt = json.loads(Path(flags["gt"]).read_text())
    gt["annotations"] = []
    for name, text in texts.items():
        for line in text.splitlines()[:2]:
            *label, _, x1, y1, x2, y2 = line.split()
            w, h = float(x2) - float(x1), float(y2) - float(y1)
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": int(name[:-4]), "area": max(w * h, 1.0),
                                      "category_id": COCO80_TO_91[COCO_NAMES.index(" ".join(label))], "iscrowd": 0,
                                      "bbox": [float(x1), float(y1), w, h]})
    Path(flags["gt"]).write_text(json.dumps(gt))


@pytest.mark.parametrize(("obj_shift", "scale", "model_hw", "per_class", "dtype"), [
    (0.0, 1.0, (640, 640), True, np.float32),  # thousands of candidates: batched_nms's per-class path, ties as torch sorts them
    (-6.0, 2.5, (608, 640), False, np.float32),  # hundreds: the shifted-boxes path; boxes past the edges; another --model_size
    (-6.0, 2.5, (640, 640), False, np.float16),  # vamp's fp16 outputs, taken as float32 (torch.Tensor)
])
def test_txt_files_and_map_equal_the_script(tmp_path: Path, obj_shift: float, scale: float, model_hw: tuple[int, int],
                                            per_class: bool, dtype: type) -> None:
    flags = _case(tmp_path, 5, obj_shift, scale, dtype)
    texts, most = _vendor_decode(flags, model_hw)
    assert (most > 1000) == per_class and all(texts.values())
    _with_hits(flags, texts)
    report = vampy.evaluate(preset="coco_det_yolox", model_size=model_hw, format="bbox", draw_image="False", **flags)
    assert sorted(p.name for p in Path(flags["txt"]).iterdir()) == sorted([*texts, "pred.json"])
    for name, text in texts.items():
        assert (Path(flags["txt"]) / name).read_bytes() == text.encode()
    assert [report.metrics[k] for k in KEYS] == _coco_stats(texts, flags["gt"])
    assert report.metrics["bbox_map_50"] > 0
    assert [row.metrics["detections"] for row in report.images] == [text.count("\n") for text in texts.values()]


def test_the_written_score_is_the_objectness(tmp_path: Path) -> None:
    flags = _case(tmp_path, 1, -30.0, 0.0)  # nothing anywhere, but one anchor of the 40x40 grid
    data = dict(np.load(Path(flags["vamp_output_dir"]) / "output_000000.npz"))
    data["output_7"][0, 0, 5, 9] = 2.0  # objectness 0.8808
    data["output_1"][0, 17, 5, 9] = 0.5  # class 17 (horse), 0.6225: obj * cls = 0.548
    data["output_4"][0, :, 5, 9] = [0.25, 0.5, np.log(4.0), np.log(2.0)]  # centre (148, 88), 64 x 32 in the 640 input
    np.savez(Path(flags["vamp_output_dir"]) / "output_000000.npz", **data)
    vampy.evaluate(preset="coco_det_yolox", **flags)
    # 480x640 image: gain 1, pad 80 in y -> (116, -8, 180, 24) -> y clipped at 0.
    assert (Path(flags["txt"]) / "000000000003.txt").read_text() == "horse 0.8807970285415649 116 0 180 24\n"
    assert float(sigmoid_f32(np.array([2.0]))[0]) == 0.8807970285415649


def test_zero_detections_score_instead_of_crashing(tmp_path: Path) -> None:
    flags = _case(tmp_path, 2, -30.0, 0.0)
    report = vampy.evaluate(preset="coco_det_yolox", **flags)
    assert all((Path(flags["txt"]) / f"{s}.txt").read_bytes() == b"" for s in IMAGES_HW)
    assert report.metrics["bbox_map"] == 0.0 and report.metrics["bbox_map_s"] == -1.0


def test_bad_heads_fail_their_image_only(tmp_path: Path) -> None:
    flags = _case(tmp_path, 3, -30.0, 0.0)
    data = dict(np.load(Path(flags["vamp_output_dir"]) / "output_000001.npz"))
    data["output_8"] = np.zeros((1, 1, 10, 10), F32)  # a 320 input's grid: the script's grids are for 640
    np.savez(Path(flags["vamp_output_dir"]) / "output_000001.npz", **data)
    with pytest.raises(PartialResult) as info:
        vampy.evaluate(preset="coco_det_yolox", **flags)
    report = info.value.report  # type: ignore[attr-defined]
    assert len(report.images) == 2 and "hard-coded for a 640 input" in report.failures[0].reason


def test_needs_its_flags(tmp_path: Path) -> None:
    flags = _case(tmp_path, 4, -30.0, 0.0)
    with pytest.raises(UsageError, match="needs --save_dir \\(its script"):
        vampy.evaluate(preset="coco_det_yolox", **{k: v for k, v in flags.items() if k != "txt"})
    with pytest.raises(UsageError, match="only bbox"):
        vampy.evaluate(preset="coco_det_yolox", format="segm", **flags)


def test_cli_takes_the_scripts_flags(tmp_path: Path) -> None:
    flags = _case(tmp_path, 6, -6.0, 2.5)
    argv = [sys.executable, "-m", "vampy", "eval", "--preset", "coco_det_yolox", "--input_image_dir", flags["input_image_dir"],
            "--vamp_datalist_path", flags["vamp_datalist_path"], "--vamp_output_dir", flags["vamp_output_dir"],
            "--model_size", "640", "640", "--save_dir", flags["txt"], "--format", "bbox", "--gt", flags["gt"],
            "--draw_image", "False", "--json", str(tmp_path / "report.json")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert sorted(report["metrics"]) == sorted(KEYS)
    assert "{'bbox_mAP': " in done.stdout
    texts, _ = _vendor_decode(flags, (640, 640))
    assert all((Path(flags["txt"]) / name).read_text() == text for name, text in texts.items())


def test_docs_list_the_deviations() -> None:
    text = (Path(__file__).parents[2] / "docs" / "eval.md").read_text()
    assert re.findall(r"^- `coco_det_yolox`: (.*)$", text, re.M) == list(FAMILY_PRESETS["coco_det_yolox"].deviations)
