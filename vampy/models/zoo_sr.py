"""Reference RGB super-resolution models for the zoo presets: an EDSR-baseline-like x2/x4 and a face-SR-like model.

Both are built with onnx.helper from seeded random weights (no pretrained weights exist here), so
their speed is real and their accuracy is meaningless; mod.json says so (`accuracy_meaningful:
false`, `warning`). They exist so the RGB presets of `vampy eval` / `vampy infer`
(vampy/quality/presets.py) have models of the right shapes and value ranges to run on.

- edsr: EDSR official's convention (SR-ZOO.md, preset `edsr`, A4): input (N, 3, H, W) RGB in
  0..255 (vdsp NormaType EQUAL), EDSR's MeanShift (subtract the DIV2K RGB mean x255), a conv head,
  residual blocks (conv-ReLU-conv + skip), a body conv with the long skip, the upsampler (conv to
  4C + PixelShuffle(2), once for x2, twice for x4; ONNX DepthToSpace mode CRD, what PyTorch's
  PixelShuffle exports), a conv to 3 channels and the mean added back: (N, 3, sH, sW) in ~0..255.
- face-sr: the GPEN/PFSRNet convention (presets `gpen`, C1, and `pfsrnet`, C3): input (N, 3, H, W)
  = (RGB/255 - 0.5)/0.5 in -1..1 (vdsp DIV255_MINUSMEAN_DIVSTD, mean = std = 0.5), the same trunk
  with PixelShuffle stages for x8 (PFSRNet: 16x16 -> 128x128) or none for x1 (GPEN: 512 -> 512),
  and a Tanh: (N, 3, sH, sW) in -1..1.

Batch, height and width are dynamic (only convolutions, element-wise ops and DepthToSpace).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from vampy import __version__
from vampy.errors import UsageError
from vampy.models.zoo import (
    INPUT_NAME,
    IR_VERSION,
    OPSET,
    OUTPUT_NAME,
    RANDOM_WEIGHTS_WARNING,
    ZooResult,
    counts_and_versions,
    write_model_files,
)

EDSR_SCALES = (2, 4)
FACE_SCALES = (1, 8)
# EDSR's MeanShift: the DIV2K RGB mean (rgb_range 255), subtracted at the head and added at the tail.
DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)
PEAK_UINT8 = 255.0
# Random weights: a trained residual branch adds a small correction, so the second conv of each
# block and the last conv are shrunk; the output then stays near the input's range, not noise.
RESIDUAL_GAIN = 0.1
OUTPUT_GAIN = 0.1
# The shape MACs are counted at, and the vdsp files' size, per model (vdsp_params/*.json).
EDSR_MACS_HW = {2: (256, 256), 4: (128, 128)}
FACE_MACS_HW = {1: (512, 512), 8: (16, 16)}


@dataclass(frozen=True)
class SrSpec:
    """One model of the family: its trunk size, scale and output activation."""

    name: str  # edsr or face-sr
    scale: int
    channels: int
    blocks: int
    tanh: bool
    mean_shift: bool
    macs_hw: tuple[int, int]


def edsr_spec(scale: int) -> SrSpec:
    if scale not in EDSR_SCALES:
        raise UsageError(f"--scale {scale}: the EDSR-like model is x2 or x4 (EDSR baseline's upsamplers); give 2 or 4")
    return SrSpec("edsr", scale, channels=32, blocks=4, tanh=False, mean_shift=True, macs_hw=EDSR_MACS_HW[scale])


def face_spec(scale: int) -> SrSpec:
    if scale not in FACE_SCALES:
        raise UsageError(f"--scale {scale}: the face model is x8 (PFSRNet-like, 16->128) or x1 (GPEN-like, 512->512); give 8 or 1")
    return SrSpec("face-sr", scale, channels=16, blocks=3, tanh=True, mean_shift=False, macs_hw=FACE_MACS_HW[scale])


class _Graph:
    """Nodes and initializers being collected, with unique names."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def conv(self, source: str, name: str, in_ch: int, out_ch: int, gain: float = 1.0) -> str:
        """3x3 same-padded Conv with bias; He-normal weights (std sqrt(2/fan_in)) x gain, zero bias."""
        weight = self.rng.standard_normal((out_ch, in_ch, 3, 3)) * np.sqrt(2.0 / (in_ch * 9)) * gain
        self.inits += [numpy_helper.from_array(weight.astype(np.float32), f"{name}.weight"),
                       numpy_helper.from_array(np.zeros(out_ch, np.float32), f"{name}.bias")]
        self.nodes.append(helper.make_node("Conv", [source, f"{name}.weight", f"{name}.bias"], [name], name=name,
                                           kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]))
        return name

    def op(self, op_type: str, inputs: list[str], name: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [name], name=name, **attrs))
        return name

    def const(self, name: str, values: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(values.astype(np.float32), name))
        return name


