"""TD-1 `icdar_db` / TD-2 `icdar_db_mmocr`: the zoo's DBNet vamp_eval.py and mmocr_vamp_eval.py (ZOO-EVAL.md 2.10).

Decode (PaddleOCR's DBPostProcess as the zoo copies it: thresh 0.3, box_thresh 0.6, 1000 candidates,
unclip 1.5, score "fast", no dilation): the probability map (mmocr: the sigmoid of the logits, in
float32) > 0.3, OpenCV contours, each contour's minimum-area box (short side >= 3), its mean
probability inside the box >= 0.6, the box grown by pyclipper (distance = area * 1.5 / perimeter),
its minimum-area box again (short side >= 5), scaled to the hard-coded 720x1280 image and rounded
to int16. Score (DetMetric / DetectionIoUEvaluator): per image, GT quads with transcription `###`
or `*` are don't-care, a detection covering a don't-care quad by more than half its own area is
don't-care, greedy one-to-one matching at IoU > 0.5 (shapely), then precision, recall and hmean of
the summed counts. shapely and pyclipper come from the [zoo-eval] extra.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from vampy.errors import InputError
from vampy.quality.zoo_io import need

THRESH = 0.3
BOX_THRESH = 0.6
MAX_CANDIDATES = 1000
UNCLIP_RATIO = 1.5
MIN_SIZE = 3
IMAGE_HW = (720, 1280)  # the scripts' shape_list: every image is taken to be 720x1280
IOU_CONSTRAINT = 0.5
AREA_PRECISION_CONSTRAINT = 0.5
DONT_CARE = ("*", "###")


@dataclass(frozen=True)
class ImageCounts:
    """evaluate_image's per-sample result: cared-for GT, cared-for detections, matches."""

    gt_care: int
    det_care: int
    matched: int


def probability_map(output_0: np.ndarray, logits: bool, where: str) -> np.ndarray:
    """The (H, W) map DBPostProcess thresholds: output_0[0][0] as float32 (mmocr: its sigmoid first)."""
    value = output_0.astype(np.float32)
    if value.ndim != 4 or value.shape[0] != 1 or value.shape[1] < 1:
        raise InputError(f"{where}: output_0 has shape {output_0.shape}; DBNet's is (1, 1, H, W)")
    heat = value.squeeze(0) if logits else value[0]
    if logits:
        heat = 1 / (1 + np.exp(-heat))  # mmocr_vamp_eval.py's sigmoid, in float32
    return heat[0]


def mini_box(contour: np.ndarray) -> tuple[list[np.ndarray], float]:
    """get_mini_boxes: the minimum-area rectangle's corners ordered as the script orders them, and its short side."""
    rect = cv2.minAreaRect(contour)
    points = sorted(list(cv2.boxPoints(rect)), key=lambda x: x[0])
    i1, i4 = (0, 1) if points[1][1] > points[0][1] else (1, 0)
    i2, i3 = (2, 3) if points[3][1] > points[2][1] else (3, 2)
    return [points[i1], points[i2], points[i3], points[i4]], min(rect[1])


def box_score_fast(prob: np.ndarray, corners: np.ndarray) -> float:
    """The mean probability inside the box (np.int of the script is int: removed in NumPy 1.24)."""
    h, w = prob.shape[:2]
    box = corners.copy()
    xmin = np.clip(np.floor(box[:, 0].min()).astype(int), 0, w - 1)
    xmax = np.clip(np.ceil(box[:, 0].max()).astype(int), 0, w - 1)
    ymin = np.clip(np.floor(box[:, 1].min()).astype(int), 0, h - 1)
    ymax = np.clip(np.ceil(box[:, 1].max()).astype(int), 0, h - 1)
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), dtype=np.uint8)
    box[:, 0] = box[:, 0] - xmin
    box[:, 1] = box[:, 1] - ymin
    cv2.fillPoly(mask, box.reshape(1, -1, 2).astype(np.int32), 1)
    return float(cv2.mean(prob[ymin:ymax + 1, xmin:xmax + 1], mask)[0])


