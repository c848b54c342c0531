"""What the NMS extra ops (compiler/nms_ops.py, nms_anchor_free.py) share: the recognised head layout,
the model's static shapes, and a builder that appends ONNX nodes under one name prefix."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

NODE_PREFIX = "extra_nms/"  # every node and tensor the NMS extra ops add (kept in float by int8 builds)


@dataclass(frozen=True)
class HeadLayout:
    """The graph outputs a decode reads: `kind` names the decode, `text` is the compile report's words."""

    kind: str  # "v5_raw" | "v5_decoded" | "v8_raw" | "v8_decoded" | "yolox_raw" | "yolox_flat"
    outputs: tuple[str, ...]  # the graph outputs read, in stride order (yolox_raw: cls, reg, obj per stride)
    shapes: tuple[tuple[int, ...], ...]
    num_classes: int
    text: str
    anchors_per_stride: int = 0  # v5_raw
    reg_max: int = 0  # v8_raw: DFL bins per side (1: plain distances)
    grids: tuple[tuple[int, ...], ...] = ()  # yolox: (H, W) of each stride's grid, finest first


def output_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """Static output shapes after shape inference (a dim that is not a positive number makes the shape ())."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - inference is a help: the shapes as written are used instead
        inferred = model
    shapes: dict[str, tuple[int, ...]] = {}
    for output in inferred.graph.output:
        dims = tuple(d.dim_value if d.HasField("dim_value") else 0 for d in output.type.tensor_type.shape.dim)
        shapes[output.name] = dims if dims and all(d > 0 for d in dims) else ()
    return shapes


def input_hw(model: onnx.ModelProto) -> tuple[int, int] | None:
    """H, W of the one 4-D image input when static (the grids must tile it), else None."""
    initializers = {t.name for t in model.graph.initializer}
    images = [v for v in model.graph.input if v.name not in initializers and len(v.type.tensor_type.shape.dim) == 4]
    if len(images) != 1:
        return None
    dims = [d.dim_value for d in images[0].type.tensor_type.shape.dim]
    return (dims[2], dims[3]) if dims[2] > 0 and dims[3] > 0 else None


def grid_cells(hw: tuple[int, int] | None, strides: tuple[int, ...]) -> int | None:
    """How many grid cells all strides give on an input of hw: an anchor-free model's box count."""
    if hw is None or any(hw[0] % s or hw[1] % s for s in strides):
        return None
    return sum((hw[0] // s) * (hw[1] // s) for s in strides)


def shapes_text(outputs: tuple[str, ...], shapes: tuple[tuple[int, ...], ...]) -> str:
    return ", ".join(f"{name} {list(shape)}" for name, shape in zip(outputs, shapes))


def grid_points(h: int, w: int, offset: float) -> np.ndarray:
    """[h*w, 2] of (x, y) cell indices + offset, rows in the heads' row-major (y, x) order."""
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return np.stack([grid_x, grid_y], axis=-1).reshape(h * w, 2) + np.float32(offset)


class Builder:
    """Adds nodes and constants with names under NODE_PREFIX that no tensor of the graph already has."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.graph = graph
        self.taken = {n for node in graph.node for n in (*node.input, *node.output, node.name)}
        self.taken |= {t.name for t in graph.initializer} | {v.name for v in graph.input}

    def name(self, stem: str) -> str:
        candidate, k = f"{NODE_PREFIX}{stem}", 1
        while candidate in self.taken:
            candidate, k = f"{NODE_PREFIX}{stem}_{k}", k + 1
        self.taken.add(candidate)
        return candidate

    def const(self, stem: str, value: np.ndarray) -> str:
        name = self.name(stem)
        self.graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def ints(self, stem: str, values: list[int]) -> str:
        return self.const(stem, np.asarray(values, dtype=np.int64))

    def floats(self, stem: str, value: float) -> str:
        return self.const(stem, np.asarray(value, dtype=np.float32))

    def node(self, op: str, inputs: list[str], stem: str, outputs: int = 1, **attrs: Any) -> list[str]:
        names = [self.name(f"{stem}_{k}" if outputs > 1 else stem) for k in range(outputs)]
        self.graph.node.append(helper.make_node(op, inputs, names, name=self.name(f"{stem}_node"), **attrs))
        return names

    def one(self, op: str, inputs: list[str], stem: str, **attrs: Any) -> str:
        return self.node(op, inputs, stem, **attrs)[0]

    def slice_last(self, x: str, start: int, end: int, stem: str) -> str:
        return self.one("Slice", [x, self.ints(f"{stem}_start", [start]), self.ints(f"{stem}_end", [end]),
                                  self.ints(f"{stem}_axis", [-1])], stem)

    def rows(self, head: str, channels: int, stem: str) -> str:
        """[1, ch, H, W] -> [1, H*W, ch]: one row per grid cell."""
        flat = self.one("Reshape", [head, self.ints(f"{stem}_shape", [1, channels, -1])], f"{stem}_flat")
        return self.one("Transpose", [flat], f"{stem}_rows", perm=[0, 2, 1])

    def corners(self, centre: str, size: str, stem: str) -> str:
        """cx, cy and w, h [1, B, 2] each -> x1, y1, x2, y2 [1, B, 4]."""
        half = self.one("Mul", [size, self.floats(f"{stem}_half", 0.5)], f"{stem}_half_wh")
        return self.one("Concat", [self.one("Sub", [centre, half], f"{stem}_x1y1"), self.one("Add", [centre, half], f"{stem}_x2y2")],
                        f"{stem}_xyxy", axis=-1)


__all__ = ["NODE_PREFIX", "Builder", "HeadLayout", "grid_cells", "grid_points", "input_hw", "output_shapes", "shapes_text"]
