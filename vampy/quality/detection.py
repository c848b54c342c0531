"""DET-1/DET-2 + DET-0: the zoo's in-graph-NMS detection readers and eval_map.py (ZOO-EVAL.md 2.2, section 5 items 3-8).

Stage 1 (common/utils/npz_decode.py; yolov4 darknet_npz_decode.py for `stretch`): output_0 class ids
(1,N,1), output_1 scores (1,N,1), output_2 boxes (1,N,4) x1,y1,x2,y2 in model-input pixels; rows that
are all -1 dropped separately in each array; boxes mapped back to the original image (letterbox:
gain and centred pad, then clipped; stretch: x*w0/w_in, y*h0/h_in, no clip), `.round()`ed, in the
arrays' own dtype as the scripts compute; one `<stem>.txt` per image with lines
`{label} {score} {int(x1)} {int(y1)} {int(x2)} {int(y2)}` (the score formatted from its numpy scalar).
Stage 2 (common/eval/eval_map.py): those lines read back, 80 COCO names mapped to COCO's 91 ids,
xyxy -> xywh, pycocotools' COCOeval on every image of the ground truth json (the [zoo-eval] extra).
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vampy.errors import InputError
from vampy.formats.npz import load_input_npz, read_npz_headers
from vampy.quality.zoo_io import need

COCO_NAMES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light", "fire hydrant",
    "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe",
    "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat",
    "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl",
    "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave",
    "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)
COCO80_TO_91 = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39,
    40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77,
    78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90,
)
# eval_map.py's printed keys (format_ + these), COCOeval.stats' first six; lower-cased for `metrics`.
MAP_ITEMS = ("mAP", "mAP_50", "mAP_75", "mAP_s", "mAP_m", "mAP_l")
MAX_BOXES = 1_000_000  # outputs declaring more rows than this are not an NMS output (bounds the load)
_KEYS = ("output_0", "output_1", "output_2")


@dataclass(frozen=True)
class Detections:
    """One image's stage-1 product: its txt file's name and lines."""

    txt_name: str
    lines: tuple[str, ...]


def image_name(datalist_line: str) -> str:
    """The scripts' image name: every 'npz' in the line replaced by 'jpg', then the basename."""
    return os.path.basename(datalist_line.strip().replace("npz", "jpg"))


def txt_name(image: str) -> str:
    return f"{os.path.splitext(image)[0]}.txt"


def nms_arrays(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, scores, boxes) of one output, each squeezed and with its all -1 rows dropped on its own, as the scripts do."""

    def check(member: str, header: object) -> str | None:
        values = getattr(header, "values", 0)
        return f"{member} declares {values} values; not an NMS output" if member in _KEYS and values > 4 * MAX_BOXES else None

    arrays = load_input_npz(path, keys=_KEYS, check=check)
    missing = [key for key in _KEYS if key not in arrays]
    if missing:
        raise InputError(f"{path}: no key {', '.join(missing)} (keys: {', '.join(sorted(read_npz_headers(path)))}); the detection "
                         "readers take output_0 ids (1,N,1), output_1 scores (1,N,1), output_2 boxes (1,N,4)")
    kept = []
    for key in _KEYS:
        value = arrays[key]
        real = np.issubdtype(value.dtype, np.floating if key == "output_2" else np.number) and value.dtype.kind != "c"
        if value.ndim != 3 or value.shape[0] != 1 or not real:  # boxes float: the scripts shift and scale them in place
            raise InputError(f"{path}: {key} has shape {value.shape} and dtype {value.dtype}; expected real (1, N, k), boxes float")
        rows = np.squeeze(value, axis=0)
        kept.append(rows[[not np.all(rows[i] == -1) for i in range(rows.shape[0])], :])
    if kept[2].shape[1] != 4:
        raise InputError(f"{path}: output_2 has {kept[2].shape[1]} columns; boxes are x1, y1, x2, y2")
    return kept[0], kept[1], kept[2]


def letterbox_inverse(model_hw: tuple[int, int], coords: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """npz_decode.py's scale_coords + clip_coords, in place and in the boxes' dtype (Python scalars are weak in numpy 2)."""
    gain = min(model_hw[0] / image_hw[0], model_hw[1] / image_hw[1])
    pad = (model_hw[1] - image_hw[1] * gain) / 2, (model_hw[0] - image_hw[0] * gain) / 2
    coords[:, [0, 2]] -= pad[0]
    coords[:, [1, 3]] -= pad[1]
    coords[:, :4] /= gain
    coords[:, [0, 2]] = coords[:, [0, 2]].clip(0, image_hw[1])
    coords[:, [1, 3]] = coords[:, [1, 3]].clip(0, image_hw[0])
    return coords


def stretch_inverse(model_hw: tuple[int, int], coords: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """darknet_npz_decode.py's scale_coords: a plain stretch, no clip."""
    coords[:, [0, 2]] = coords[:, [0, 2]] / model_hw[1] * image_hw[1]
    coords[:, [1, 3]] = coords[:, [1, 3]] / model_hw[0] * image_hw[0]
    return coords


