"""vampy.models.zoo_sr: the EDSR-like and face-SR-like graphs against a numpy forward pass, shapes, ranges, labels."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from vampy.errors import UsageError
from vampy.models.zoo import RANDOM_WEIGHTS_WARNING
from vampy.models.zoo_sr import DIV2K_RGB_MEAN, build_sr, build_sr_graph, edsr_spec, face_spec, write_sr


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": x})[0]


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(C,H,W) x (M,C,3,3) + bias, zero padding 1, float64."""
    _, height, width = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    out = np.zeros((w.shape[0], height, width)) + b[:, None, None]
    for dy in range(3):
        for dx in range(3):
            out += np.einsum("mc,chw->mhw", w[:, :, dy, dx], padded[:, dy:dy + height, dx:dx + width])
    return out


def _pixel_shuffle(x: np.ndarray, r: int) -> np.ndarray:
    """PyTorch's pixel_shuffle: out[c, h*r+i, w*r+j] = in[c*r*r + i*r + j, h, w]."""
    c, height, width = x.shape
    out = np.zeros((c // (r * r), height * r, width * r))
    for k in range(c):
        channel, i, j = k // (r * r), (k % (r * r)) // r, k % r
        out[channel, i::r, j::r] = x[k]
    return out


def _reference(model: onnx.ModelProto, x: np.ndarray, blocks: int, ups: int, mean_shift: bool, tanh: bool) -> np.ndarray:
    """The forward pass as the module doc describes it, from the model's own weights."""
    p = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in model.graph.initializer}

    def conv(h: np.ndarray, name: str) -> np.ndarray:
        return _conv(h, p[f"{name}.weight"], p[f"{name}.bias"])

    mean = np.asarray(DIV2K_RGB_MEAN)[:, None, None] * 255.0
    h = x.astype(np.float64) - mean if mean_shift else x.astype(np.float64)
    head = conv(h, "head")
    h = head
    for k in range(blocks):
        h = h + conv(np.maximum(conv(h, f"body.{k}.conv1"), 0.0), f"body.{k}.conv2")
    h = head + conv(h, "body.tail")
    for k in range(ups):
        h = _pixel_shuffle(conv(h, f"upsample.{k}.conv"), 2)
    y = conv(h, "tail" if mean_shift or tanh else "output")
    return y + mean if mean_shift else np.tanh(y) if tanh else y


@pytest.mark.parametrize("scale", [2, 4])
def test_edsr_matches_numpy_reference(scale: int) -> None:
    spec = edsr_spec(scale)
    model = build_sr_graph(spec, seed=5)
    x = np.random.default_rng(1).uniform(0, 255, (1, 3, 6, 7)).astype(np.float32)
    out = _run(model, x)
    assert out.shape == (1, 3, 6 * scale, 7 * scale)
    ref = _reference(model, x[0], spec.blocks, scale // 2, mean_shift=True, tanh=False)
    np.testing.assert_allclose(out[0], ref, rtol=1e-4, atol=1e-2)
    assert [n.attribute[1].s for n in model.graph.node if n.op_type == "DepthToSpace"] == [b"CRD"] * (scale // 2)


@pytest.mark.parametrize("scale", [1, 8])
def test_face_matches_numpy_reference_and_is_in_tanh_range(scale: int) -> None:
    spec = face_spec(scale)
    model = build_sr_graph(spec, seed=2)
    x = np.random.default_rng(3).uniform(-1, 1, (1, 3, 5, 4)).astype(np.float32)
    out = _run(model, x)
    assert out.shape == (1, 3, 5 * scale, 4 * scale) and np.abs(out).max() < 1.0
    ups = {1: 0, 8: 3}[scale]
    np.testing.assert_allclose(out[0], _reference(model, x[0], spec.blocks, ups, mean_shift=False, tanh=True), atol=1e-5)


def test_dynamic_batch_and_size() -> None:
    model = build_sr_graph(edsr_spec(2), seed=0)
    assert _run(model, np.zeros((2, 3, 9, 13), np.float32)).shape == (2, 3, 18, 26)
    dims = [d.dim_param for d in model.graph.output[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "", "2*height", "2*width"]


def test_seed_decides_the_weights() -> None:
    a, b, c = (build_sr_graph(face_spec(8), seed) for seed in (0, 0, 1))
    assert a.SerializeToString() == b.SerializeToString() != c.SerializeToString()


@pytest.mark.parametrize(("builder", "scale", "message"), [(edsr_spec, 3, "give 2 or 4"), (face_spec, 4, "give 8 or 1")])
def test_bad_scale_is_usage_error(builder: object, scale: int, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        builder(scale)  # type: ignore[operator]


def test_files_are_labelled_random(tmp_path: Path) -> None:
    result = write_sr(tmp_path / "m", edsr_spec(4), seed=7)
    meta = json.loads(result.metadata_path.read_text())
    assert meta["accuracy_meaningful"] is False and meta["warning"] == RANDOM_WEIGHTS_WARNING and meta["seed"] == 7
    assert meta["model"] == "edsr" and meta["scale"] == 4 and meta["output"]["shape"] == ["batch", 3, "4*height", "4*width"]
    props = {p.key: p.value for p in onnx.load(str(result.model_path)).metadata_props}
    assert props["accuracy_meaningful"] == "false" and props["weights"] == "random"
    _, again = build_sr(edsr_spec(4), seed=7)
    assert again["params"] == meta["params"] > 0 and meta["macs_input_shape"] == [1, 3, 128, 128]


@pytest.mark.parametrize(("name", "hw", "norm"), [("edsr-x2", 256, "EQUAL"), ("edsr-x4", 128, "EQUAL"),
                                                  ("face-sr-x8", 16, "DIV255_MINUSMEAN_DIVSTD"),
                                                  ("face-sr-x1", 512, "DIV255_MINUSMEAN_DIVSTD")])
def test_shipped_vdsp_files_follow_the_family(name: str, hw: int, norm: str) -> None:
    from vampy.formats.vdsp import load_vdsp

    path = Path(__file__).resolve().parents[2] / "vdsp_params" / f"{name}-vdsp_params.json"
    raw = json.loads(path.read_text())
    assert raw["OpType"] == "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR" and raw["OpConfig"]["NormaType"] == norm
    assert raw["OpConfig"]["IimageFormat"] == "RGB_PLANAR" and raw["OpConfig"]["ResizeType"] == "BILINEAR_CV"
    spec = load_vdsp(str(path))
    assert spec.output_hw == (hw, hw)
