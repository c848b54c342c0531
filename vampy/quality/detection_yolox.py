"""DET-10: the zoo's YOLOX raw-head reader, cv/detection/yolox/build_in/vsx/python/npz_decode.py (ZOO-EVAL.md 2.2, 5.9).

The script decodes the nine raw heads with torch and torchvision; this is the same arithmetic in numpy
float32, step for step, so that its text files come out byte for byte:
- output_i class logits (1,80,h,w), output_{i+3} box (1,4,h,w), output_{i+6} objectness (1,1,h,w) for
  the grids 80/40/20 (strides 8/16/32, hard-coded for a 640 input), cast to float32 (`torch.Tensor`);
- sigmoid of objectness and classes as torch's CPU kernel computes it (torch_math.sigmoid_f32);
- centre (t + grid) * stride, size exp(t) * stride, corners centre -/+ size/2;
- per anchor the best class (first of equal maxima), kept where obj * cls >= 0.25;
- torchvision's batched_nms at IoU 0.45: more than 1000 candidates -> NMS per class, then sorted by
  score (torch's unstable sort: equal scores in std::sort's order); otherwise the boxes shifted by
  class * (max coordinate + 1) and one NMS (its C++ CPU kernel: stable descending sort, suppressed
  where IoU > 0.45);
- the letterbox undone (detection.letterbox_inverse, clipped), `.round()`, `int()`.
The written score is the objectness alone (box[4]), not obj * cls, as the script writes it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vampy.errors import InputError
from vampy.formats.npz import load_input_npz, read_npz_headers
from vampy.quality.detection import COCO_NAMES, Detections, letterbox_inverse, txt_name
from vampy.quality.torch_math import sigmoid_f32, sort_desc_order

GRIDS_HW = ((80, 80), (40, 40), (20, 20))  # the script's hw list: a 640 input's strides 8/16/32
STRIDES_PX = (8, 16, 32)
N_CLASSES = 80
CONF_MIN = 0.25  # postprocess's conf_thre: obj * best class >= this
IOU_MAX = 0.45  # postprocess's nms_thre: suppressed where IoU > this
VANILLA_OVER_VALUES = 4000  # torchvision's batched_nms on the CPU: boxes.numel() above this -> per-class NMS
_KEYS = tuple(f"output_{k}" for k in range(9))
_F32 = np.float32


def image_name(datalist_line: str) -> str:
    """The script's image name: '.npz' (with its dot, unlike the common reader's 'npz') replaced by '.jpg', then the basename."""
    return os.path.basename(datalist_line.strip().replace(".npz", ".jpg"))


def head_arrays(path: Path) -> list[np.ndarray]:
    """The nine heads of one output as float32, each (channels, h, w) of its grid; anything else is refused."""
    def check(member: str, header: object) -> str | None:
        values = getattr(header, "values", 0)
        return f"{member} declares {values} values; not a YOLOX head" if member in _KEYS and values > N_CLASSES * 80 * 80 else None

    arrays = load_input_npz(path, keys=_KEYS, check=check)
    missing = [key for key in _KEYS if key not in arrays]
    if missing:
        raise InputError(f"{path}: no key {', '.join(missing)} (keys: {', '.join(sorted(read_npz_headers(path)))}); the yolox "
                         "reader takes output_0..2 class logits (1,80,h,w), output_3..5 boxes (1,4,h,w), output_6..8 objectness "
                         "(1,1,h,w) for the grids 80, 40, 20")
    heads = []
    for k, key in enumerate(_KEYS):
        channels = (N_CLASSES, 4, 1)[k // 3]
        want = (1, channels, *GRIDS_HW[k % 3])
        value = arrays[key]
        if value.shape != want or not (np.issubdtype(value.dtype, np.number) and value.dtype.kind != "c"):
            raise InputError(f"{path}: {key} has shape {value.shape} and dtype {value.dtype}; the yolox reader's grids are "
                             f"hard-coded for a 640 input, so it must be real {want}")
        heads.append(value[0].astype(_F32))
    return heads


def decoded_rows(heads: list[np.ndarray]) -> np.ndarray:
    """(8400, 85) float32 rows in the script's anchor order: cx, cy, w, h in model pixels, objectness, 80 class scores."""
    rows = []
    for k, ((h, w), stride) in enumerate(zip(GRIDS_HW, STRIDES_PX)):
        joined = np.concatenate([heads[k + 3], sigmoid_f32(heads[k + 6]), sigmoid_f32(heads[k])])
        flat = joined.reshape(joined.shape[0], h * w).T
        gy, gx = np.meshgrid(np.arange(h, dtype=_F32), np.arange(w, dtype=_F32), indexing="ij")
        grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
        with np.errstate(over="ignore"):  # torch's exp (MKL or SLEEF): correctly rounded here; see the preset's deviations
            size = np.exp(flat[:, 2:4].astype(np.float64)).astype(_F32) * _F32(stride)
        rows.append(np.concatenate([(flat[:, 0:2] + grid) * _F32(stride), size, flat[:, 4:]], axis=1))
    return np.concatenate(rows).astype(_F32)


