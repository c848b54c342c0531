"""graph.extra_ops `yolov5_nms`, `yolov8_nms`, `yolov11_nms`, `yolox_nms`: the detector's head decode and
ONNX NonMaxSuppression appended to the model.

The compiled model's outputs become, per image, class ids [1, N, 1], scores [1, N, 1] and boxes [1, N, 4]
(x1, y1, x2, y2 in model-input pixels), all float32, sorted by score and padded with -1 rows to N
(NmsParams.max_boxes, 300 = yolov5's and ultralytics' max_det): the layout the zoo's detection readers
take (ZOO-EVAL.md 2.2). yolov5's two head layouts (the anchor-free ones: compiler/nms_anchor_free.py):

- raw heads: one output [1, A*(5+C), H, W] per stride (A = anchors per stride from params). Decoded
  as yolov5's Detect does: sigmoid on every channel, xy = (2 s - 0.5 + grid) * stride,
  wh = (2 s)^2 * anchor (anchors in input pixels, as the YAML lists them);
- already decoded: an output [1, boxes, 5+C] of cx, cy, w, h (pixels), objectness, class scores
  (after sigmoid, as yolov5's export writes it; used when the export also keeps its raw heads).

Score = objectness * class score; NMS per class (the families' multi-label NMS; yolox: its best class
only) with nms_threshold as IoU and confidence_threshold as score threshold; then the N best overall.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper

from vampy.compiler import nms_anchor_free
from vampy.compiler.nms_build import NODE_PREFIX, Builder, HeadLayout, input_hw, output_shapes, shapes_text
from vampy.config.compile import ExtraOp, NmsParams
from vampy.errors import ModelError

MIN_OPSET = 11  # GatherND, and Slice / TopK / NonMaxSuppression with tensor inputs
BOX_FIELDS = 5  # cx, cy, w, h, objectness before the class scores
PAD_VALUE = -1.0
OUTPUT_NAMES = ("class_ids", "scores", "boxes")

_Recogniser = Callable[[dict[str, tuple[int, ...]], NmsParams, "tuple[int, int] | None"], "HeadLayout | None"]
# the layouts each family takes, as the refusal names them
_TAKEN = {
    "yolov5": "raw heads [1, A*(5+C), H, W], one per stride {strides} with A = {anchors} anchors, nor one decoded [1, boxes, 5+C]",
    "yolov8": "raw heads [1, 4*R+C, H, W], one per stride {strides} tiling the input, nor one decoded [1, 4+C, boxes] or [1, boxes, 4+C]",
    "yolox": "raw heads class [1, C, H, W] + box [1, 4, H, W] + objectness [1, 1, H, W] per stride {strides}, "
             "nor one [1, boxes, 5+C] with one box per grid cell",
}


def family(kind: str) -> str:
    return {"yolov11_nms": "yolov8", "yolov8_nms": "yolov8", "yolox_nms": "yolox"}.get(kind, "yolov5")


def apply_nms(model: onnx.ModelProto, op: ExtraOp, source: str) -> str:
    """Append the decode and NMS of `op` to the model in place; returns the report line."""
    params = op.nms or NmsParams()
    _check_opset(model, op.kind, source)
    layout = recognise_layout(model, params, op.kind, source)
    b = Builder(model.graph)
    if layout.kind == "v5_raw":
        corners, scores = _v5_corners_scores(b, _decode_v5_raw(b, layout, params), layout.num_classes)
    elif layout.kind == "v5_decoded":
        corners, scores = _v5_corners_scores(b, layout.outputs[0], layout.num_classes)
    else:
        corners, scores = nms_anchor_free.decode(b, layout, params)
    outputs = _nms(b, corners, scores, params)
    n = params.max_boxes
    del model.graph.output[:]
    for name, width in zip(outputs, (1, 1, 4)):
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, n, width]))
    return (f"graph.extra_ops {op.kind} applied: {layout.text} recognised; decode + NonMaxSuppression "
            f"(iou {params.nms_threshold}, score {params.confidence_threshold}) -> outputs {outputs[0]} [1, {n}, 1], "
            f"{outputs[1]} [1, {n}, 1], {outputs[2]} [1, {n}, 4] (x1, y1, x2, y2 in input pixels), padded with -1")


def recognise_layout(model: onnx.ModelProto, params: NmsParams, kind: str, source: str) -> HeadLayout:
    """The head layout of the graph outputs, or a one-line ModelError naming the layouts taken."""
    shapes, hw = output_shapes(model), input_hw(model)
    name = family(kind)
    recognisers: dict[str, _Recogniser] = {"yolov5": _recognise_v5, "yolov8": nms_anchor_free.recognise_v8,
                                           "yolox": nms_anchor_free.recognise_yolox}
    layout = recognisers[name](shapes, params, hw)
    if layout is not None:
        if layout.kind.startswith("v5") and params.num_classes not in (None, layout.num_classes):
            raise ModelError(f"{source}: graph.extra_ops {kind}: params.num_classes is {params.num_classes} but the "
                             f"{layout.text} carry {layout.num_classes} classes")
        return layout
    seen = "; ".join(f"{output} {list(shape) if shape else '?'}" for output, shape in shapes.items())
    classes = "" if params.num_classes is None else f" (C = params.num_classes {params.num_classes})"
    taken = _TAKEN[name].format(strides=list(params.strides), anchors=_anchors_per_stride(params))
    raise ModelError(f"{source}: graph.extra_ops {kind}: the outputs ({seen}) are neither {taken}{classes}")


def _recognise_v5(shapes: dict[str, tuple[int, ...]], params: NmsParams, hw: tuple[int, int] | None) -> HeadLayout | None:
    decoded = [name for name, shape in shapes.items() if len(shape) == 3 and shape[0] == 1 and shape[2] > BOX_FIELDS]
    if len(decoded) == 1:
        shape = shapes[decoded[0]]
        c = shape[2] - BOX_FIELDS
        return HeadLayout("v5_decoded", (decoded[0],), (shape,), c, f"already-decoded [1, boxes, 5+{c}] ({decoded[0]} {list(shape)})")
    per_stride = _anchors_per_stride(params)
    heads = [(name, shape) for name, shape in shapes.items() if len(shape) == 4 and shape[0] == 1]
    if per_stride <= 0 or len(heads) != len(params.strides) or any(s[1] % per_stride for _, s in heads):
        return None
    heads.sort(key=lambda item: -item[1][2])  # the finest grid is the smallest stride
    if hw is not None and any((s[2] * k, s[3] * k) != hw for (_, s), k in zip(heads, sorted(params.strides))):
        return None  # a grid that does not tile the input at its stride is not that stride's head
    channels = {shape[1] for _, shape in heads}
    if len(channels) != 1 or channels.pop() // per_stride <= BOX_FIELDS:
        return None
    c = heads[0][1][1] // per_stride - BOX_FIELDS
    names, dims = tuple(n for n, _ in heads), tuple(s for _, s in heads)
    text = (f"raw heads [1, {per_stride}*(5+{c}), H, W] at strides {', '.join(map(str, sorted(params.strides)))} "
            f"({shapes_text(names, dims)})")
    return HeadLayout("v5_raw", names, dims, c, text, anchors_per_stride=per_stride)


def _anchors_per_stride(params: NmsParams) -> int:
    pairs = len(params.anchors) // 2
    return pairs // len(params.strides) if params.strides and pairs % len(params.strides) == 0 else 0


def _check_opset(model: onnx.ModelProto, kind: str, source: str) -> None:
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx") and opset.version < MIN_OPSET:
            raise ModelError(f"{source}: graph.extra_ops {kind} needs ONNX opset {MIN_OPSET} or newer (the model has "
                             f"{opset.version}); re-export with a newer opset")


def _decode_v5_raw(b: Builder, layout: HeadLayout, params: NmsParams) -> str:
    """yolov5 Detect on each raw head, concatenated into [1, boxes, 5+C] (cx, cy, w, h in pixels, obj, classes)."""
    a, fields = layout.anchors_per_stride, BOX_FIELDS + layout.num_classes
    anchors = np.asarray(params.anchors, dtype=np.float32).reshape(len(params.strides), a, 2)
    decoded = []
    for k, (name, shape, stride) in enumerate(zip(layout.outputs, layout.shapes, sorted(params.strides))):
        h, w = shape[2], shape[3]
        stride_anchors = anchors[params.strides.index(stride)]  # anchors are listed in the params' stride order
        x = b.one("Reshape", [name, b.ints(f"h{k}_shape5", [1, a, fields, h, w])], f"h{k}_split")
        x = b.one("Sigmoid", [b.one("Transpose", [x], f"h{k}_nhwc", perm=[0, 1, 3, 4, 2])], f"h{k}_sigmoid")
        grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        grid = np.stack([grid_x, grid_y], axis=-1).reshape(1, 1, h, w, 2) - 0.5  # yolov5: 2 s - 0.5 + grid
        xy = b.one("Mul", [b.slice_last(x, 0, 2, f"h{k}_xy_s"), b.floats(f"h{k}_two", 2.0)], f"h{k}_xy2")
        xy = b.one("Mul", [b.one("Add", [xy, b.const(f"h{k}_grid", grid)], f"h{k}_xyg"), b.floats(f"h{k}_stride", float(stride))],
                   f"h{k}_xy")
        wh = b.one("Mul", [b.slice_last(x, 2, 4, f"h{k}_wh_s"), b.floats(f"h{k}_two_wh", 2.0)], f"h{k}_wh2")
        wh = b.one("Mul", [b.one("Mul", [wh, wh], f"h{k}_whsq"), b.const(f"h{k}_anchor", stride_anchors.reshape(1, a, 1, 1, 2))],
                   f"h{k}_wh")
        rest = b.slice_last(x, 4, fields, f"h{k}_rest")
        joined = b.one("Concat", [xy, wh, rest], f"h{k}_joined", axis=-1)
        decoded.append(b.one("Reshape", [joined, b.ints(f"h{k}_flat_shape", [1, -1, fields])], f"h{k}_flat"))
    return b.one("Concat", decoded, "decoded", axis=1)


def _v5_corners_scores(b: Builder, decoded: str, classes: int) -> tuple[str, str]:
    corners = b.corners(b.slice_last(decoded, 0, 2, "cxcy"), b.slice_last(decoded, 2, 4, "wh"), "v5")
    scores = b.one("Mul", [b.slice_last(decoded, 5, BOX_FIELDS + classes, "cls"), b.slice_last(decoded, 4, 5, "obj")], "class_scores")
    return corners, scores


def _nms(b: Builder, corners: str, scores: str, params: NmsParams) -> tuple[str, str, str]:
    """corners [1, B, 4] and class scores [1, B, C] -> (class ids, scores, boxes), each [1, N, k] sorted by score, padded with -1."""
    n = params.max_boxes
    per_class = b.one("Transpose", [scores], "scores_cb", perm=[0, 2, 1])  # NonMaxSuppression takes [batch, classes, boxes]
    chosen = b.one("NonMaxSuppression", [corners, per_class, b.ints("max_per_class", [n]),
                                         b.const("iou", np.asarray([params.nms_threshold], np.float32)),
                                         b.const("score_min", np.asarray([params.confidence_threshold], np.float32))], "selected")
    kept_scores = b.one("GatherND", [per_class, chosen], "kept_scores")  # [K]
    box_index = b.one("Reshape", [b.slice_last(chosen, 2, 3, "box_index_2d"), b.ints("flat", [-1])], "box_index")
    kept_boxes = b.one("Gather", [b.one("Reshape", [corners, b.ints("rows4", [-1, 4])], "boxes_2d"), box_index], "kept_boxes", axis=0)
    kept_ids = b.one("Cast", [b.slice_last(chosen, 1, 2, "class_index")], "kept_ids", to=TensorProto.FLOAT)
    # N rows of -1 after the K kept: TopK(N) then always has N rows, the padding sorting last (scores are >= 0)
    pad = np.float32(PAD_VALUE)
    all_scores = b.one("Concat", [kept_scores, b.const("pad_scores", np.full(n, pad))], "all_scores", axis=0)
    all_ids = b.one("Concat", [kept_ids, b.const("pad_ids", np.full((n, 1), pad))], "all_ids", axis=0)
    all_boxes = b.one("Concat", [kept_boxes, b.const("pad_boxes", np.full((n, 4), pad))], "all_boxes", axis=0)
    best, order = b.node("TopK", [all_scores, b.ints("n", [n])], "top", outputs=2, axis=0, largest=1, sorted=1)
    ids = b.one("Gather", [all_ids, order], "top_ids", axis=0)
    boxes = b.one("Gather", [all_boxes, order], "top_boxes", axis=0)
    return (b.one("Reshape", [ids, b.ints("shape_ids", [1, n, 1])], OUTPUT_NAMES[0]),
            b.one("Reshape", [best, b.ints("shape_scores", [1, n, 1])], OUTPUT_NAMES[1]),
            b.one("Reshape", [boxes, b.ints("shape_boxes", [1, n, 4])], OUTPUT_NAMES[2]))


__all__ = ["MIN_OPSET", "NODE_PREFIX", "OUTPUT_NAMES", "apply_nms", "family", "recognise_layout"]
