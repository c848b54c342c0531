"""graph.extra_ops that vampy applies to the source model: `softmax` appended to every output.

The vendor appends a Softmax to classifiers on its device; on ONNX Runtime it becomes a Softmax
node after each graph output. The output keeps its name (the logits get `<name>/logits`), so a
datalist's outputs and `vampy eval` see the same names as before. `yolov5_nms` appends the head decode
and NonMaxSuppression (compiler/nms_ops.py); the other `*_nms` and `insert_odma` are not applied (the
YAML reader notes that).
"""
from __future__ import annotations

import onnx
from onnx import helper

from vampy.compiler.nms_ops import apply_nms
from vampy.config import CompileConfig, ExtraOp
from vampy.errors import ModelError

LOGITS_SUFFIX = "/logits"


def apply_extra_ops(model: onnx.ModelProto, cfg: CompileConfig) -> list[str]:
    """Append cfg.extra_ops to the model in place; returns one note per op applied."""
    notes = []
    for op in cfg.extra_ops:
        if op.nms is not None:
            notes.append(apply_nms(model, op, cfg.source))
            continue
        names = append_softmax(model, op, cfg.source)
        notes.append(f"graph.extra_ops softmax (axis {op.axis}) appended to output(s) {', '.join(names)}")
    return notes


def append_softmax(model: onnx.ModelProto, op: ExtraOp, source: str) -> list[str]:
    """Each graph output `y` becomes Softmax(`y/logits`, axis); returns the outputs changed."""
    graph = model.graph
    produced = {name for node in graph.node for name in node.output}
    changed: list[str] = []
    for output in graph.output:
        name = output.name
        if name not in produced:
            raise ModelError(f"{source}: graph.extra_ops softmax: the output {name!r} is a graph input or a constant, not computed")
        rank = len(output.type.tensor_type.shape.dim)
        if rank and not -rank <= op.axis < rank:
            raise ModelError(f"{source}: graph.extra_ops softmax: axis {op.axis} but the output {name!r} has {rank} dimension(s)")
        _check_opset(model, op.axis, rank, source)
        logits = _unique(f"{name}{LOGITS_SUFFIX}", produced)
        for node in graph.node:
            node.output[:] = [logits if o == name else o for o in node.output]
            node.input[:] = [logits if i == name else i for i in node.input]
        graph.node.append(helper.make_node("Softmax", [logits], [name], name=f"extra_softmax_{len(changed)}", axis=op.axis))
        produced.add(logits)
        changed.append(name)
    return changed


def _unique(name: str, taken: set[str]) -> str:
    candidate, k = name, 1
    while candidate in taken:
        candidate, k = f"{name}_{k}", k + 1
    return candidate


def _check_opset(model: onnx.ModelProto, axis: int, rank: int, source: str) -> None:
    """Softmax before opset 13 flattens the dims from `axis` on: the same as over one axis only for the last."""
    last = axis == -1 or (rank and axis == rank - 1)
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx") and opset.version < 13 and not last:
            raise ModelError(
                f"{source}: graph.extra_ops softmax over axis {axis} needs ONNX opset 13 or newer (the model has {opset.version}); "
                "re-export with a newer opset or use the last axis"
            )


__all__ = ["LOGITS_SUFFIX", "append_softmax", "apply_extra_ops"]
