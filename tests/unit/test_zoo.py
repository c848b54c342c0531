"""vampy.models.zoo: the VDSR graph, its weights (file or seed), metadata and files."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from vampy import __version__
from vampy.data.imaging import to_y
from vampy.errors import InputError, OutputError, UsageError
from vampy.models.zoo import (
    RANDOM_WEIGHTS_WARNING,
    Stem,
    bt601_y_stem,
    build_vdsr,
    conv_stack_model,
    load_vdsr_weights,
    random_vdsr_weights,
    vdsr_layers,
    write_vdsr,
)

VDSR_PARAMS = 64 * 9 + 18 * 64 * 64 * 9 + 64 * 9
VDSR_SHA256 = "7942c7164bf31073fb5d888d61e32491bfc64382278be1e9872553d44444cda2"


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": x})[0]


def _conv3x3_same(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Reference convolution (C,H,W) x (M,C,3,3) -> (M,H,W), zero padding 1, float64."""
    _, height, width = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    out = np.zeros((weight.shape[0], height, width))
    for dy in range(3):
        for dx in range(3):
            out += np.einsum("mc,chw->mhw", weight[:, :, dy, dx], padded[:, dy:dy + height, dx:dx + width])
    return out


def _vdsr_reference(x: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    """The forward pass exactly as shared/data/README.md writes it, for one (1,H,W) image."""
    h = x.astype(np.float64)
    for weight in weights[:-1]:
        h = np.maximum(_conv3x3_same(h, weight.astype(np.float64)), 0.0)
    return _conv3x3_same(h, weights[-1].astype(np.float64)) + x


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)
    return path


def _good_arrays() -> dict[str, np.ndarray]:
    return {key: w for (key, _), w in zip(vdsr_layers(), random_vdsr_weights(1))}


# --- graph ---


def test_fixed_graph_shape_names_and_check() -> None:
    model, meta = build_vdsr(None)
    onnx.checker.check_model(model, full_check=True)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 1, 256, 256]
    assert [n.op_type for n in model.graph.node].count("Conv") == 20
    assert [n.op_type for n in model.graph.node].count("Relu") == 19
    assert model.graph.node[-1].op_type == "Add"
    assert all(node.name for node in model.graph.node)
    assert len({node.name for node in model.graph.node}) == len(model.graph.node)
    assert model.opset_import[0].version == meta["opset"] == 17
    assert (model.graph.input[0].name, model.graph.output[0].name) == ("input", "output")


def test_conv_layers_are_3x3_pad_1() -> None:
    model, _ = build_vdsr(None)
    for node in model.graph.node:
        if node.op_type == "Conv":
            attrs = {a.name: list(a.ints) for a in node.attribute}
            assert attrs["kernel_shape"] == [3, 3] and attrs["pads"] == [1, 1, 1, 1] and attrs["strides"] == [1, 1]


def test_dynamic_graph_runs_small_input_and_stays_finite() -> None:
    model, meta = build_vdsr(None, seed=3, dynamic=True)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ["batch", "", "height", "width"]
    x = np.random.default_rng(0).random((2, 1, 32, 24), dtype=np.float32)
    y = _run(model, x)
    assert y.shape == x.shape
    assert np.all(np.isfinite(y))
    # A random residual on a [0, 1] image stays in a sane range, not exploding through 20 layers.
    assert float(np.abs(y - x).max()) < 2.0
    assert meta["dynamic"] is True and meta["input"]["shape"] == ["batch", 1, "height", "width"]


def test_fixed_graph_runs_256() -> None:
    model, _ = build_vdsr(None)
    y = _run(model, np.full((1, 1, 256, 256), 0.5, np.float32))
    assert y.shape == (1, 1, 256, 256) and np.all(np.isfinite(y))


