"""Small seeded super-resolution models and their vdsp files, for the infer --preset tests and docs/infer.md's run."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from tests.models import make_model, save


def resize_vdsp(path: Path, hw: tuple[int, int], norm: str, mean: float = 0.0, std: float = 1.0) -> Path:
    """A resize vdsp file to hw (height, width) with this normalisation and mean/std, pitches included."""
    config = {
        "IimageFormat": "RGB_PLANAR", "IimageWidth": hw[1], "IimageHeight": hw[0], "OimageWidth": hw[1], "OimageHeight": hw[0],
        "IimageWidthPitch": hw[1], "IimageHeightPitch": hw[0], "Mean": [mean] * 3, "Std": [std] * 3,
        "NormaType": norm, "ColorCvtCode": "NO_CHANGE", "ResizeType": "BILINEAR_CV",
    }
    path.write_text(json.dumps({"OpType": "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR", "OpConfig": config}))
    return path



def upsample_model(path: Path, in_ch: int, out_ch: int, scale: int, seed: int) -> Path:
    """A plain SR net: conv 3x3 (in_ch -> out_ch*scale^2) + PixelShuffle(scale) (DepthToSpace CRD), dynamic N/H/W.

    Seeded weights near "each output pixel = the mean of the input channels' centre pixel" (out_ch 1:
    ECBSR's Y from the Y,Y,Y stack; out_ch = in_ch: each channel nearest-upsampled), plus noise, so
    the scores are real numbers of a real computation, neither inf nor noise."""
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((out_ch * scale * scale, in_ch, 3, 3)) * 0.02
    for c in range(out_ch):
        sources = range(in_ch) if out_ch == 1 else [c]
        for k in range(scale * scale):
            for source in sources:
                weight[c * scale * scale + k, source, 1, 1] += 1.0 / len(sources)
    nodes = [
        helper.make_node("Conv", ["input", "w", "b"], ["features"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("DepthToSpace", ["features"], ["output"], blocksize=scale, mode="CRD"),
    ]
    graph = helper.make_graph(
        nodes, "plain_sr",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["batch", in_ch, "height", "width"])],
        [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, ["batch", out_ch, "out_height", "out_width"])],
        initializer=[numpy_helper.from_array(weight.astype(np.float32), "w"),
                     numpy_helper.from_array((rng.standard_normal(out_ch * scale * scale) * 0.01).astype(np.float32), "b")],
    )
    return save(make_model(graph), path)
