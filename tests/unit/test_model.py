"""vampy.models: -m resolution, a model's signature (as the default engine describes it), count_macs_params."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from tests.models import (
    conv_model,
    corrupt_model,
    identity_like_model,
    make_model,
    save,
    slow_model,
    token_model,
    two_output_model,
)
from vampy.engines.base import get_engine
from vampy.errors import InputError, ModelError
from vampy.models.graph import count_macs_params
from vampy.models.info import FLOPS_PER_MAC, ModelInfo, TensorInfo
from vampy.models.resolve import resolve_model

# --- resolve_model ---


describe_model = get_engine().describe

def test_resolve_onnx_file(tmp_path: Path) -> None:
    path = conv_model(tmp_path / "net.onnx")
    assert resolve_model(str(path)) == path


def test_resolve_vamp_prefix(tmp_path: Path) -> None:
    path = conv_model(tmp_path / "deploy" / "mod.onnx")
    assert resolve_model(str(tmp_path / "deploy" / "mod")) == path


def test_resolve_vendor_suffix_means_prefix(tmp_path: Path) -> None:
    path = conv_model(tmp_path / "mod.onnx")
    assert resolve_model(str(tmp_path / "mod.so")) == path


def test_resolve_folder_with_mod_onnx(tmp_path: Path) -> None:
    conv_model(tmp_path / "other.onnx")
    path = conv_model(tmp_path / "mod.onnx")
    assert resolve_model(str(tmp_path)) == path


def test_resolve_folder_with_one_onnx(tmp_path: Path) -> None:
    path = conv_model(tmp_path / "vdsr-256.onnx")
    assert resolve_model(str(tmp_path)) == path


def test_resolve_folder_with_several_onnx_is_ambiguous(tmp_path: Path) -> None:
    conv_model(tmp_path / "a.onnx")
    conv_model(tmp_path / "b.onnx")
    with pytest.raises(InputError, match=r"2 \.onnx files \(a\.onnx, b\.onnx\)"):
        resolve_model(str(tmp_path))


@pytest.mark.parametrize("arg, tried", [
    ("deploy/mod", ["deploy/mod.onnx"]),
    ("net.onnx", ["net.onnx"]),
    (".", ["mod.onnx", "*.onnx"]),
])
def test_resolve_missing_lists_paths_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arg: str, tried: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as info:
        resolve_model(arg)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"-m {arg}: no ONNX model found; tried ")
    for name in tried:
        assert name in message


def test_resolve_empty_argument() -> None:
    with pytest.raises(InputError, match="empty model path"):
        resolve_model("  ")


# --- describe_model ---


def test_describe_fixed(tmp_path: Path) -> None:
    info = describe_model(conv_model(tmp_path / "mod.onnx", in_ch=3, out_ch=3, hw=(8, 12)))
    assert isinstance(info, ModelInfo) and info.metadata is None
    assert info.inputs == (TensorInfo("input", (1, 3, 8, 12), np.dtype(np.float32), (None, None, None, None)),)
    assert info.outputs[0].shape == (1, 3, 8, 12)


def test_describe_dynamic_has_none_and_names(tmp_path: Path) -> None:
    info = describe_model(conv_model(tmp_path / "mod.onnx", dynamic=True))
    assert info.inputs[0].shape == (None, 1, None, None)
    assert info.inputs[0].dim_names == ("batch", None, "height", "width")
    assert info.outputs[0].dim_names == ("batch", None, "height", "width")


def test_describe_multi_input_in_declared_order(tmp_path: Path) -> None:
    info = describe_model(token_model(tmp_path / "bert.onnx", n_inputs=3, seq_len=128, dtype=np.int64))
    assert [t.name for t in info.inputs] == ["input_ids", "attention_mask", "token_type_ids"]
    assert all(t.dtype == np.int64 and t.shape == (1, 128) for t in info.inputs)
    assert info.outputs[0].dtype == np.float32


def test_describe_two_outputs_keep_declared_order(tmp_path: Path) -> None:
    info = describe_model(two_output_model(tmp_path / "two.onnx"))
    assert [t.name for t in info.outputs] == ["zeta", "alpha"]


def test_describe_uint8_and_unnamed_unknown_dim(tmp_path: Path) -> None:
    info = describe_model(identity_like_model(tmp_path / "id.onnx", (1, 3, "h", None), np.uint8))
    assert info.inputs[0].dtype == np.uint8
    assert info.inputs[0].shape == (1, 3, None, None)
    assert info.inputs[0].dim_names == (None, None, "h", None)


def test_describe_skips_initializers_listed_as_inputs(tmp_path: Path) -> None:
    # Old exporters (IR < 4) list every weight among the graph inputs.
    weight = numpy_helper.from_array(np.ones((1, 4), np.float32), "bias")
    graph = helper.make_graph(
        [helper.make_node("Add", ["input", "bias"], ["output"], name="add")], "g",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("bias", onnx.TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, [1, 4])],
        initializer=[weight],
    )
    info = describe_model(save(make_model(graph), tmp_path / "old.onnx"))
    assert [t.name for t in info.inputs] == ["input"]


def test_describe_reads_sidecar(tmp_path: Path) -> None:
    path = conv_model(tmp_path / "mod.onnx")
    (tmp_path / "mod.json").write_text(json.dumps({"model": "tiny", "weights": "random"}))
    assert describe_model(path).metadata == {"model": "tiny", "weights": "random"}


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "\udcff"])
def test_describe_ignores_bad_sidecar(tmp_path: Path, content: str) -> None:
    path = conv_model(tmp_path / "mod.onnx")
    (tmp_path / "mod.json").write_bytes(content.encode("utf-8", "surrogateescape"))
    assert describe_model(path).metadata is None


def test_describe_corrupt_is_model_error(tmp_path: Path) -> None:
    path = corrupt_model(tmp_path / "mod.onnx")
    with pytest.raises(ModelError) as info:
        describe_model(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_describe_missing_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        describe_model(tmp_path / "absent.onnx")


# --- count_macs_params ---


def test_count_conv_by_hand(tmp_path: Path) -> None:
    # 3->4 channels, 3x3, 8x10 output: each of 1*4*8*10 outputs sums 3*3*3 products.
    path = conv_model(tmp_path / "c.onnx", in_ch=3, out_ch=4, hw=(8, 10))
    macs, params = count_macs_params(path, None)
    assert macs == 4 * 8 * 10 * 3 * 3 * 3
    assert params == 4 * 3 * 3 * 3 + 4
    assert FLOPS_PER_MAC == 2


def test_count_dynamic_needs_shapes(tmp_path: Path) -> None:
    path = conv_model(tmp_path / "c.onnx", dynamic=True)
    with pytest.raises(ModelError, match="input_shapes"):
        count_macs_params(path, None)
    assert count_macs_params(path, {"input": (2, 1, 16, 16)}) == (2 * 16 * 16 * 9, 10)


def test_count_input_shapes_leave_caller_model_alone(tmp_path: Path) -> None:
    proto = onnx.load(str(conv_model(tmp_path / "c.onnx", dynamic=True)))
    count_macs_params(proto, {"input": (1, 1, 4, 4)})
    assert proto.graph.input[0].type.tensor_type.shape.dim[2].dim_param == "height"


def test_count_input_shapes_bad_name(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="'nope'"):
        count_macs_params(conv_model(tmp_path / "c.onnx", dynamic=True), {"nope": (1, 1, 4, 4)})


def test_count_matmul_chain(tmp_path: Path) -> None:
    macs, params = count_macs_params(slow_model(tmp_path / "s.onnx", ms=3, size=16), None)
    assert macs == 3 * 16 * 16 * 16
    assert params == 3 * 16 * 16


def test_count_gemm_trans_a() -> None:
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["input", "w", "b"], ["output"], name="gemm", transA=1)], "g",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [5, 2])],
        [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, [2, 3])],
        initializer=[numpy_helper.from_array(np.ones((5, 3), np.float32), "w"),
                     numpy_helper.from_array(np.ones(3, np.float32), "b")],
    )
    assert count_macs_params(make_model(graph), None) == (2 * 3 * 5, 18)


def test_count_corrupt_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        count_macs_params(corrupt_model(tmp_path / "bad.onnx"), None)