def nms(boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """torchvision's CPU nms kernel: indices kept, best first (stable descending sort; IoU in float32, > IOU_MAX suppresses)."""
    x1, y1, x2, y2 = (boxes[:, c] for c in range(4))
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    suppressed = np.zeros(len(order), dtype=bool)
    keep = []
    for pos, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = order[pos + 1:]
        rest = rest[~suppressed[rest]]
        w = np.maximum(_F32(0), np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(_F32(0), np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = inter / ((areas[i] + areas[rest]) - inter)
        suppressed[rest[iou.astype(np.float64) > IOU_MAX]] = True  # the kernel compares the float IoU with the double threshold
    return np.array(keep, dtype=np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """torchvision.ops.batched_nms on the CPU, both of its paths, with their float32 arithmetic (classes as float32)."""
    if boxes.size > VANILLA_OVER_VALUES:
        kept = np.zeros(len(scores), dtype=bool)
        for class_id in np.unique(classes):
            members = np.nonzero(classes == class_id)[0]
            kept[members[nms(boxes[members], scores[members])]] = True
        indices = np.nonzero(kept)[0]
        return indices[sort_desc_order(scores[indices])]  # torch's unstable sort: ties as std::sort leaves them
    # The coordinate trick: classes apart by max + 1, so boxes reaching below -1 can still meet another class's.
    offsets = classes * (boxes.max() + _F32(1))
    return nms(boxes + offsets[:, None], scores)


def detect(heads: list[np.ndarray]) -> np.ndarray:
    """postprocess(outputs, 80)[0]: the kept rows x1, y1, x2, y2, obj, class score, class id (float32), best first."""
    rows = decoded_rows(heads)
    half = rows[:, 2:4] / _F32(2)
    corners = np.concatenate([rows[:, 0:2] - half, rows[:, 0:2] + half], axis=1)
    cls = rows[:, 5:]
    best = np.argmax(cls, axis=1)
    best_score = cls[np.arange(len(cls)), best]
    found = np.concatenate([corners, rows[:, 4:5], best_score[:, None], best.astype(_F32)[:, None]], axis=1)
    found = found[found[:, 4] * found[:, 5] >= _F32(CONF_MIN)]
    if not len(found):
        return found
    return found[batched_nms(found[:, :4], found[:, 4] * found[:, 5], found[:, 6])]


def decode(path: Path, image: str, image_hw: tuple[int, int], model_hw: tuple[int, int]) -> Detections:
    """Stage 1 for one output: its `<stem>.txt` lines as the script writes them (score = objectness alone)."""
    found = detect(head_arrays(path))
    boxes = letterbox_inverse(model_hw, found[:, :4].copy(), image_hw).round()
    if np.isnan(boxes).any():  # a NaN box head: the script's int(nan) raised ValueError there
        raise InputError(f"{path}: a kept detection has a NaN coordinate, which the script cannot write (int(nan))")
    lines = []
    for box, row in zip(boxes.tolist(), found):
        lines.append(f"{COCO_NAMES[int(row[6])]} {float(row[4])} {int(box[0])} {int(box[1])} {int(box[2])} {int(box[3])}\n")
    return Detections(txt_name(image), tuple(lines))