def test_random_weights_are_seeded() -> None:
    a, b, c = random_vdsr_weights(7), random_vdsr_weights(7), random_vdsr_weights(8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    assert [w.shape for w in a] == [shape for _, shape in vdsr_layers()]


def test_random_metadata_says_so_loudly() -> None:
    model, meta = build_vdsr(None, seed=5)
    assert meta["weights"] == "random" and meta["seed"] == 5
    assert meta["accuracy_meaningful"] is False
    assert meta["warning"] == RANDOM_WEIGHTS_WARNING
    assert "meaningless" in meta["warning"]
    props = {p.key: p.value for p in model.metadata_props}
    assert props["weights"] == "random" and props["accuracy_meaningful"] == "false"


def test_metadata_fields() -> None:
    _, meta = build_vdsr(None)
    assert meta["model"] == "vdsr"
    assert meta["input"] == {"name": "input", "shape": [1, 1, 256, 256], "dtype": "float32", "layout": "NCHW"}
    assert meta["vampy_version"] == __version__
    assert meta["onnx_version"] == onnx.__version__ and meta["onnxruntime_version"] == ort.__version__
    assert meta["params"] == VDSR_PARAMS == 664_704
    assert meta["macs"] == VDSR_PARAMS * 256 * 256
    json.dumps(meta)  # must be JSON as it stands


def test_conv_stack_model_is_generic() -> None:
    weights = [np.ones((2, 3, 1, 1), np.float32), np.ones((4, 2, 5, 5), np.float32)]
    model = conv_stack_model(weights, ["n", 3, 9, 9], residual=False, graph_name="g")
    y = _run(model, np.ones((1, 3, 9, 9), np.float32))
    assert y.shape == (1, 4, 9, 9)
    assert y[0, 0, 4, 4] == pytest.approx(2 * 3 * 25)  # relu(3) per channel, 2 channels, 5x5 window


# --- RGB input: a 1x1 Conv makes MATLAB's BT.601 Y in float, then VDSR ---


def _bt601_y_unit(rgb_unit: np.ndarray) -> np.ndarray:
    """MATLAB rgb2ycbcr's Y / 255 in float64 for (3, H, W) RGB in [0, 1]."""
    r, g, b = rgb_unit.astype(np.float64)
    return (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def _stem_only(stem: Stem, height: int, width: int) -> onnx.ModelProto:
    identity = [np.zeros((1, 1, 1, 1), np.float32)]  # residual + zero conv: the stem's output itself
    return conv_stack_model(identity, [1, 3, height, width], residual=True, graph_name="stem", stem=stem)


def test_bt601_stem_gives_to_y_before_its_rounding() -> None:
    rgb_u8 = np.random.default_rng(4).integers(0, 256, (3, 17, 13), dtype=np.uint8)
    y_unit = _run(_stem_only(bt601_y_stem(), 17, 13), (rgb_u8 / 255.0).astype(np.float32)[None])[0, 0]
    np.testing.assert_allclose(y_unit, _bt601_y_unit(rgb_u8 / 255.0), atol=1e-6)
    # The same value image2npz's bt601 Y holds, before that is rounded to uint8.
    y_u8 = to_y(np.ascontiguousarray(rgb_u8[::-1].transpose(1, 2, 0)), "bt601")
    assert float(np.abs(y_unit * 255.0 - y_u8).max()) <= 0.5 + 1e-4
    assert float(np.abs(y_unit * 255.0 - y_u8).max()) > 0.01  # float, not rounded


def test_bt601_stem_extremes() -> None:
    corners = np.array([[[0.0]], [[0.0]], [[0.0]]], np.float32), np.ones((3, 1, 1), np.float32)
    black, white = (_run(_stem_only(bt601_y_stem(), 1, 1), c[None])[0, 0, 0, 0] * 255.0 for c in corners)
    assert black == pytest.approx(16.0, abs=1e-4) and white == pytest.approx(235.0, abs=1e-4)


def test_rgb_bt601_graph_shapes_names_and_metadata() -> None:
    model, meta = build_vdsr(None, input_kind="rgb-bt601")
    onnx.checker.check_model(model, full_check=True)
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, 3, 256, 256]
    assert [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim] == [1, 1, 256, 256]
    first = model.graph.node[0]
    assert (first.op_type, first.name, list(first.input)) == ("Conv", "rgb_to_y", ["input", "rgb_to_y.weight", "rgb_to_y.bias"])
    assert {a.name: list(a.ints) for a in first.attribute}["kernel_shape"] == [1, 1]
    assert list(model.graph.node[-1].input)[1] == first.output[0]  # the residual adds the float Y
    assert all(node.name for node in model.graph.node)
    assert len({node.name for node in model.graph.node}) == len(model.graph.node) == 41
    assert meta["input_kind"] == "rgb-bt601" and "rgb2ycbcr" in meta["architecture"]
    assert meta["input"]["shape"] == [1, 3, 256, 256] and meta["output"]["shape"] == [1, 1, 256, 256]
    assert meta["params"] == VDSR_PARAMS + 4 and meta["macs"] == (VDSR_PARAMS + 3) * 256 * 256
    assert meta["macs_input_shape"] == [1, 3, 256, 256]
    assert {p.key: p.value for p in model.metadata_props}["input_kind"] == "rgb-bt601"


def test_rgb_bt601_dynamic_matches_stem_then_reference_vdsr(tmp_path: Path) -> None:
    arrays = _good_arrays()
    model, meta = build_vdsr(_save_npz(tmp_path / "w.npz", arrays), dynamic=True, input_kind="rgb-bt601")
    assert meta["input"]["shape"] == ["batch", 3, "height", "width"]
    assert meta["output"]["shape"] == ["batch", 1, "height", "width"]
    rgb_unit = np.random.default_rng(5).random((2, 3, 9, 7), dtype=np.float32)
    got = _run(model, rgb_unit)
    assert got.shape == (2, 1, 9, 7)
    for n in range(2):
        y = _bt601_y_unit(rgb_unit[n])[None]
        np.testing.assert_allclose(got[n], _vdsr_reference(y, list(arrays.values())), atol=1e-4)


def test_y_input_is_the_default_and_recorded() -> None:
    model, meta = build_vdsr(None)
    assert meta["input_kind"] == "y" and model.graph.node[0].name == "conv00"


def test_unknown_input_kind_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"--input 'rgb'.*y, rgb-bt601"):
        build_vdsr(None, input_kind="rgb")


