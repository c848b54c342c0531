"""Detection drift: two runs' boxes after NMS compared as detections, not as rows.

A detector built with the zoo's NMS extra ops (vampy/compiler/nms_build.py) writes output_0 class ids
[1, N, 1], output_1 scores [1, N, 1] and output_2 boxes [1, N, 4] (x1, y1, x2, y2 in model-input
pixels), rows sorted by score and padded with -1. Element-wise figures of these mislead: a near-tie
after int8 swaps two rows, or one side keeps a box the other drops, and every row after it differs
although the detections are the same. Here, per line:

- a row is padding when its class id or its score is below 0 (NaN counts as padding too); of the
  rest, a detection is a row whose score is >= `score_min`;
- test detections are matched to reference ones greedily: reference detections by descending score
  (ties by row), each taking the unmatched test detection of the same class with the highest IoU
  (ties by row), if that IoU is >= `iou_min`;
- recall = matched / reference detections (1 when the reference has none), precision = matched /
  test detections (1 when the test has none); over the matches: mean and min IoU, the largest
  |score difference| and the largest |corner difference| in pixels (None without a match).

Summaries over lines use drift.summary_of (the project's one percentile definition); the worst lines
rank by recall, then min IoU, then precision. The gate `min_box_recall` fails every line below it.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from vampy.config.diff import BOX_HEADS, BOX_MODES, DEFAULT_BOX_IOU, DEFAULT_BOX_SCORE_MIN
from vampy.quality.drift import GateResult, summary_of

BOX_TENSORS = ("output_0", "output_1", "output_2")  # class ids, scores, boxes
BOX_GATE_TENSOR = "boxes"  # what a failing line names in place of a tensor
BOX_METRICS = tuple(BOX_HEADS)


@dataclass(frozen=True)
class Detections:
    """One side's kept detections on one line, in row order."""

    class_ids: np.ndarray  # [K] int64
    scores: np.ndarray  # [K] float64
    boxes_px: np.ndarray  # [K, 4] float64, x1 y1 x2 y2


@dataclass(frozen=True)
class BoxDrift:
    """One line's detections compared (module docstring: the definitions)."""

    line: int
    path: str
    ref_count: int
    test_count: int
    matched: int
    recall: float
    precision: float
    mean_iou: float | None
    min_iou: float | None
    max_score_diff: float | None
    max_shift_px: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_box_layout(shapes: Mapping[int, tuple[int, ...]], exact: bool = True) -> bool:
    """output_0 [1, N, 1], output_1 [1, N, 1], output_2 [1, N, 4] with N >= 1; exact: and no other output."""
    if exact and set(shapes) != {0, 1, 2}:
        return False
    if not {0, 1, 2} <= set(shapes):
        return False
    ids, scores, boxes = (tuple(shapes[k]) for k in (0, 1, 2))
    return len(ids) == 3 and ids[0] == 1 and ids[1] >= 1 and ids[2] == 1 and scores == ids and boxes == (1, ids[1], 4)


def detections(class_ids: np.ndarray, scores: np.ndarray, boxes_px: np.ndarray, score_min: float) -> Detections:
    """The rows that are not padding and score at least `score_min`."""
    ids = np.asarray(class_ids, dtype=np.float64).reshape(-1)
    conf = np.asarray(scores, dtype=np.float64).reshape(-1)
    boxes = np.asarray(boxes_px, dtype=np.float64).reshape(-1, 4)
    with np.errstate(invalid="ignore"):
        keep = (ids >= 0) & (conf >= 0) & (conf >= score_min)
    return Detections(ids[keep].astype(np.int64), conf[keep], boxes[keep])