def decode(path: Path, image: str, image_hw: tuple[int, int], model_hw: tuple[int, int], classes: list[str],
           inverse: str) -> Detections:
    """Stage 1 for one output: its `<stem>.txt` lines, formatted as the scripts write them."""
    ids, scores, boxes = nms_arrays(path)
    undo = letterbox_inverse if inverse == "letterbox" else stretch_inverse
    boxes = undo(model_hw, boxes.copy(), image_hw).round()
    lines = []
    try:
        for index in range(len(boxes)):
            label = classes[ids[index, :][0].astype(np.int8)]  # the scripts' int8 cast, wrap-around included
            score = scores[index, :][0]
            bbox = boxes[index, :].tolist()
            lines.append(f"{label} {score} {int(bbox[0])} {int(bbox[1])} {int(bbox[2])} {int(bbox[3])}\n")
    except (IndexError, ValueError, OverflowError) as exc:
        raise InputError(f"{path}: detection {len(lines)} cannot be written as the script writes it ({exc}); "
                         f"{len(ids)} ids, {len(scores)} scores, {len(boxes)} boxes after the -1 rows are dropped") from None
    return Detections(txt_name(image), tuple(lines))


def coco_results(d: Detections, where: str) -> list[dict[str, Any]]:
    """eval_map.py's get_jdict_from_txt for one txt file: COCO result dicts (category 91-id, bbox x, y, w, h)."""
    stem = os.path.splitext(d.txt_name)[0]
    image_id: int | str = int(stem) if stem.isdecimal() else stem
    label, box, score = [], [], []
    for text in d.lines:
        line = text.strip().split()
        name = " ".join(line[:-5])
        if name not in COCO_NAMES:
            raise InputError(f"{where}: label {name!r} is not one of eval_map.py's 80 COCO names (check --label_txt)")
        label.append(COCO80_TO_91[COCO_NAMES.index(name)])
        box.append([float(v) for v in line[-4:]])
        score.append(float(line[-5]))
    if not box:
        return []
    xyxy = np.array(box)
    xywh = np.copy(xyxy)  # xyxy2xywh, then the centre moved to the top-left corner, as the script does it
    xywh[:, 0] = (xyxy[:, 0] + xyxy[:, 2]) / 2
    xywh[:, 1] = (xyxy[:, 1] + xyxy[:, 3]) / 2
    xywh[:, 2] = xyxy[:, 2] - xyxy[:, 0]
    xywh[:, 3] = xyxy[:, 3] - xyxy[:, 1]
    xywh[:, :2] -= xywh[:, 2:] / 2
    return [{"image_id": image_id, "category_id": label[i], "bbox": list(xywh[i].tolist()), "score": score[i]}
            for i in range(len(xywh))]


def load_gt(gt_json: Path, preset: str) -> Any:
    """pycocotools' COCO of the ground-truth json (its progress prints kept off the terminal)."""
    coco = need("pycocotools.coco", preset)
    if not Path(gt_json).is_file():
        raise InputError(f"--gt {gt_json}: no such COCO annotation json")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return coco.COCO(str(gt_json))
    except (ValueError, KeyError, TypeError, AssertionError) as exc:
        raise InputError(f"--gt {gt_json}: not a COCO instances json ({exc})") from None


def coco_map(gt: Any, results: list[dict[str, Any]], iou_type: str, preset: str) -> dict[str, float]:
    """COCOeval over every ground-truth image, as eval_map.py runs it; zero detections give 0 (or -1), not a crash."""
    coco = need("pycocotools.coco", preset)
    cocoeval = need("pycocotools.cocoeval", preset)
    with contextlib.redirect_stdout(io.StringIO()):
        if results:
            dt = gt.loadRes(copy.deepcopy(results))
        else:  # loadRes([]) raises IndexError (eval_map.py's crash): an empty result set scores as no detections
            dt = coco.COCO()
            dt.dataset = {"images": list(gt.dataset.get("images", [])), "categories": copy.deepcopy(gt.dataset.get("categories", [])),
                          "annotations": []}
            dt.createIndex()
        evaluator = cocoeval.COCOeval(gt, dt, iou_type)
        evaluator.params.imgIds = sorted(gt.getImgIds())
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {f"{iou_type}_{item}".lower(): float(evaluator.stats[i]) for i, item in enumerate(MAP_ITEMS)}


def pred_json(results: list[dict[str, Any]]) -> bytes:
    """eval_map.py's pred.json: json.dump of the result list."""
    return json.dumps(results).encode("utf-8")


def vendor_line(metrics: dict[str, float], iou_type: str = "bbox") -> str:
    """eval_map.py's last print: the dict of 3-decimal metrics and the copy-paste string."""
    values = [metrics[f"{iou_type}_{item}".lower()] for item in MAP_ITEMS]
    shown: dict[str, Any] = {f"{iou_type}_{item}": float(f"{v:.3f}") for item, v in zip(MAP_ITEMS, values)}
    shown[f"{iou_type}_mAP_copypaste"] = " ".join(f"{v:.3f}" for v in values)
    return str(shown)