def test_stem_must_be_1x1_with_bias() -> None:
    bad = Stem(np.ones((1, 3, 3, 3), np.float32), np.zeros(1, np.float32))
    with pytest.raises(ValueError, match="1x1 Conv with bias"):
        conv_stack_model([np.ones((1, 1, 3, 3), np.float32)], [1, 3, 8, 8], residual=True, graph_name="g", stem=bad)


# --- weights from a file ---


def test_weights_file_matches_reference_forward(tmp_path: Path) -> None:
    arrays = _good_arrays()
    path = _save_npz(tmp_path / "w.npz", arrays)
    model, meta = build_vdsr(path, dynamic=True)
    x = np.random.default_rng(2).random((1, 1, 10, 11), dtype=np.float32)
    expected = _vdsr_reference(x[0], list(arrays.values()))
    np.testing.assert_allclose(_run(model, x)[0], expected, atol=1e-4)
    assert meta["weights"] == "file" and meta["accuracy_meaningful"] is True and "warning" not in meta
    assert len(meta["weights_sha256"]) == 64 and meta["weights_path"] == str(path)


@pytest.mark.shared_data
def test_real_weights_match_reference_forward(shared_data: Path) -> None:
    path = shared_data / "vdsr" / "vdsr_x234_weights.npz"
    weights, digest = load_vdsr_weights(path)
    assert digest == VDSR_SHA256
    model, meta = build_vdsr(path, dynamic=True)
    # A smooth 12x12 patch, like a crop of a bicubic-upscaled image.
    yy, xx = np.mgrid[0:12, 0:12]
    x = (0.5 + 0.3 * np.sin(yy / 3.0) * np.cos(xx / 4.0)).astype(np.float32)[None, None]
    np.testing.assert_allclose(_run(model, x)[0], _vdsr_reference(x[0], weights), atol=1e-4)
    assert meta["weights_sha256"] == VDSR_SHA256 and meta["params"] == 664_704


def test_float64_weights_are_accepted_as_float32(tmp_path: Path) -> None:
    arrays = {k: v.astype(np.float64) for k, v in _good_arrays().items()}
    weights, _ = load_vdsr_weights(_save_npz(tmp_path / "w.npz", arrays))
    assert all(w.dtype == np.float32 for w in weights)


def test_missing_key(tmp_path: Path) -> None:
    arrays = _good_arrays()
    del arrays["residual_layer.7.conv.weight"]
    with pytest.raises(InputError, match=r"missing key 'residual_layer\.7\.conv\.weight'"):
        load_vdsr_weights(_save_npz(tmp_path / "w.npz", arrays))


