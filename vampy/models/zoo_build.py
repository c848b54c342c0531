"""The small graph builder and mod.json writer the family zoo models share (zoo_yolo.py, zoo_families.py).

Every family model is built with onnx.helper from seeded random weights: its speed is real, its
accuracy meaningless, and both its mod.json and the model's own props say so (`accuracy_meaningful:
false`, `warning`), as for the SR models of zoo_sr.py.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from vampy import __version__
from vampy.models.zoo import IR_VERSION, OPSET, RANDOM_WEIGHTS_WARNING, ZooResult, counts_and_versions, write_model_files

Dims = Sequence[int | str]


@dataclass(frozen=True)
class Tensor:
    """A graph input or output as mod.json lists it."""

    name: str
    shape: Dims
    dtype: str  # float32 or int64
    layout: str  # what the axes are, e.g. NCHW or "batch, sequence, labels"
    meaning: str  # what the values are

    def info(self) -> onnx.ValueInfoProto:
        elem = TensorProto.INT64 if self.dtype == "int64" else TensorProto.FLOAT
        return helper.make_tensor_value_info(self.name, elem, list(self.shape))

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype, "layout": self.layout, "meaning": self.meaning}


class Net:
    """Nodes and initializers being collected; weights drawn from one seeded generator, in call order."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def conv(self, source: str, name: str, in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, gain: float = 1.0) -> str:
        """Same-padded Conv with a zero bias; He-normal weights (std sqrt(2/fan_in)) x gain, so ReLU stacks keep their scale."""
        fan_in = in_ch * kernel * kernel
        weight = self.rng.standard_normal((out_ch, in_ch, kernel, kernel)) * np.sqrt(2.0 / fan_in) * gain
        self.const(f"{name}.weight", weight)
        self.const(f"{name}.bias", np.zeros(out_ch))
        pad = kernel // 2
        return self.op("Conv", [source, f"{name}.weight", f"{name}.bias"], name, kernel_shape=[kernel, kernel],
                       pads=[pad] * 4, strides=[stride, stride])

    def matmul(self, source: str, name: str, in_features: int, out_features: int, gain: float = 1.0) -> str:
        """x @ W + b over the last axis (Xavier-normal W x gain, zero b), as a Linear layer exports."""
        weight = self.rng.standard_normal((in_features, out_features)) * np.sqrt(2.0 / (in_features + out_features)) * gain
        product = self.op("MatMul", [source, self.const(f"{name}.weight", weight)], f"{name}.matmul")
        return self.op("Add", [product, self.const(f"{name}.bias", np.zeros(out_features))], name)

    def op(self, op_type: str, inputs: list[str], name: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [name], name=name, **attrs))
        return name

    def const(self, name: str, values: np.ndarray) -> str:
        """An initializer: float arrays stored as float32, integer ones as int64 (shapes, axes)."""
        array = np.asarray(values)
        array = array.astype(np.int64) if np.issubdtype(array.dtype, np.integer) else array.astype(np.float32)
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def model(self, graph_name: str, inputs: Sequence[Tensor], outputs: Sequence[Tensor]) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, graph_name, [t.info() for t in inputs], [t.info() for t in outputs], initializer=self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
                                  producer_name="vampy", producer_version=__version__)
        onnx.checker.check_model(model, full_check=True)
        return model


@dataclass(frozen=True)
class FamilyModel:
    """A built family model and what its mod.json says beyond the common part."""

    model: onnx.ModelProto
    name: str  # the `vampy zoo` command
    family: str
    architecture: str
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    presets: tuple[str, ...]  # the `vampy eval --preset` names that score its outputs
    macs_shapes: Mapping[str, Sequence[int]]  # the input shapes MACs are counted at
    extra: Mapping[str, Any]  # family-specific keys (planted boxes, charset, ...)


def family_metadata(built: FamilyModel, seed: int) -> dict[str, Any]:
    """mod.json of a family model; the random-weights label also goes into the model's own props."""
    from vampy.models.graph import count_macs_params

    source = {"weights": "random", "seed": seed, "accuracy_meaningful": False, "warning": RANDOM_WEIGHTS_WARNING}
    helper.set_model_props(built.model, {k: v if isinstance(v, str) else json.dumps(v) for k, v in source.items()})
    macs, params = count_macs_params(built.model, built.macs_shapes)
    first_shape = next(iter(built.macs_shapes.values()))
    return {
        "model": built.name,
        "family": built.family,
        "architecture": built.architecture,
        "inputs": [t.as_json() for t in built.inputs],
        "outputs": [t.as_json() for t in built.outputs],
        "presets": list(built.presets),
        "dynamic": any(isinstance(d, str) for t in built.inputs for d in t.shape),
        **built.extra,
        **source,
        **counts_and_versions(macs, params, first_shape),
    }


def write_family(out_dir: Path, built: FamilyModel, seed: int) -> ZooResult:
    """out_dir/mod.onnx and out_dir/mod.json (created if needed); nothing else is touched."""
    return write_model_files(out_dir, built.model, family_metadata(built, seed))
