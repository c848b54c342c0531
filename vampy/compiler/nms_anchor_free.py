"""The anchor-free families' head layouts and decodes for the NMS extra ops (compiler/nms_ops.py).

yolov8_nms / yolov11_nms (ultralytics; one box per grid cell, strides from params):
- raw heads [1, 4*R + C, H, W] per stride: R DFL bins per side (softmax, expectation over 0..R-1;
  R = 1: plain distances), class scores through sigmoid; box = (cell + 0.5 -/+ (l, t | r, b)) * stride;
- already decoded [1, 4+C, boxes] (ultralytics' export) or [1, boxes, 4+C]: cx, cy, w, h in pixels and
  class scores after sigmoid; no objectness.
yolox_nms (Megvii YOLOX):
- raw heads, three per stride: class logits [1, C, H, W], box [1, 4, H, W], objectness [1, 1, H, W]
  (the zoo's yolox reader takes them as output_0..8); xy = (reg + cell) * stride, wh = exp(reg) * stride,
  sigmoid on objectness and classes;
- [1, boxes, 5+C] as YOLOX's export.py writes it by default (decode_in_inference off): box not decoded,
  objectness and classes after sigmoid. Score = objectness * the best class only, as YOLOX's postprocess.
"""
from __future__ import annotations

import numpy as np

from vampy.compiler.nms_build import Builder, HeadLayout, grid_cells, grid_points, shapes_text
from vampy.config.compile import NmsParams

DFL_BINS = 16  # ultralytics' reg_max: the bins per side when params give no num_classes
YOLOX_FIELDS = 5  # cx, cy, w, h, objectness before the class scores


def recognise_v8(shapes: dict[str, tuple[int, ...]], params: NmsParams, hw: tuple[int, int] | None) -> HeadLayout | None:
    cells = grid_cells(hw, params.strides)
    for name, shape in shapes.items():
        if len(shape) != 3 or shape[0] != 1:
            continue
        for boxes_axis in (2, 1):  # ultralytics writes [1, 4+C, boxes]; [1, boxes, 4+C] once transposed
            fields, boxes = shape[3 - boxes_axis], shape[boxes_axis]
            classes = fields - 4
            if classes > 0 and (cells == boxes if cells is not None else boxes > fields) and params.num_classes in (None, classes):
                kind = "v8_decoded" if boxes_axis == 2 else "v8_decoded_rows"
                return HeadLayout(kind, (name,), (shape,), classes, f"already-decoded [1, 4+{classes}, boxes] ({name} {list(shape)})"
                                  if boxes_axis == 2 else f"already-decoded [1, boxes, 4+{classes}] ({name} {list(shape)})")
    heads = _heads_per_stride(shapes, params, hw)
    if heads is None or len({s[1] for _, s in heads}) != 1:
        return None
    channels = heads[0][1][1]
    classes = params.num_classes if params.num_classes is not None else channels - 4 * DFL_BINS
    if classes <= 0 or (channels - classes) % 4 or channels - classes <= 0:
        return None
    bins = (channels - classes) // 4
    names, dims = tuple(n for n, _ in heads), tuple(s for _, s in heads)
    text = (f"raw heads [1, 4*{bins}+{classes}, H, W] ({'DFL' if bins > 1 else 'plain distances'}) at strides "
            f"{', '.join(map(str, sorted(params.strides)))} ({shapes_text(names, dims)})")
    return HeadLayout("v8_raw", names, dims, classes, text, reg_max=bins)


