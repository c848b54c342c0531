"""What every compile step shares: the log of warnings and notes, and how a model input is described."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import onnx


@dataclass
class BuildLog:
    """Warnings and notes for mod.json and the CLI; the engine never prints."""

    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The inputs a caller feeds (initializers listed as inputs are not)."""
    initializers = {i.name for i in model.graph.initializer}
    return [v for v in model.graph.input if v.name not in initializers]


def dims(value: onnx.ValueInfoProto) -> list[int | str]:
    """Fixed dims as ints, symbolic ones by name ('?' when unnamed)."""
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in value.type.tensor_type.shape.dim]


def fmt_dims(shape: Sequence[int | str | None]) -> str:
    return "(" + ",".join("?" if d is None else str(d) for d in shape) + ")"
