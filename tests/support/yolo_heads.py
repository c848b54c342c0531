"""A tiny YOLO-head-shaped ONNX model with planted boxes, and an independent numpy decode + NMS.

The model's heads are constant logits (seeded, labelled as such) plus 0 * mean(image), so they depend
on the input in form only: whatever image is fed, the planted boxes come out. Boxes are planted by
inverting yolov5's decode (vampy.models.zoo_yolo.planted_v5_heads, which `vampy zoo yolov5-head` uses
too): xy = (2 s - 0.5 + grid) * stride, wh = (2 s)^2 * anchor. The decode and NMS below are this file's
own numpy, independent of vampy's.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from vampy.models.zoo_yolo import BACKGROUND_LOGIT, YOLOV5_ANCHORS_PX, YOLOV5_STRIDES, PlantedCell, logit, planted_v5_heads

ANCHORS = YOLOV5_ANCHORS_PX  # the zoo's yolov5 YAML
STRIDES = YOLOV5_STRIDES
INPUT_HW = 64
N_CLASSES = 3
N_ANCHORS = 3

# (stride index, anchor, gy, gx, class, x1, y1, x2, y2 in input pixels, score): two overlap (IoU > 0.65,
# same class: one suppressed), one overlaps a box of another class (kept: NMS is per class).
PLANTED = (
    (0, 0, 2, 3, 1, 20.0, 14.0, 30.0, 26.0, 0.9),
    (0, 1, 2, 3, 1, 20.5, 14.5, 30.5, 26.0, 0.6),  # suppressed by the first
    (1, 0, 1, 1, 2, 18.0, 16.0, 32.0, 28.0, 0.8),  # same place, other class: kept
    (2, 2, 1, 0, 0, 5.0, 30.0, 60.0, 62.0, 0.7),
)


def planted_heads(planted: tuple[tuple[float, ...], ...] = PLANTED) -> list[np.ndarray]:
    """The raw head logits [1, A*(5+C), H, W] per stride that decode to `planted` (vampy's planting, the zoo's yolov5-head's)."""
    cells = [PlantedCell(int(k), int(a), int(gy), int(gx), int(cls), (x1, y1, x2, y2), score)
             for k, a, gy, gx, cls, x1, y1, x2, y2, score in planted]
    return planted_v5_heads(cells, INPUT_HW, N_CLASSES, ANCHORS, STRIDES)


def yolo_model(path: Path, decoded_too: bool = False, opset: int = 17) -> Path:
    """images [1, 3, 64, 64] -> three raw heads (and, with decoded_too, a first output [1, boxes, 5+C] as
    yolov5's export writes it, computed here in numpy from the same heads)."""
    heads = planted_heads()
    nodes = [helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0, name="mean"),
             helper.make_node("Mul", ["mean", "zero"], ["nothing"], name="times_zero")]
    inits = [numpy_helper.from_array(np.float32(0.0), "zero")]
    outputs = []
    for k, head in enumerate(heads):
        inits.append(numpy_helper.from_array(head, f"logits{k}"))
        nodes.append(helper.make_node("Add", [f"logits{k}", "nothing"], [f"head{k}"], name=f"head{k}"))
        outputs.append(helper.make_tensor_value_info(f"head{k}", TensorProto.FLOAT, list(head.shape)))
    if decoded_too:
        decoded = decode_heads(heads)[None]
        inits.append(numpy_helper.from_array(decoded, "decoded_const"))
        nodes.append(helper.make_node("Add", ["decoded_const", "nothing"], ["decoded"], name="decoded"))
        outputs.insert(0, helper.make_tensor_value_info("decoded", TensorProto.FLOAT, list(decoded.shape)))
    image = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, INPUT_HW, INPUT_HW])
    graph = helper.make_graph(nodes, "tiny_yolo_seeded", [image], outputs, inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), str(path))
    return path