def build_sr_graph(spec: SrSpec, seed: int) -> onnx.ModelProto:
    """The ONNX graph of `spec` with seeded random weights (see the module doc for the layers)."""
    g = _Graph(np.random.default_rng(seed))
    c = spec.channels
    x = INPUT_NAME
    if spec.mean_shift:
        mean = g.const("mean_rgb", np.asarray(DIV2K_RGB_MEAN).reshape(1, 3, 1, 1) * PEAK_UINT8)
        x = g.op("Sub", [x, mean], "sub_mean")
    head = g.conv(x, "head", 3, c)
    h = head
    for k in range(spec.blocks):
        r = g.op("Relu", [g.conv(h, f"body.{k}.conv1", c, c)], f"body.{k}.relu")
        h = g.op("Add", [h, g.conv(r, f"body.{k}.conv2", c, c, RESIDUAL_GAIN)], f"body.{k}.add")
    h = g.op("Add", [head, g.conv(h, "body.tail", c, c)], "long_skip")
    for k in range(int(np.log2(spec.scale))):
        h = g.op("DepthToSpace", [g.conv(h, f"upsample.{k}.conv", c, 4 * c)], f"upsample.{k}.shuffle", blocksize=2, mode="CRD")
    last = "tail" if spec.mean_shift or spec.tanh else OUTPUT_NAME
    y = g.conv(h, last, c, 3, OUTPUT_GAIN)
    if spec.mean_shift:
        g.op("Add", [y, mean], OUTPUT_NAME)
    elif spec.tanh:
        g.op("Tanh", [y], OUTPUT_NAME)
    s = spec.scale
    out_dims: list[int | str] = ["batch", 3, "height" if s == 1 else f"{s}*height", "width" if s == 1 else f"{s}*width"]
    graph = helper.make_graph(
        g.nodes, f"{spec.name}_x{s}",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, out_dims)],
        initializer=g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
                              producer_name="vampy", producer_version=__version__)
    onnx.checker.check_model(model, full_check=True)
    return model


_ARCHITECTURE = {
    "edsr": "EDSR-baseline-like (Lim et al. 2017): MeanShift (-DIV2K mean x255), conv 3x3 head, {blocks} residual blocks "
            "(conv-ReLU-conv + skip), body conv + long skip, {ups}conv 3x3 to 3 channels, +mean; {c} channels",
    "face-sr": "face-SR-like (GPEN/PFSRNet conventions): conv 3x3 head, {blocks} residual blocks (conv-ReLU-conv + skip), "
               "body conv + long skip, {ups}conv 3x3 to 3 channels, Tanh; {c} channels",
}
_IO = {
    "edsr": ("RGB 0..255 (vdsp NormaType EQUAL)", "RGB ~0..255, unclipped (preset edsr, A4)"),
    "face-sr": (
        "(RGB/255 - 0.5)/0.5 in -1..1 (vdsp DIV255_MINUSMEAN_DIVSTD, mean = std = 0.5)", "RGB in -1..1 (tanh; presets gpen / pfsrnet)"
    ),
}


def build_sr(spec: SrSpec, seed: int) -> tuple[onnx.ModelProto, dict[str, Any]]:
    """The graph and its mod.json metadata (random weights, labelled as such, also in the model's props)."""
    from vampy.models.graph import count_macs_params

    model = build_sr_graph(spec, seed)
    source = {"weights": "random", "seed": seed, "accuracy_meaningful": False, "warning": RANDOM_WEIGHTS_WARNING}
    helper.set_model_props(model, {k: v if isinstance(v, str) else json.dumps(v) for k, v in source.items()})
    macs_shape = (1, 3, *spec.macs_hw)
    macs, params = count_macs_params(model, {INPUT_NAME: macs_shape})
    ups = "".join("conv to 4C + PixelShuffle(2) (DepthToSpace CRD), " for _ in range(int(np.log2(spec.scale))))
    graph_output = model.graph.output[0].type.tensor_type.shape.dim
    input_range, output_range = _IO[spec.name]
    return model, {
        "model": spec.name,
        "scale": spec.scale,
        "architecture": _ARCHITECTURE[spec.name].format(blocks=spec.blocks, ups=ups, c=spec.channels),
        "input": {"name": INPUT_NAME, "shape": ["batch", 3, "height", "width"], "dtype": "float32", "layout": "NCHW", "range": input_range},
        "output": {"name": OUTPUT_NAME, "shape": [d.dim_param or d.dim_value for d in graph_output], "dtype": "float32",
                   "layout": "NCHW", "range": output_range},
        "dynamic": True,
        **source,
        **counts_and_versions(macs, params, macs_shape),
    }


def write_sr(out_dir: Path, spec: SrSpec, seed: int) -> ZooResult:
    """Write out_dir/mod.onnx and out_dir/mod.json (created if needed); nothing else is touched."""
    model, metadata = build_sr(spec, seed)
    return write_model_files(out_dir, model, metadata)
