"""`vampy zoo yolov5-head`: a tiny model with yolov5's raw head layout and planted boxes, seeded random weights.

Input `images` (1, 3, S, S) = RGB/255 (the zoo's yolov5 YAML: letterbox, div255). Outputs: three raw heads
(1, 3*(5+C), S/s, S/s) at strides 8, 16, 32, the layout `vampy compile`'s yolov5_nms extra op decodes
(vampy/compiler/nms_ops.py). Each head = constant planted logits + 0.002 * tanh(a small seeded random
conv of the image average-pooled to the head's grid): the compute depends on the input, but the tanh
bounds its effect to 0.002 in logit, so the planted boxes decode out of any image within a fraction of a
pixel and every other cell stays at logit -12 (confidence sigmoid(-12)^2 ~ 4e-11, far below the YAML's
0.001 threshold).

Planting inverts yolov5's Detect decode (sigmoid s of each channel): xy = (2 s - 0.5 + grid) * stride,
wh = (2 s)^2 * anchor, confidence = objectness * class score (each planted at sqrt(score)).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vampy.errors import UsageError
from vampy.models.zoo_build import FamilyModel, Net, Tensor

YOLOV5_ANCHORS_PX = (10, 13, 16, 30, 33, 23, 30, 61, 62, 45, 59, 119, 116, 90, 156, 198, 373, 326)  # the zoo's yolov5 YAML
YOLOV5_STRIDES = (8, 16, 32)
ANCHORS_PER_STRIDE = 3
BOX_FIELDS = 5  # x, y, w, h, objectness before the class scores
BACKGROUND_LOGIT = -12.0  # sigmoid^2 ~ 4e-11: no threshold keeps it
HEAD_INPUT_GAIN = 0.002  # the image's bounded effect on every logit (see the module doc)
HIDDEN_CHANNELS = 16
MIN_SIZE_PX = 64  # below it the planted boxes are too small for the anchors and cells
SIZE_MULTIPLE_PX = 32  # the largest stride: every head's grid tiles the input
DEFAULT_SIZE_PX = 640
DEFAULT_CLASSES = 80
# Planted boxes as fractions of the input side: (COCO class id, x1, y1, x2, y2, score). They do not
# overlap (so NMS keeps all four) and lie in y 0.25..0.80, inside a 4:3 landscape image's letterbox.
PLANTED_FRACTIONS = (
    (0, 0.10, 0.25, 0.30, 0.75, 0.9),  # person: tall
    (2, 0.40, 0.40, 0.70, 0.60, 0.8),  # car: wide
    (16, 0.75, 0.30, 0.95, 0.50, 0.7),  # dog: square
    (56, 0.35, 0.65, 0.55, 0.80, 0.6),  # chair: small
)
_SIGMOID_MARGIN = 0.02  # planted sigmoids stay in (margin, 1 - margin): finite logits, far from saturation


@dataclass(frozen=True)
class PlantedCell:
    """One box planted at one anchor of one grid cell of one head."""

    stride_index: int
    anchor: int
    gy: int
    gx: int
    class_id: int
    box_px: tuple[float, float, float, float]  # x1, y1, x2, y2 in input pixels
    score: float


def logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def cell_sigmoids(cell: PlantedCell, anchors_px: np.ndarray, strides: Sequence[int]) -> list[float]:
    """The x, y, w, h sigmoids yolov5's decode turns into `cell.box_px` at its cell and anchor."""
    x1, y1, x2, y2 = cell.box_px
    stride = strides[cell.stride_index]
    anchor_w, anchor_h = anchors_px[cell.stride_index, cell.anchor]
    centre = ((x1 + x2) / 2 / stride - cell.gx + 0.5) / 2, ((y1 + y2) / 2 / stride - cell.gy + 0.5) / 2
    size = math.sqrt((x2 - x1) / anchor_w) / 2, math.sqrt((y2 - y1) / anchor_h) / 2
    return [*centre, *size]