def decode_heads(heads: list[np.ndarray]) -> np.ndarray:
    """numpy yolov5 Detect: [boxes, 5+C] rows of cx, cy, w, h (pixels), obj, classes, heads in stride order."""
    rows = []
    anchors = np.asarray(ANCHORS, np.float64).reshape(len(STRIDES), N_ANCHORS, 2)
    for k, head in enumerate(heads):
        _, channels, h, w = head.shape
        s = 1.0 / (1.0 + np.exp(-head.reshape(N_ANCHORS, channels // N_ANCHORS, h, w).astype(np.float64)))
        s = s.transpose(0, 2, 3, 1)  # anchor, y, x, field
        gy, gx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        s[..., 0] = (s[..., 0] * 2 - 0.5 + gx) * STRIDES[k]
        s[..., 1] = (s[..., 1] * 2 - 0.5 + gy) * STRIDES[k]
        s[..., 2:4] = (s[..., 2:4] * 2) ** 2 * anchors[k][:, None, None, :]
        rows.append(s.reshape(-1, s.shape[-1]))
    return np.concatenate(rows).astype(np.float32)


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    x1, y1 = np.maximum(box[0], others[:, 0]), np.maximum(box[1], others[:, 1])
    x2, y2 = np.minimum(box[2], others[:, 2]), np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    return inter / (area + (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1]) - inter)


def reference_nms(decoded: np.ndarray, iou_max: float, score_min: float, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy per-class NMS on [boxes, 5+C], the n best overall; (ids [n,1], scores [n,1], boxes [n,4]) padded with -1."""
    boxes = np.concatenate([decoded[:, :2] - decoded[:, 2:4] / 2, decoded[:, :2] + decoded[:, 2:4] / 2], axis=1)
    kept: list[tuple[float, int, int]] = []
    for cls in range(decoded.shape[1] - 5):
        scores = decoded[:, 4] * decoded[:, 5 + cls]
        order = [i for i in np.argsort(-scores, kind="stable") if scores[i] > score_min]
        while order:
            best, order = order[0], order[1:]
            kept.append((float(scores[best]), cls, best))
            order = [i for i in order if _iou(boxes[best], boxes[[i]])[0] <= iou_max]
    kept.sort(key=lambda item: -item[0])
    ids, scores_out, boxes_out = np.full((n, 1), -1.0), np.full((n, 1), -1.0), np.full((n, 4), -1.0)
    for row, (score, cls, index) in enumerate(kept[:n]):
        ids[row, 0], scores_out[row, 0], boxes_out[row] = cls, score, boxes[index]
    return ids, scores_out, boxes_out


def expected_planted(iou_max: float = 0.65) -> list[tuple[int, float, list[float]]]:
    """The planted boxes that survive NMS, best first: (class, score, [x1, y1, x2, y2])."""
    kept = [p for p in PLANTED if p[9] != 0.6 or iou_max >= 0.9]
    return [(int(p[4]), p[9], list(p[5:9])) for p in sorted(kept, key=lambda p: -p[9])]




# --- anchor-free families (yolov8 / yolov11 and yolox), same input and strides ---

# (stride index, gy, gx, class, x1, y1, x2, y2, score): as PLANTED, one box per grid cell.
PLANTED_FREE = (
    (0, 2, 3, 1, 20.0, 14.0, 30.0, 26.0, 0.9),
    (1, 1, 1, 1, 20.5, 14.5, 30.5, 26.0, 0.6),  # suppressed by the first
    (0, 2, 2, 2, 18.0, 16.0, 32.0, 28.0, 0.8),  # overlaps the first, other class: kept
    (2, 1, 0, 0, 5.0, 30.0, 60.0, 62.0, 0.7),
)
DFL_BINS = 16


def _grids() -> list[tuple[int, int]]:
    return [(INPUT_HW // s, INPUT_HW // s) for s in STRIDES]


def v8_heads(bins: int = DFL_BINS) -> list[np.ndarray]:
    """ultralytics raw heads [1, 4*bins + C, H, W]: DFL logits whose softmax expectation is each planted distance."""
    heads = [np.full((4 * bins + N_CLASSES, h, w), BACKGROUND_LOGIT, np.float32) for h, w in _grids()]
    for k, gy, gx, cls, x1, y1, x2, y2, score in PLANTED_FREE:
        k, gy, gx, stride = int(k), int(gy), int(gx), STRIDES[int(k)]
        centre = gx + 0.5, gy + 0.5
        sides = (centre[0] - x1 / stride, centre[1] - y1 / stride, x2 / stride - centre[0], y2 / stride - centre[1])
        for side, distance in enumerate(sides):
            assert 0 <= distance < bins - 1 or bins == 1, distance
            if bins == 1:
                heads[k][side, gy, gx] = distance
                continue
            low, frac = int(np.floor(distance)), distance - np.floor(distance)
            heads[k][side * bins : (side + 1) * bins, gy, gx] = -30.0
            heads[k][side * bins + low, gy, gx] = np.log(1 - frac) if frac < 1 else -30.0
            heads[k][side * bins + low + 1, gy, gx] = np.log(frac) if frac > 0 else -30.0
        heads[k][4 * bins + int(cls), gy, gx] = logit(score)
    return [h[None] for h in heads]


def decode_v8(heads: list[np.ndarray], bins: int = DFL_BINS) -> tuple[np.ndarray, np.ndarray]:
    """numpy ultralytics decode: (boxes xyxy [B, 4], class scores [B, C]), heads in stride order."""
    boxes, scores = [], []
    for head, stride in zip(heads, STRIDES):
        _, channels, h, w = head.shape
        rows = head[0].reshape(channels, h * w).T.astype(np.float64)
        dist = rows[:, : 4 * bins].reshape(-1, 4, bins)
        if bins > 1:
            weights = np.exp(dist - dist.max(axis=-1, keepdims=True))
            dist = (weights / weights.sum(axis=-1, keepdims=True) * np.arange(bins)).sum(axis=-1, keepdims=True)
        dist = dist.reshape(-1, 4)
        gy, gx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        points = np.stack([gx.ravel(), gy.ravel()], axis=1) + 0.5
        boxes.append(np.concatenate([points - dist[:, :2], points + dist[:, 2:]], axis=1) * stride)
        scores.append(1 / (1 + np.exp(-rows[:, 4 * bins :])))
    return np.concatenate(boxes).astype(np.float32), np.concatenate(scores).astype(np.float32)


def yolox_heads() -> list[np.ndarray]:
    """YOLOX raw heads in the zoo reader's order: class logits per stride, then box, then objectness."""
    cls = [np.full((N_CLASSES, h, w), BACKGROUND_LOGIT, np.float32) for h, w in _grids()]
    reg = [np.zeros((4, h, w), np.float32) for h, w in _grids()]
    obj = [np.full((1, h, w), BACKGROUND_LOGIT, np.float32) for h, w in _grids()]
    for k, gy, gx, c, x1, y1, x2, y2, score in PLANTED_FREE:
        k, gy, gx, stride = int(k), int(gy), int(gx), STRIDES[int(k)]
        centre = [(x1 + x2) / 2 / stride - gx, (y1 + y2) / 2 / stride - gy]
        reg[k][:, gy, gx] = [*centre, np.log((x2 - x1) / stride), np.log((y2 - y1) / stride)]
        obj[k][0, gy, gx] = cls[k][int(c), gy, gx] = logit(np.sqrt(score))
    return [h[None] for h in (*cls, *reg, *obj)]


def yolox_rows(heads: list[np.ndarray]) -> np.ndarray:
    """[B, 5+C] as YOLOX's export writes it: box not decoded, objectness and classes after sigmoid."""
    n = len(STRIDES)
    rows = []
    for k in range(n):
        cls, reg, obj = (heads[k + j * n][0] for j in range(3))
        joined = np.concatenate([reg, 1 / (1 + np.exp(-obj)), 1 / (1 + np.exp(-cls))])
        rows.append(joined.reshape(joined.shape[0], -1).T)
    return np.concatenate(rows).astype(np.float32)


def decode_yolox(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy YOLOX decode: (boxes xyxy, scores [B, C] with the best class's obj * cls, others 0)."""
    grids, strides = [], []
    for (h, w), stride in zip(_grids(), STRIDES):
        gy, gx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        grids.append(np.stack([gx.ravel(), gy.ravel()], axis=1))
        strides.append(np.full((h * w, 1), stride))
    grid, stride_col = np.concatenate(grids), np.concatenate(strides)
    centre, size = (rows[:, :2] + grid) * stride_col, np.exp(rows[:, 2:4].astype(np.float64)) * stride_col
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    cls = rows[:, 5:]
    best = cls == cls.max(axis=1, keepdims=True)
    return boxes.astype(np.float32), (cls * best * rows[:, 4:5]).astype(np.float32)


def heads_model(path: Path, outputs: list[tuple[str, np.ndarray]], opset: int = 17) -> Path:
    """images [1, 3, 64, 64] -> each named constant (+ 0 * mean(image)) as a graph output."""
    nodes = [helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0, name="mean"),
             helper.make_node("Mul", ["mean", "zero"], ["nothing"], name="times_zero")]
    inits = [numpy_helper.from_array(np.float32(0.0), "zero")]
    infos = []
    for name, value in outputs:
        inits.append(numpy_helper.from_array(value, f"{name}_const"))
        nodes.append(helper.make_node("Add", [f"{name}_const", "nothing"], [name], name=name))
        infos.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    image = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, INPUT_HW, INPUT_HW])
    onnx.save(helper.make_model(helper.make_graph(nodes, "tiny_heads_seeded", [image], infos, inits),
                                opset_imports=[helper.make_opsetid("", opset)]), str(path))
    return path


def corners_scores_v5(decoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[B, 5+C] cx, cy, w, h, obj, classes -> (boxes xyxy, obj * class scores)."""
    boxes = np.concatenate([decoded[:, :2] - decoded[:, 2:4] / 2, decoded[:, :2] + decoded[:, 2:4] / 2], axis=1)
    return boxes, decoded[:, 4:5] * decoded[:, 5:]


def reference_nms_scores(
    boxes: np.ndarray, scores: np.ndarray, iou_max: float, score_min: float, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy per-class NMS on boxes [B, 4] and scores [B, C], the n best overall, padded with -1."""
    kept: list[tuple[float, int, int]] = []
    for cls in range(scores.shape[1]):
        order = [i for i in np.argsort(-scores[:, cls], kind="stable") if scores[i, cls] > score_min]
        while order:
            best, order = order[0], order[1:]
            kept.append((float(scores[best, cls]), cls, best))
            order = [i for i in order if _iou(boxes[best], boxes[[i]])[0] <= iou_max]
    kept.sort(key=lambda item: -item[0])
    ids, scores_out, boxes_out = np.full((n, 1), -1.0), np.full((n, 1), -1.0), np.full((n, 4), -1.0)
    for row, (score, cls, index) in enumerate(kept[:n]):
        ids[row, 0], scores_out[row, 0], boxes_out[row] = cls, score, boxes[index]
    return ids, scores_out, boxes_out


def expected_free() -> list[tuple[int, float, list[float]]]:
    kept = [p for p in PLANTED_FREE if p[8] != 0.6]
    return [(int(p[3]), p[8], list(p[4:8])) for p in sorted(kept, key=lambda p: -p[8])]


__all__ = ["ANCHORS", "DFL_BINS", "INPUT_HW", "N_CLASSES", "PLANTED", "PLANTED_FREE", "STRIDES", "corners_scores_v5", "decode_heads",
           "decode_v8", "decode_yolox", "expected_free", "expected_planted", "heads_model", "planted_heads", "reference_nms",
           "reference_nms_scores", "v8_heads", "yolo_model", "yolox_heads", "yolox_rows"]