def test_extra_key(tmp_path: Path) -> None:
    arrays = {**_good_arrays(), "input.bias": np.zeros(64, np.float32)}
    with pytest.raises(InputError, match="unexpected key 'input.bias'"):
        load_vdsr_weights(_save_npz(tmp_path / "w.npz", arrays))


def test_wrong_shape(tmp_path: Path) -> None:
    arrays = {**_good_arrays(), "output.weight": np.zeros((1, 64, 5, 5), np.float32)}
    with pytest.raises(InputError, match=r"'output\.weight' has shape \(1, 64, 5, 5\), expected \(1, 64, 3, 3\)"):
        load_vdsr_weights(_save_npz(tmp_path / "w.npz", arrays))


def test_integer_weights(tmp_path: Path) -> None:
    arrays = {**_good_arrays(), "input.weight": np.zeros((64, 1, 3, 3), np.int32)}
    with pytest.raises(InputError, match="'input.weight' has dtype int32"):
        load_vdsr_weights(_save_npz(tmp_path / "w.npz", arrays))


def test_non_finite_weights(tmp_path: Path) -> None:
    arrays = _good_arrays()
    arrays["input.weight"][0, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match="'input.weight' holds NaN"):
        load_vdsr_weights(_save_npz(tmp_path / "w.npz", arrays))


def test_pickled_object_array_in_npz(tmp_path: Path) -> None:
    arrays = {**_good_arrays(), "input.weight": np.array([{"evil": 1}], dtype=object)}
    with pytest.raises(InputError, match="pickled"):
        load_vdsr_weights(_save_npz(tmp_path / "w.npz", arrays))


def test_plain_pickle_file(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    path.write_bytes(pickle.dumps(_good_arrays()))
    with pytest.raises(InputError, match="pickle"):
        load_vdsr_weights(path)


def test_npy_not_npz(tmp_path: Path) -> None:
    path = tmp_path / "w.npy"
    np.save(path, np.zeros(3, np.float32))
    with pytest.raises(InputError, match="single .npy array"):
        load_vdsr_weights(path)


@pytest.mark.parametrize("payload", [b"", b"hello, not an archive", b"PK\x03\x04truncated"])
def test_not_an_npz(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "w.npz"
    path.write_bytes(payload)
    with pytest.raises(InputError, match=r"not an \.npz archive|damaged \.npz"):
        load_vdsr_weights(path)


def test_weights_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        build_vdsr(tmp_path / "absent.npz")


# --- files ---


def test_write_vdsr_creates_folder_and_files(tmp_path: Path) -> None:
    out_dir = tmp_path / "deploy" / "vdsr"
    result = write_vdsr(out_dir, weights=None, seed=2, dynamic=False)
    assert result.model_path == out_dir / "mod.onnx" and result.metadata_path == out_dir / "mod.json"
    assert sorted(p.name for p in out_dir.iterdir()) == ["mod.json", "mod.onnx"]
    onnx.checker.check_model(onnx.load(str(result.model_path)), full_check=True)
    assert json.loads(result.metadata_path.read_text()) == result.metadata
    assert result.metadata["seed"] == 2


def test_write_vdsr_rgb_input(tmp_path: Path) -> None:
    result = write_vdsr(tmp_path, weights=None, seed=0, dynamic=True, input_kind="rgb-bt601")
    model = onnx.load(str(result.model_path))
    assert model.graph.input[0].type.tensor_type.shape.dim[1].dim_value == 3
    assert json.loads(result.metadata_path.read_text())["input_kind"] == "rgb-bt601"


def test_write_vdsr_replaces_symlink_instead_of_following_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "mod.onnx").symlink_to(outside)
    write_vdsr(out_dir, weights=None, seed=0, dynamic=True)
    assert outside.read_text() == "keep me"
    assert not (out_dir / "mod.onnx").is_symlink()


def test_write_vdsr_output_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        write_vdsr(blocker, weights=None, seed=0, dynamic=False)
    with pytest.raises(OutputError, match="cannot create"):
        write_vdsr(blocker / "sub", weights=None, seed=0, dynamic=False)


def test_write_vdsr_target_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "mod.onnx").mkdir()
    with pytest.raises(OutputError, match="cannot write mod.onnx"):
        write_vdsr(tmp_path, weights=None, seed=0, dynamic=False)
    assert [p.name for p in tmp_path.iterdir()] == ["mod.onnx"]  # no temporary file left behind