def recognise_yolox(shapes: dict[str, tuple[int, ...]], params: NmsParams, hw: tuple[int, int] | None) -> HeadLayout | None:
    cells = grid_cells(hw, params.strides)
    flat = [(n, s) for n, s in shapes.items() if len(s) == 3 and s[0] == 1 and s[2] > YOLOX_FIELDS and (cells is None or s[1] == cells)]
    if len(flat) == 1 and cells is not None:  # the box count must match the grids: the decode adds them
        name, shape = flat[0]
        classes = shape[2] - YOLOX_FIELDS
        if params.num_classes in (None, classes):
            grids = tuple((hw[0] // s, hw[1] // s) for s in sorted(params.strides)) if hw is not None else ()
            return HeadLayout("yolox_flat", (name,), (shape,), classes,
                              f"YOLOX export [1, boxes, 5+{classes}] (box not decoded) ({name} {list(shape)})", grids=grids)
    return _yolox_triplets(shapes, params, hw)


def _yolox_triplets(shapes: dict[str, tuple[int, ...]], params: NmsParams, hw: tuple[int, int] | None) -> HeadLayout | None:
    four = [(n, s) for n, s in shapes.items() if len(s) == 4 and s[0] == 1]
    if len(four) != 3 * len(params.strides):
        return None
    by_grid: dict[tuple[int, int], list[tuple[str, tuple[int, ...]]]] = {}
    for name, shape in four:
        by_grid.setdefault((shape[2], shape[3]), []).append((name, shape))
    ordered: list[tuple[str, tuple[int, ...]]] = []
    classes = set()
    for stride, grid in zip(sorted(params.strides), sorted(by_grid, key=lambda g: -g[0])):
        group = {s[1]: (n, s) for n, s in by_grid[grid]}
        if len(by_grid[grid]) != 3 or len(group) != 3 or 4 not in group or 1 not in group:
            return None
        if hw is not None and (grid[0] * stride, grid[1] * stride) != hw:
            return None
        (cls_channels,) = set(group) - {1, 4}
        classes.add(cls_channels)
        ordered += [group[cls_channels], group[4], group[1]]
    if len(by_grid) != len(params.strides) or len(classes) != 1 or params.num_classes not in (None, *classes):
        return None
    names, dims = tuple(n for n, _ in ordered), tuple(s for _, s in ordered)
    c = classes.pop()
    text = (f"raw heads class [1, {c}, H, W], box [1, 4, H, W], objectness [1, 1, H, W] at strides "
            f"{', '.join(map(str, sorted(params.strides)))} ({shapes_text(names, dims)})")
    return HeadLayout("yolox_raw", names, dims, c, text, grids=tuple(dims[3 * k][2:] for k in range(len(params.strides))))


def _heads_per_stride(
    shapes: dict[str, tuple[int, ...]], params: NmsParams, hw: tuple[int, int] | None
) -> list[tuple[str, tuple[int, ...]]] | None:
    """The 4-D outputs, finest grid first, one per stride and tiling the input at it; None otherwise."""
    heads: list[tuple[str, tuple[int, ...]]] = [(n, s) for n, s in shapes.items() if len(s) == 4 and s[0] == 1]
    heads.sort(key=lambda item: -item[1][2])
    if len(heads) != len(params.strides):
        return None
    if hw is not None and any((s[2] * k, s[3] * k) != hw for (_, s), k in zip(heads, sorted(params.strides))):
        return None
    return heads


def decode(b: Builder, layout: HeadLayout, params: NmsParams) -> tuple[str, str]:
    """(corners [1, B, 4] in input pixels, class scores [1, B, C]) for an anchor-free layout."""
    if layout.kind == "v8_raw":
        return _decode_v8_raw(b, layout, params)
    if layout.kind in ("v8_decoded", "v8_decoded_rows"):
        rows = layout.outputs[0]
        if layout.kind == "v8_decoded":
            rows = b.one("Transpose", [rows], "v8_rows", perm=[0, 2, 1])
        corners = b.corners(b.slice_last(rows, 0, 2, "v8_cxcy"), b.slice_last(rows, 2, 4, "v8_wh"), "v8")
        return corners, b.slice_last(rows, 4, 4 + layout.num_classes, "v8_cls")
    if layout.kind == "yolox_flat":
        return _decode_yolox(b, layout.outputs[0], layout, params)
    return _decode_yolox_raw(b, layout, params)


def _decode_v8_raw(b: Builder, layout: HeadLayout, params: NmsParams) -> tuple[str, str]:
    bins, classes = layout.reg_max, layout.num_classes
    boxes, scores = [], []
    for k, (name, shape, stride) in enumerate(zip(layout.outputs, layout.shapes, sorted(params.strides))):
        rows = b.rows(name, shape[1], f"v8h{k}")
        dist = b.slice_last(rows, 0, 4 * bins, f"v8h{k}_dist")
        if bins > 1:  # DFL: the expected bin of a softmax over each side's bins
            sides = b.one("Reshape", [dist, b.ints(f"v8h{k}_sides", [1, -1, 4, bins])], f"v8h{k}_bins")
            weights = b.one("Softmax", [sides], f"v8h{k}_softmax", axis=-1)
            expected = b.one("MatMul", [weights, b.const(f"v8h{k}_bin_values", np.arange(bins, dtype=np.float32).reshape(bins, 1))],
                             f"v8h{k}_expected")
            dist = b.one("Reshape", [expected, b.ints(f"v8h{k}_ltrb_shape", [1, -1, 4])], f"v8h{k}_ltrb")
        points = b.const(f"v8h{k}_points", grid_points(shape[2], shape[3], 0.5)[None])
        x1y1 = b.one("Sub", [points, b.slice_last(dist, 0, 2, f"v8h{k}_lt")], f"v8h{k}_x1y1_cells")
        x2y2 = b.one("Add", [points, b.slice_last(dist, 2, 4, f"v8h{k}_rb")], f"v8h{k}_x2y2_cells")
        cells = b.one("Concat", [x1y1, x2y2], f"v8h{k}_xyxy_cells", axis=-1)
        boxes.append(b.one("Mul", [cells, b.floats(f"v8h{k}_stride", float(stride))], f"v8h{k}_xyxy"))
        scores.append(b.one("Sigmoid", [b.slice_last(rows, 4 * bins, 4 * bins + classes, f"v8h{k}_logits")], f"v8h{k}_cls"))
    return b.one("Concat", boxes, "v8_boxes", axis=1), b.one("Concat", scores, "v8_scores", axis=1)


def _decode_yolox_raw(b: Builder, layout: HeadLayout, params: NmsParams) -> tuple[str, str]:
    """The reader's own order: per stride [box, sigmoid(obj), sigmoid(cls)] rows, then the flat decode."""
    joined = []
    for k in range(len(params.strides)):
        (cls, cls_shape), (reg, _), (obj, _) = [(layout.outputs[3 * k + j], layout.shapes[3 * k + j]) for j in range(3)]
        parts = [b.rows(reg, 4, f"xh{k}_reg"), b.one("Sigmoid", [b.rows(obj, 1, f"xh{k}_obj")], f"xh{k}_obj_p"),
                 b.one("Sigmoid", [b.rows(cls, cls_shape[1], f"xh{k}_cls")], f"xh{k}_cls_p")]
        joined.append(b.one("Concat", parts, f"xh{k}_joined", axis=-1))
    return _decode_yolox(b, b.one("Concat", joined, "yolox_rows", axis=1), layout, params)


def _decode_yolox(b: Builder, rows: str, layout: HeadLayout, params: NmsParams) -> tuple[str, str]:
    """[1, B, 5+C] (box raw, obj and classes after sigmoid) -> corners and best-class scores."""
    stem, classes = "yolox", layout.num_classes
    points, strides = [], []
    for stride, (h, w) in zip(sorted(params.strides), layout.grids):
        points.append(grid_points(h, w, 0.0))
        strides.append(np.full((h * w, 1), stride, np.float32))
    stride_col = b.const(f"{stem}_strides", np.concatenate(strides)[None])
    centre = b.one("Mul", [b.one("Add", [b.slice_last(rows, 0, 2, f"{stem}_xy"), b.const(f"{stem}_grid", np.concatenate(points)[None])],
                                 f"{stem}_xy_cells"), stride_col], f"{stem}_cxcy")
    size = b.one("Mul", [b.one("Exp", [b.slice_last(rows, 2, 4, f"{stem}_log_wh")], f"{stem}_wh_cells"), stride_col], f"{stem}_wh")
    cls = b.slice_last(rows, YOLOX_FIELDS, YOLOX_FIELDS + classes, f"{stem}_cls")
    top = b.node("TopK", [cls, b.ints(f"{stem}_one", [1])], f"{stem}_cls_max", outputs=2, axis=-1)[0]  # ReduceMax changes form at opset 18
    best = b.one("Cast", [b.one("Equal", [cls, top], f"{stem}_is_best")], f"{stem}_best", to=1)  # YOLOX scores the best class only
    scores = b.one("Mul", [b.one("Mul", [cls, best], f"{stem}_best_cls"), b.slice_last(rows, 4, 5, f"{stem}_obj")], f"{stem}_scores")
    return b.corners(centre, size, stem), scores


__all__ = ["DFL_BINS", "decode", "recognise_v8", "recognise_yolox"]