def planted_v5_heads(cells: Sequence[PlantedCell], size_px: int, classes: int, anchors_px: Sequence[float] = YOLOV5_ANCHORS_PX,
                     strides: Sequence[int] = YOLOV5_STRIDES) -> list[np.ndarray]:
    """The raw head logits (1, A*(5+C), S/s, S/s) per stride that decode to `cells` and to nothing else."""
    fields = BOX_FIELDS + classes
    per_stride = len(anchors_px) // 2 // len(strides)
    anchors = np.asarray(anchors_px, np.float64).reshape(len(strides), per_stride, 2)
    heads = [np.full((per_stride, fields, size_px // s, size_px // s), BACKGROUND_LOGIT, np.float32) for s in strides]
    for cell in cells:
        values = cell_sigmoids(cell, anchors, strides)
        if not all(0 < v < 1 for v in values):
            raise ValueError(f"box {cell.box_px} cannot be decoded at stride {strides[cell.stride_index]}, anchor {cell.anchor}, "
                             f"cell ({cell.gy}, {cell.gx}): sigmoids {values}")
        head = heads[cell.stride_index]
        head[cell.anchor, :4, cell.gy, cell.gx] = [logit(v) for v in values]
        head[cell.anchor, 4, cell.gy, cell.gx] = logit(math.sqrt(cell.score))
        head[cell.anchor, BOX_FIELDS + cell.class_id, cell.gy, cell.gx] = logit(math.sqrt(cell.score))
    return [h.reshape(1, per_stride * fields, *h.shape[2:]) for h in heads]


def _fits(cell: PlantedCell, anchors: np.ndarray) -> bool:
    return all(_SIGMOID_MARGIN < v < 1 - _SIGMOID_MARGIN for v in cell_sigmoids(cell, anchors, YOLOV5_STRIDES))


def place_box(class_id: int, box_px: tuple[float, float, float, float], score: float, size_px: int) -> PlantedCell:
    """The cell of the box centre at the stride and anchor whose shape is closest to the box's (log ratio)."""
    anchors = np.asarray(YOLOV5_ANCHORS_PX, np.float64).reshape(len(YOLOV5_STRIDES), ANCHORS_PER_STRIDE, 2)
    x1, y1, x2, y2 = box_px
    candidates = []
    for k, stride in enumerate(YOLOV5_STRIDES):
        grid = size_px // stride
        gx, gy = min(int((x1 + x2) / 2 // stride), grid - 1), min(int((y1 + y2) / 2 // stride), grid - 1)
        for a in range(ANCHORS_PER_STRIDE):
            cell = PlantedCell(k, a, gy, gx, class_id, box_px, score)
            mismatch = abs(math.log((x2 - x1) / anchors[k, a, 0])) + abs(math.log((y2 - y1) / anchors[k, a, 1]))
            if _fits(cell, anchors):
                candidates.append((mismatch, k, a, cell))
    if not candidates:
        raise UsageError(f"--size {size_px}: the planted box {box_px} fits no yolov5 anchor; give a --size of {MIN_SIZE_PX} or more")
    return min(candidates, key=lambda item: item[:3])[3]


def planted_cells(size_px: int, classes: int) -> list[PlantedCell]:
    """PLANTED_FRACTIONS at `size_px`, corners rounded to whole pixels, class ids taken modulo `classes`."""
    cells = []
    for class_id, *fractions, score in PLANTED_FRACTIONS:
        x1, y1, x2, y2 = (float(math.floor(f * size_px + 0.5)) for f in fractions)
        cells.append(place_box(int(class_id) % classes, (x1, y1, x2, y2), score, size_px))
    slots = {(c.stride_index, c.anchor, c.gy, c.gx) for c in cells}
    if len(slots) != len(cells):
        raise UsageError(f"--size {size_px}: two planted boxes fall on the same anchor of one cell; give another --size")
    return cells


def check_size(size_px: int, classes: int) -> None:
    if size_px < MIN_SIZE_PX or size_px % SIZE_MULTIPLE_PX:
        raise UsageError(f"--size {size_px}: give a multiple of {SIZE_MULTIPLE_PX} (the largest stride), at least {MIN_SIZE_PX}")
    if classes < 1:
        raise UsageError(f"--classes {classes}: give 1 or more")


def build_yolov5_head(seed: int, size_px: int = DEFAULT_SIZE_PX, classes: int = DEFAULT_CLASSES) -> FamilyModel:
    """The graph (see the module doc) and its mod.json extras (the planted boxes)."""
    check_size(size_px, classes)
    cells = planted_cells(size_px, classes)
    planted = planted_v5_heads(cells, size_px, classes)
    net = Net(seed)
    channels = ANCHORS_PER_STRIDE * (BOX_FIELDS + classes)
    gain = net.const("input_gain", np.asarray(HEAD_INPUT_GAIN))
    outputs = []
    for k, stride in enumerate(YOLOV5_STRIDES):
        pooled = net.op("AveragePool", ["images"], f"s{stride}.pool", kernel_shape=[stride, stride], strides=[stride, stride])
        hidden = net.op("Relu", [net.conv(pooled, f"s{stride}.conv1", 3, HIDDEN_CHANNELS)], f"s{stride}.relu")
        bounded = net.op("Tanh", [net.conv(hidden, f"s{stride}.conv2", HIDDEN_CHANNELS, channels, kernel=1)], f"s{stride}.tanh")
        name = f"head_s{stride}"
        net.op("Add", [net.const(f"s{stride}.planted", planted[k]), net.op("Mul", [bounded, gain], f"s{stride}.scaled")], name)
        outputs.append(Tensor(name, list(planted[k].shape), "float32", "1, anchors*(x, y, w, h, obj, classes), grid y, grid x",
                              f"raw yolov5 head logits at stride {stride} (before sigmoid)"))
    image = Tensor("images", [1, 3, size_px, size_px], "float32", "NCHW", "RGB / 255, letterboxed (pad 114)")
    model = net.model("yolov5_head_planted", [image], outputs)
    return FamilyModel(
        model, "yolov5-head", "detection (yolov5, anchor-based)",
        f"per stride 8/16/32: AveragePool to the grid, conv 3x3 3->{HIDDEN_CHANNELS} + ReLU, conv 1x1 ->{channels}, "
        f"Tanh x {HEAD_INPUT_GAIN}, + planted constant logits (background {BACKGROUND_LOGIT})",
        (image,), tuple(outputs), ("coco_det",), {"images": (1, 3, size_px, size_px)},
        {"classes": classes, "anchors_px": list(YOLOV5_ANCHORS_PX), "strides": list(YOLOV5_STRIDES),
         "planted_boxes": [_planted_json(c) for c in cells],
         "background_confidence_max": float(1 / (1 + math.exp(-(BACKGROUND_LOGIT + HEAD_INPUT_GAIN)))) ** 2,
         "compile_with": "build/vendor/ultralytics_yolov5.yaml with frontend.checkpoint, frontend.shape, the Resize size and "
                         "params.num_classes pointed at this model; its yolov5_nms extra op appends the decode and NMS"},
    )


def _planted_json(cell: PlantedCell) -> dict[str, object]:
    from vampy.quality.detection import COCO_NAMES

    x1, y1, x2, y2 = cell.box_px
    return {"class": cell.class_id, "name": COCO_NAMES[cell.class_id] if cell.class_id < len(COCO_NAMES) else None,
            "x1": x1, "y1": y1, "x2": x2, "y2": y2, "score": cell.score,
            "stride": YOLOV5_STRIDES[cell.stride_index], "anchor": cell.anchor, "cell_yx": [cell.gy, cell.gx]}
