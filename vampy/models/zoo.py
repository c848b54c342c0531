"""Reference models built with onnx.helper: VDSR from its weights file, or from a seed.

Three separate pieces, so the compiler can reuse the graph builder for any plain conv net:
`conv_stack_model` (architecture only: a list of weight arrays -> graph), the VDSR layer table
with its weight loading / random initialisation, and `write_vdsr` (files on disk).

Two VDSR inputs (`--input`):
- "y": the luminance plane, (N, 1, H, W) in [0, 1], as the weights were trained (the vendor flow
  feeds it from an image2npz y3 npz: a uint8 Y plane, DIV255, first plane kept);
- "rgb-bt601": the RGB image, (N, 3, H, W) = RGB / 255 (an RGB_PLANAR uint8 image through DIV255).
  A first 1x1 Conv with bias computes MATLAB rgb2ycbcr's Y / 255 in float,
  (16 + 65.481 R + 128.553 G + 24.966 B) / 255 with R, G, B in [0, 1], the same value as
  vampy.data.imaging.to_y(..., "bt601") / 255 before its rounding to uint8; the unchanged VDSR then
  refines that float Y (its residual adds it). The paper computes Y this way, in floating point;
  rounding the input Y to uint8 first costs about 0.3 dB on Set5 x4. The output is Y, (N, 1, H, W).
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from vampy import __version__
from vampy.errors import InputError, OutputError, UsageError
from vampy.formats.files import write_file
from vampy.formats.npz import NpyHeader, NpzError, load_input_npz
from vampy.models.resolve import file_sha256

OPSET = 17
# IR 8 is what opset 17 shipped with; older ONNX Runtime releases refuse newer IR versions.
IR_VERSION = 8
INPUT_NAME = "input"
OUTPUT_NAME = "output"
MODEL_FILE = "mod.onnx"
METADATA_FILE = "mod.json"
VDSR_FIXED_SHAPE = (1, 1, 256, 256)
VDSR_DYNAMIC_SHAPE: tuple[int | str, ...] = ("batch", 1, "height", "width")
VDSR_CHANNELS = 64
VDSR_HIDDEN_LAYERS = 18
VDSR_INPUT_Y = "y"
VDSR_INPUT_RGB_BT601 = "rgb-bt601"
VDSR_INPUTS = (VDSR_INPUT_Y, VDSR_INPUT_RGB_BT601)
# MATLAB rgb2ycbcr's luminance row on R, G, B in [0, 1] (as vampy.data.imaging's bt601), and its offset.
BT601_Y_COEFFS = (65.481, 128.553, 24.966)
BT601_Y_OFFSET = 16.0
PEAK_UINT8 = 255.0
STEM_NODE = "rgb_to_y"
STEM_OUTPUT = "y"
RANDOM_WEIGHTS_WARNING = "seeded random weights: speed figures are real, accuracy figures are meaningless"
# A trained VDSR predicts a small residual; shrinking the random last layer keeps the output
# close to the input's range instead of adding unit-scale noise.
RANDOM_OUTPUT_LAYER_GAIN = 0.1


@dataclass(frozen=True)
class Stem:
    """A 1x1 Conv with bias applied to the model input before the conv stack: its output is the
    stack's input and what the residual adds (e.g. RGB -> Y)."""

    weight: np.ndarray  # (out_ch, in_ch, 1, 1)
    bias: np.ndarray  # (out_ch,)
    node_name: str = STEM_NODE
    output_name: str = STEM_OUTPUT


@dataclass(frozen=True)
class ZooResult:
    model_path: Path
    metadata_path: Path
    metadata: dict[str, Any]


# --- architecture: a plain stack of same-padded convolutions ---


def conv_stack_model(
    weights: Sequence[np.ndarray],
    input_shape: Sequence[int | str],
    residual: bool,
    graph_name: str,
    weight_names: Sequence[str] | None = None,
    stem: Stem | None = None,
) -> onnx.ModelProto:
    """Conv -> ReLU -> ... -> Conv (no ReLU after the last), plus `input` when `residual`.

    Weights are (out_ch, in_ch, kh, kw) with odd kernels, stride 1, zero padding kh//2, no bias.
    String dims in `input_shape` become symbolic (dim_param) and carry through to the output.
    With a `stem`, its 1x1 Conv runs first and takes the place of `input` for the stack and the
    residual.
    """
    names = list(weight_names) if weight_names is not None else [f"conv{i:02d}.weight" for i in range(len(weights))]
    initializers = [numpy_helper.from_array(np.asarray(w, dtype=np.float32), name) for w, name in zip(weights, names)]
    nodes: list[onnx.NodeProto] = []
    source = INPUT_NAME
    if stem is not None:
        initializers += _stem_initializers(stem)
        nodes.append(_stem_node(stem))
        source = stem.output_name
    nodes += _conv_stack_nodes(weights, names, residual, source)
    out_channels = int(weights[-1].shape[0])
    output_shape = [input_shape[0], out_channels, *input_shape[2:]]
    graph = helper.make_graph(
        nodes,
        graph_name,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, output_shape)],
        initializer=initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
        producer_name="vampy", producer_version=__version__,
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def _stem_initializers(stem: Stem) -> list[onnx.TensorProto]:
    return [
        numpy_helper.from_array(np.asarray(stem.weight, dtype=np.float32), f"{stem.node_name}.weight"),
        numpy_helper.from_array(np.asarray(stem.bias, dtype=np.float32), f"{stem.node_name}.bias"),
    ]