def unclip(corners: np.ndarray, preset: str) -> np.ndarray:
    """The box grown by pyclipper's round offset of area * ratio / perimeter (shapely's area and length)."""
    geometry = need("shapely.geometry", preset)
    pyclipper = need("pyclipper", preset)
    poly = geometry.Polygon(corners)
    distance = poly.area * UNCLIP_RATIO / poly.length
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(corners, pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return np.array(offset.Execute(distance))


def db_boxes(prob: np.ndarray, preset: str) -> np.ndarray:
    """DBPostProcess.boxes_from_bitmap on one map: (K, 4, 2) int16 quads in 720x1280 pixels."""
    height, width = prob.shape
    dest_h, dest_w = IMAGE_HW
    bitmap = prob > THRESH
    contours, _ = cv2.findContours((bitmap * 255).astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    for contour in contours[:MAX_CANDIDATES]:
        points, sside = mini_box(contour)
        if sside < MIN_SIZE:
            continue
        corners = np.array(points)
        if BOX_THRESH > box_score_fast(prob, corners.reshape(-1, 2)):
            continue
        grown = unclip(corners, preset).reshape(-1, 1, 2)
        quad, sside = mini_box(grown)
        if sside < MIN_SIZE + 2:
            continue
        box = np.array(quad)
        box[:, 0] = np.clip(np.round(box[:, 0] / width * dest_w), 0, dest_w)
        box[:, 1] = np.clip(np.round(box[:, 1] / height * dest_h), 0, dest_h)
        boxes.append(box.astype(np.int16))
    return np.array(boxes, dtype=np.int16)


def gt_quads(label_json: str, where: str) -> tuple[np.ndarray, list[bool]] | None:
    """DetLabelEncode: the points (padded to the longest polygon) as float32 and the don't-care tags; None without boxes."""
    try:
        label = json.loads(label_json)
        boxes = [item["points"] for item in label]
        tags = [item["transcription"] in DONT_CARE for item in label]
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError(f"{where}: not PaddleOCR's [{{\"transcription\", \"points\"}}] json ({exc})") from None
    if not boxes:
        return None
    longest = max(len(box) for box in boxes)
    try:
        return np.array([box + [box[-1]] * (longest - len(box)) for box in boxes], dtype=np.float32), tags
    except (ValueError, TypeError, IndexError) as exc:
        raise InputError(f"{where}: polygon points are not lists of x, y pairs ({exc})") from None


def evaluate_image(gt: np.ndarray, dont_care: list[bool], det: np.ndarray, preset: str) -> ImageCounts:
    """DetectionIoUEvaluator.evaluate_image's counts (the invalid or non-simple polygons skipped, as it skips them)."""
    polygon = need("shapely.geometry", preset).Polygon
    gt_pols: list[Any] = []
    gt_dont: list[int] = []
    for points, ignore in zip(gt, dont_care):
        shape = polygon(points)
        if shape.is_valid and shape.is_simple:
            gt_pols.append(points)
            if ignore:
                gt_dont.append(len(gt_pols) - 1)
    det_pols: list[Any] = []
    det_dont: list[int] = []
    for points in det:
        shape = polygon(points)
        if not (shape.is_valid and shape.is_simple):
            continue
        det_pols.append(points)
        for k in gt_dont:
            area = shape.area
            covered = 0 if area == 0 else polygon(gt_pols[k]).intersection(shape).area / area
            if covered > AREA_PRECISION_CONSTRAINT:
                det_dont.append(len(det_pols) - 1)
                break
    matched = 0
    if gt_pols and det_pols:
        iou = np.empty((len(gt_pols), len(det_pols)))
        for g, pg in enumerate(gt_pols):
            for d, pd in enumerate(det_pols):
                inter = polygon(pd).intersection(polygon(pg)).area
                iou[g, d] = inter / polygon(pd).union(polygon(pg)).area
        gt_taken = np.zeros(len(gt_pols), np.int8)
        det_taken = np.zeros(len(det_pols), np.int8)
        for g in range(len(gt_pols)):
            for d in range(len(det_pols)):
                free = gt_taken[g] == 0 and det_taken[d] == 0 and g not in gt_dont and d not in det_dont
                if free and iou[g, d] > IOU_CONSTRAINT:
                    gt_taken[g] = det_taken[d] = 1
                    matched += 1
    return ImageCounts(len(gt_pols) - len(gt_dont), len(det_pols) - len(det_dont), matched)


def combine(counts: list[ImageCounts]) -> dict[str, float]:
    """combine_results: precision, recall and hmean of the summed counts (0 where a denominator is 0)."""
    gt_care = sum(c.gt_care for c in counts)
    det_care = sum(c.det_care for c in counts)
    matched = sum(c.matched for c in counts)
    recall = 0 if gt_care == 0 else float(matched) / gt_care
    precision = 0 if det_care == 0 else float(matched) / det_care
    hmean = 0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)
    return {"precision": float(precision), "recall": float(recall), "hmean": float(hmean)}


def vendor_line(metrics: dict[str, float]) -> str:
    """`metric:  {'precision': p, 'recall': r, 'hmean': h}` (the script prints an int 0 where it divided nothing)."""
    return f"metric:  { {k: metrics[k] for k in ('precision', 'recall', 'hmean')} }"


# --- TD-3 EAST (ppocr EASTPostProcess with its Python locality-aware NMS, as without lanms) ---

EAST_SCORE_THRESH = 0.8
EAST_COVER_THRESH = 0.1
EAST_NMS_THRESH = 0.2
EAST_RATIO_HW = (704 / 720, 1280 / 1280)  # the script's shape_list ratios: a 704x1280 input of a 720x1280 image


def _east_iou(g: np.ndarray, p: np.ndarray, polygon: Any) -> float:
    """locality_aware_nms.intersection: IoU of the buffer(0)-repaired quads (0 when invalid or empty)."""
    gp = polygon(g[:8].reshape((4, 2))).buffer(0)
    pp = polygon(p[:8].reshape((4, 2))).buffer(0)
    if not gp.is_valid or not pp.is_valid:
        return 0
    inter = polygon(gp).intersection(polygon(pp)).area
    union = gp.area + pp.area - inter
    return 0 if union == 0 else inter / union


def _standard_nms(s: np.ndarray, thres: float, polygon: Any) -> np.ndarray:
    order = np.argsort(s[:, 8])[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(i)
        ovr = np.array([_east_iou(s[i], s[t], polygon) for t in order[1:]])
        order = order[np.where(ovr <= thres)[0] + 1]
    return s[keep]


def nms_locality(polys: np.ndarray, thres: float, polygon: Any) -> np.ndarray:
    """EAST's locality-aware NMS: consecutive overlapping quads merged by score weight (in place, as the script), then NMS."""
    merged = []
    p = None
    for g in polys:
        if p is not None and _east_iou(g, p, polygon) > thres:
            g[:8] = (g[8] * g[:8] + p[8] * p[:8]) / (g[8] + p[8])
            g[8] = g[8] + p[8]
            p = g
        else:
            if p is not None:
                merged.append(p)
            p = g
    if p is not None:
        merged.append(p)
    if not merged:
        return np.array([])
    return _standard_nms(np.array(merged), thres, polygon)


def east_boxes(score_map: np.ndarray, geo: np.ndarray, preset: str) -> np.ndarray:
    """EASTPostProcess on one image: score (H, W), geo (8, H, W) -> (K, 4, 2) int32 quads in 720x1280 pixels."""
    polygon = need("shapely.geometry", preset).Polygon
    geo_map = np.swapaxes(np.swapaxes(geo, 1, 0), 1, 2)
    xy_text = np.argwhere(score_map > EAST_SCORE_THRESH)
    if len(xy_text) == 0:
        return np.array([])
    xy_text = xy_text[np.argsort(xy_text[:, 0])]
    origin = xy_text[:, ::-1] * 4
    quads = (np.concatenate((origin, origin, origin, origin), axis=1) - geo_map[xy_text[:, 0], xy_text[:, 1], :]).reshape((-1, 4, 2))
    boxes = np.zeros((quads.shape[0], 9), dtype=np.float32)
    boxes[:, :8] = quads.reshape((-1, 8))
    boxes[:, 8] = score_map[xy_text[:, 0], xy_text[:, 1]]
    kept = nms_locality(boxes.astype(np.float64), EAST_NMS_THRESH, polygon)
    if kept.shape[0] == 0:
        return np.array([])
    for i, box in enumerate(kept):
        mask = np.zeros_like(score_map, dtype=np.uint8)
        cv2.fillPoly(mask, box[:8].reshape((-1, 4, 2)).astype(np.int32) // 4, 1)
        kept[i, 8] = cv2.mean(score_map, mask)[0]
    kept = kept[kept[:, 8] > EAST_COVER_THRESH]
    if len(kept) == 0:
        return np.array([])
    corners = kept[:, :8].reshape((-1, 4, 2))
    corners[:, :, 0] /= EAST_RATIO_HW[1]
    corners[:, :, 1] /= EAST_RATIO_HW[0]
    out = []
    for box in corners:
        quad = _sort_poly(box.astype(np.int32))
        if np.linalg.norm(quad[0] - quad[1]) < 5 or np.linalg.norm(quad[3] - quad[0]) < 5:
            continue
        out.append(quad)
    return np.array(out)


def _sort_poly(p: np.ndarray) -> np.ndarray:
    start = np.argmin(np.sum(p, axis=1))
    p = p[[start, (start + 1) % 4, (start + 2) % 4, (start + 3) % 4]]
    return p if abs(p[0, 0] - p[1, 0]) > abs(p[0, 1] - p[1, 1]) else p[[0, 3, 2, 1]]