def iou_matrix(a_px: np.ndarray, b_px: np.ndarray) -> np.ndarray:
    """[K, M] intersection over union of x1 y1 x2 y2 boxes (0 where the union is empty)."""
    x1 = np.maximum(a_px[:, None, 0], b_px[None, :, 0])
    y1 = np.maximum(a_px[:, None, 1], b_px[None, :, 1])
    x2 = np.minimum(a_px[:, None, 2], b_px[None, :, 2])
    y2 = np.minimum(a_px[:, None, 3], b_px[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = np.clip(a_px[:, 2] - a_px[:, 0], 0, None) * np.clip(a_px[:, 3] - a_px[:, 1], 0, None)
    area_b = np.clip(b_px[:, 2] - b_px[:, 0], 0, None) * np.clip(b_px[:, 3] - b_px[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def match(ref: Detections, test: Detections, iou_min: float) -> list[tuple[int, int, float]]:
    """(reference row, test row, IoU) pairs, greedily by descending reference score."""
    ious = iou_matrix(ref.boxes_px, test.boxes_px)
    same_class = ref.class_ids[:, None] == test.class_ids[None, :]
    taken = np.zeros(len(test.scores), dtype=bool)
    pairs = []
    for i in np.argsort(-ref.scores, kind="stable"):
        if not taken.size:
            break
        # a NaN IoU (a NaN corner) can match nothing, and numpy's argmax would pick it first
        candidates = np.where(same_class[i] & ~taken & ~np.isnan(ious[i]), ious[i], -1.0)
        j = int(np.argmax(candidates))
        if not candidates[j] >= iou_min:
            continue
        taken[j] = True
        pairs.append((int(i), j, float(candidates[j])))
    return pairs


def box_drift(ref: Detections, test: Detections, iou_min: float, line: int, path: str) -> BoxDrift:
    """One line's figures from its two sides' detections."""
    pairs = match(ref, test, iou_min)
    ref_count, test_count, matched = len(ref.scores), len(test.scores), len(pairs)
    ious = np.array([p[2] for p in pairs], dtype=np.float64)
    ri = np.array([p[0] for p in pairs], dtype=np.int64)
    ti = np.array([p[1] for p in pairs], dtype=np.int64)
    return BoxDrift(
        line=line, path=path, ref_count=ref_count, test_count=test_count, matched=matched,
        recall=matched / ref_count if ref_count else 1.0, precision=matched / test_count if test_count else 1.0,
        mean_iou=float(np.mean(ious)) if matched else None, min_iou=float(np.min(ious)) if matched else None,
        max_score_diff=float(np.max(np.abs(ref.scores[ri] - test.scores[ti]))) if matched else None,
        max_shift_px=float(np.max(np.abs(ref.boxes_px[ri] - test.boxes_px[ti]))) if matched else None,
    )


def line_box_drift(ref: Mapping[int, np.ndarray], test: Mapping[int, np.ndarray], score_min: float, iou_min: float,
                   line: int, path: str) -> BoxDrift:
    """box_drift of two output_k dicts in the box layout."""
    sides = [detections(side[0], side[1], side[2], score_min) for side in (ref, test)]
    return box_drift(sides[0], sides[1], iou_min, line, path)


# --- over lines ---


def _worst_key(record: BoxDrift) -> tuple[float, float, float, int]:
    def ranked(value: float | None) -> float:
        return 1.0 if value is None else (-math.inf if math.isnan(value) else value)

    return (ranked(record.recall), ranked(record.min_iou), ranked(record.precision), record.line)


def worst_box_lines(records: Sequence[BoxDrift], count: int) -> list[BoxDrift]:
    """The `count` lines with the lowest recall (then min IoU, then precision), worst first."""
    return sorted(records, key=_worst_key)[:count]


def box_totals(records: Sequence[BoxDrift]) -> dict[str, float]:
    """Detections counted over every line: recall and precision of all of them together."""
    ref, test, matched = (sum(getattr(r, name) for r in records) for name in ("ref_count", "test_count", "matched"))
    return {"reference": ref, "test": test, "matched": matched,
            "recall": matched / ref if ref else 1.0, "precision": matched / test if test else 1.0}


def summarize_boxes(records: Sequence[BoxDrift]) -> dict[str, dict[str, float]]:
    """metric -> {lines, mean, min, p5, p95, max} over the lines that have the metric."""
    out = {}
    for metric in BOX_METRICS:
        values = np.array([v for r in records if (v := getattr(r, metric)) is not None], dtype=np.float64)
        if values.size:
            out[metric] = summary_of(values)
    return out


def box_block(records: Sequence[BoxDrift], score_min: float, iou_min: float, worst: int) -> dict[str, Any]:
    """The report's `boxes` block: settings, totals, summaries, the worst lines and every line."""
    return {"tensors": list(BOX_TENSORS), "score_min": score_min, "iou_min": iou_min, "lines": len(records),
            "totals": box_totals(records), "summary": summarize_boxes(records),
            "worst": [r.to_dict() for r in worst_box_lines(records, worst)], "records": [r.to_dict() for r in records]}


def recall_gate(records: Sequence[BoxDrift], threshold: float) -> GateResult:
    """`min_box_recall`: fails each line whose recall is below the threshold, lowest first."""
    failing = sorted((r for r in records if not r.recall >= threshold), key=_worst_key)
    lowest = min((r.recall for r in records), default=1.0)
    named = tuple({"line": r.line, "path": r.path, "tensor": BOX_GATE_TENSOR, "value": r.recall} for r in failing)
    return GateResult("min_box_recall", threshold, lowest, not failing, named)


__all__ = ["BOX_HEADS", "BOX_METRICS", "BOX_MODES", "BOX_TENSORS", "DEFAULT_BOX_IOU", "DEFAULT_BOX_SCORE_MIN", "BoxDrift", "Detections",
           "box_block", "box_drift", "box_totals", "detections", "iou_matrix", "is_box_layout", "line_box_drift", "match",
           "recall_gate", "summarize_boxes", "worst_box_lines"]