def _stem_node(stem: Stem) -> onnx.NodeProto:
    if stem.weight.ndim != 4 or stem.weight.shape[2:] != (1, 1) or stem.bias.shape != stem.weight.shape[:1]:
        raise ValueError(f"a stem is a 1x1 Conv with bias: got weight {stem.weight.shape}, bias {stem.bias.shape}")
    return helper.make_node(
        "Conv", [INPUT_NAME, f"{stem.node_name}.weight", f"{stem.node_name}.bias"], [stem.output_name],
        name=stem.node_name, kernel_shape=[1, 1], pads=[0, 0, 0, 0], strides=[1, 1],
    )


def _conv_stack_nodes(
    weights: Sequence[np.ndarray], names: Sequence[str], residual: bool, source: str = INPUT_NAME
) -> list[onnx.NodeProto]:
    nodes: list[onnx.NodeProto] = []
    current = source
    last = len(weights) - 1
    for index, (weight, weight_name) in enumerate(zip(weights, names)):
        kernel_h, kernel_w = int(weight.shape[2]), int(weight.shape[3])
        pads = [kernel_h // 2, kernel_w // 2, kernel_h // 2, kernel_w // 2]
        conv_out = OUTPUT_NAME if index == last and not residual else f"conv{index:02d}"
        nodes.append(helper.make_node(
            "Conv", [current, weight_name], [conv_out], name=f"conv{index:02d}",
            kernel_shape=[kernel_h, kernel_w], pads=pads, strides=[1, 1],
        ))
        current = conv_out
        if index < last:
            nodes.append(helper.make_node("Relu", [current], [f"relu{index:02d}"], name=f"relu{index:02d}"))
            current = f"relu{index:02d}"
    if residual:
        nodes.append(helper.make_node("Add", [current, source], [OUTPUT_NAME], name="residual_add"))
    return nodes


# --- VDSR: layer table, weights from a file or a seed ---


def vdsr_layers() -> list[tuple[str, tuple[int, int, int, int]]]:
    """(npz key, weight shape) for each of VDSR's 20 convolutions, in forward order."""
    hidden = [(f"residual_layer.{k}.conv.weight", (VDSR_CHANNELS, VDSR_CHANNELS, 3, 3)) for k in range(VDSR_HIDDEN_LAYERS)]
    return [("input.weight", (VDSR_CHANNELS, 1, 3, 3)), *hidden, ("output.weight", (1, VDSR_CHANNELS, 3, 3))]


def load_vdsr_weights(path: Path) -> tuple[list[np.ndarray], str]:
    """(weights in forward order as float32, sha256 of the file); InputError names the bad key."""
    if not path.is_file():
        raise InputError(f"--weights {path}: no such file")
    digest = file_sha256(path)
    layers = vdsr_layers()
    arrays = _read_npz(path, dict(layers))
    return [_checked_weight(path, arrays, key, shape) for key, shape in layers], digest


ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
NPY_MAGIC = b"\x93NUMPY"
PICKLE_MAGIC = b"\x80"


# Weights are float32, float64 at most: the limit holds the largest table twice over in float64.
_MAX_WEIGHT_ITEM_BYTES = 8


def _read_npz(path: Path, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """The weights through formats/npz.py's checks, each member's header matched to its layer before
    anything is allocated: a forged header or a gigantic array is refused, not loaded."""
    # Sniff first: np.load calls every non-zip, non-npy file "pickled", which misleads users.
    with path.open("rb") as handle:
        head = handle.read(6)
    if not head.startswith(ZIP_MAGIC):
        raise InputError(f"--weights {path}: {_not_npz_reason(head)}; give the .npz of named float32 arrays")
    max_bytes = 2 * _MAX_WEIGHT_ITEM_BYTES * sum(math.prod(shape) for shape in shapes.values())
    refused: list[str] = []  # a header that is no VDSR layer: its own message, not "damaged"

    def check(key: str, header: NpyHeader) -> str | None:
        problem = _weight_header_problem(key, header, shapes)
        refused.extend([problem] if problem else [])
        return problem

    try:
        return load_input_npz(path, max_bytes, check=check)
    except NpzError as exc:
        reason = exc.reason if refused else f"a damaged .npz archive ({exc.reason})"
        raise InputError(f"--weights {path}: {reason}") from None


def _weight_header_problem(key: str, header: NpyHeader, shapes: dict[str, tuple[int, ...]]) -> str | None:
    """Why a member cannot be the layer its key names, from its header alone; None when it can."""
    if key not in shapes:
        return f"unexpected key {key!r} (VDSR needs exactly: input.weight, residual_layer.0-17.conv.weight, output.weight)"
    if header.shape != shapes[key]:
        return f"key {key!r} has shape {header.shape}, expected {shapes[key]}"
    if not np.issubdtype(header.dtype, np.floating):
        return f"key {key!r} has dtype {header.dtype}, expected a float type"
    return None


def _not_npz_reason(head: bytes) -> str:
    if head.startswith(NPY_MAGIC):
        return "a single .npy array, not an .npz archive of named weights"
    if head.startswith(PICKLE_MAGIC):
        return "a Python pickle (e.g. a torch checkpoint), refused for safety: convert it to .npz"
    return "not an .npz archive"



def _checked_weight(path: Path, arrays: dict[str, np.ndarray], key: str, shape: tuple[int, ...]) -> np.ndarray:
    if key not in arrays:
        raise InputError(f"--weights {path}: missing key {key!r} (expected shape {shape})")
    array = arrays[key]
    if not isinstance(array, np.ndarray):
        raise InputError(f"--weights {path}: member {key!r} is not a .npy array")
    if array.shape != shape:
        raise InputError(f"--weights {path}: key {key!r} has shape {array.shape}, expected {shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise InputError(f"--weights {path}: key {key!r} has dtype {array.dtype}, expected a float type")
    if not np.all(np.isfinite(array)):
        raise InputError(f"--weights {path}: key {key!r} holds NaN or infinite values")
    return array.astype(np.float32)


def random_vdsr_weights(seed: int) -> list[np.ndarray]:
    """He-normal weights (std sqrt(2 / fan_in)), so activations keep their scale through the ReLUs."""
    rng = np.random.default_rng(seed)
    weights = []
    for _, shape in vdsr_layers():
        fan_in = shape[1] * shape[2] * shape[3]
        weights.append((rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32))
    weights[-1] *= RANDOM_OUTPUT_LAYER_GAIN
    return weights


def bt601_y_stem() -> Stem:
    """RGB / 255 -> MATLAB rgb2ycbcr's Y / 255, in float: (16 + 65.481 R + 128.553 G + 24.966 B) / 255."""
    weight = (np.asarray(BT601_Y_COEFFS, np.float64) / PEAK_UINT8).reshape(1, 3, 1, 1)
    bias = np.asarray([BT601_Y_OFFSET / PEAK_UINT8])
    return Stem(weight.astype(np.float32), bias.astype(np.float32))


def vdsr_input_shape(input_kind: str, dynamic: bool) -> tuple[int | str, ...]:
    """The model input's shape: VDSR's Y shape, with 3 channels for an RGB input."""
    _check_input_kind(input_kind)
    shape = VDSR_DYNAMIC_SHAPE if dynamic else VDSR_FIXED_SHAPE
    return (shape[0], 3, *shape[2:]) if input_kind == VDSR_INPUT_RGB_BT601 else shape


def _check_input_kind(input_kind: str) -> None:
    if input_kind not in VDSR_INPUTS:
        raise UsageError(f"--input {input_kind!r}: unknown VDSR input; choose one of {', '.join(VDSR_INPUTS)}")


def build_vdsr(
    weights: Path | None, seed: int = 0, dynamic: bool = False, input_kind: str = VDSR_INPUT_Y
) -> tuple[onnx.ModelProto, dict[str, Any]]:
    """The VDSR graph (see shared/data/README.md) and its metadata for mod.json.

    `input_kind` is one of VDSR_INPUTS (see the module doc); the output is Y either way.
    """
    _check_input_kind(input_kind)
    if weights is not None:
        arrays, digest = load_vdsr_weights(weights)
        source: dict[str, Any] = {"weights": "file", "weights_path": str(weights), "weights_sha256": digest, "accuracy_meaningful": True}
    else:
        arrays = random_vdsr_weights(seed)
        source = {"weights": "random", "seed": seed, "accuracy_meaningful": False, "warning": RANDOM_WEIGHTS_WARNING}
    input_shape = vdsr_input_shape(input_kind, dynamic)
    stem = bt601_y_stem() if input_kind == VDSR_INPUT_RGB_BT601 else None
    model = conv_stack_model(
        arrays, input_shape, residual=True, graph_name="vdsr" if stem is None else "vdsr_rgb_bt601",
        weight_names=[k for k, _ in vdsr_layers()], stem=stem,
    )
    source["input_kind"] = input_kind
    # The model file itself says where its weights came from, even without its sidecar.
    helper.set_model_props(model, {k: v if isinstance(v, str) else json.dumps(v) for k, v in source.items() if k != "weights_path"})
    return model, _vdsr_metadata(model, input_shape, dynamic, source)


def _vdsr_metadata(model: onnx.ModelProto, input_shape: Sequence[int | str], dynamic: bool, source: dict[str, Any]) -> dict[str, Any]:
    from vampy.models.graph import count_macs_params

    macs_shape = (VDSR_FIXED_SHAPE[0], int(input_shape[1]), *VDSR_FIXED_SHAPE[2:])
    macs, params = count_macs_params(model, {INPUT_NAME: macs_shape})
    output_shape = [input_shape[0], 1, *input_shape[2:]]
    architecture = "VDSR (Kim et al. 2016): 20 conv 3x3 pad 1, 64 channels, ReLU, global residual Add"
    if source["input_kind"] == VDSR_INPUT_RGB_BT601:
        architecture = (
            "input RGB/255 (R,G,B planes) -> 1x1 Conv with bias = MATLAB rgb2ycbcr Y/255 in float "
            "(16 + 65.481 R + 128.553 G + 24.966 B)/255 -> " + architecture + " to that Y; output Y"
        )
    return {
        "model": "vdsr",
        "architecture": architecture,
        "input": {"name": INPUT_NAME, "shape": list(input_shape), "dtype": "float32", "layout": "NCHW"},
        "output": {"name": OUTPUT_NAME, "shape": output_shape, "dtype": "float32", "layout": "NCHW"},
        "dynamic": dynamic,
        **source,
        **counts_and_versions(macs, params, macs_shape),
    }


def counts_and_versions(macs: int, params: int, macs_shape: Sequence[int]) -> dict[str, Any]:
    """The part of every zoo model's mod.json that says what it costs and what wrote it."""
    from vampy.engines.base import get_engine
    from vampy.models.info import FLOPS_PER_MAC

    return {
        "params": params,
        "macs": macs,
        "macs_input_shape": list(macs_shape),
        "flops_per_mac": FLOPS_PER_MAC,
        "opset": OPSET,
        "ir_version": IR_VERSION,
        "vampy_version": __version__,
        "onnx_version": onnx.__version__,
        "onnxruntime_version": get_engine("onnxruntime").version(),
    }




# --- files ---


def write_vdsr(out_dir: Path, weights: Path | None, seed: int, dynamic: bool, input_kind: str = VDSR_INPUT_Y) -> ZooResult:
    """Write out_dir/mod.onnx and out_dir/mod.json (created if needed); nothing else is touched."""
    model, metadata = build_vdsr(weights, seed=seed, dynamic=dynamic, input_kind=input_kind)
    return write_model_files(out_dir, model, metadata)


def write_model_files(out_dir: Path, model: onnx.ModelProto, metadata: dict[str, Any]) -> ZooResult:
    """out_dir/mod.onnx and out_dir/mod.json, each written atomically (shared by every zoo model)."""
    _make_dir(out_dir)
    model_path = _write_atomic(out_dir, MODEL_FILE, model.SerializeToString())
    metadata_path = _write_atomic(out_dir, METADATA_FILE, (json.dumps(metadata, indent=2) + "\n").encode("utf-8"))
    return ZooResult(model_path=model_path, metadata_path=metadata_path, metadata=metadata)


def _make_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"-o {out_dir}: exists and is not a folder; name a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"-o {out_dir}: cannot create the folder ({exc.strerror or exc}); choose a writable one") from None


def _write_atomic(out_dir: Path, name: str, payload: bytes) -> Path:
    """Write through formats/files.write_file (a new random temporary name, fsync, rename): a reader
    never sees half a file, and a link already at the target is replaced, not followed."""
    target = out_dir / name
    if Path(name).name != name or target.parent.resolve() != out_dir.resolve():
        raise OutputError(f"refusing to write {name!r} outside the output folder {out_dir}")
    try:
        return write_file(target, lambda stream: stream.write(payload))
    except OSError as exc:
        raise OutputError(f"-o {out_dir}: cannot write {name} ({exc.strerror or exc}); choose a writable folder") from None
