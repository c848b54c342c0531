"""The shared image primitives (vampy.data.preprocess) and the YAML's process_ops (vampy.data.process_ops)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from vampy.config import (
    CenterCropOp,
    ChannelSplitOp,
    CvtColorOp,
    DecodeImageOp,
    NormalizeOp,
    PadOp,
    ResizeOp,
    ToTensorOp,
)
from vampy.data.preprocess import (
    INTERPOLATIONS,
    convert_colour,
    crop_image,
    is_colour_code,
    normalise_inplace,
    normalised_range,
    pad_image,
    preprocess,
    resize_image,
)
from vampy.data.process_ops import apply_op, check_colour_codes, image_tensor, norm_range, to_tensor
from vampy.errors import InputError
from vampy.formats.vdsp import PadEdges, parse_vdsp


def rgb(height_px: int = 6, width_px: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height_px, width_px, 3), dtype=np.uint8)


# --- resize ---


def test_resize_ramp_with_opencv_bilinear() -> None:
    ramp = np.array([[0, 100]], np.uint8)
    assert resize_image(ramp, (4, 1)).tolist() == [[0, 25, 75, 100]]


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("backend", ["cv2", "pillow"])
def test_resize_keeps_axes_and_matches_the_library(interpolation: str, backend: str) -> None:
    image = rgb()
    out = resize_image(image, (5, 3), interpolation, backend)
    assert out.shape == (3, 5, 3) and out.dtype == np.uint8
    plane = resize_image(image[:, :, :1], (5, 3), interpolation, backend)
    assert plane.shape == (3, 5, 1)
    np.testing.assert_array_equal(plane[:, :, 0], out[:, :, 0])  # each channel on its own
    assert resize_image(image[:, :, 0], (5, 3), interpolation, backend).shape == (3, 5)
    if backend == "cv2":
        flags = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC,
                 "area": cv2.INTER_AREA, "lanczos": cv2.INTER_LANCZOS4}
        np.testing.assert_array_equal(out, cv2.resize(image, (5, 3), interpolation=flags[interpolation]))


def test_resize_planar_view_equals_interleaved() -> None:
    image = rgb(9, 7)
    planar_view = np.ascontiguousarray(image.transpose(2, 0, 1)).transpose(1, 2, 0)
    np.testing.assert_array_equal(resize_image(planar_view, (4, 5)), resize_image(image, (4, 5)))


def test_resize_float_with_pillow_and_same_size_is_the_image() -> None:
    image = rgb().astype(np.float32) / 255
    out = resize_image(image, (4, 3), "bilinear", "pillow")
    assert out.dtype == np.float32 and out.shape == (3, 4, 3) and 0 <= out.min() <= out.max() <= 1
    assert resize_image(image, (8, 6)) is image


def test_resize_unknown_interpolation() -> None:
    with pytest.raises(ValueError, match="cubic/cv2"):
        resize_image(rgb(), (4, 4), "cubic")


# --- crop, pad, colour ---


def test_crop_centred_and_at_a_corner() -> None:
    image = np.arange(6 * 8).reshape(6, 8)
    assert crop_image(image, (4, 2)).tolist() == image[2:4, 2:6].tolist()
    assert crop_image(image, (3, 3), (5, 3)).tolist() == image[3:6, 5:8].tolist()
    with pytest.raises(ValueError, match="crop 9x2 is larger than the image 8x6"):
        crop_image(image, (9, 2))
    with pytest.raises(ValueError, match="crop 3x3 at x=6, y=0 does not fit the 8x6 image"):
        crop_image(image, (3, 3), (6, 0))


def test_pad_edges_and_values() -> None:
    image = np.full((1, 2, 3), 7, np.uint8)
    out = pad_image(image, PadEdges(1, 0, 0, 1), (1, 2, 3))
    assert out.shape == (2, 3, 3) and out[0, 0].tolist() == [1, 2, 3] and out[1, :2].tolist() == [[7] * 3] * 2
    assert pad_image(image, PadEdges(0, 0, 0, 0), 0) is image
    scalar = pad_image(np.ones((1, 1), np.float32), PadEdges(0, 1, 0, 1), 0.5)
    assert scalar.tolist() == [[1.0, 0.5], [0.5, 0.5]]
    with pytest.raises(ValueError, match="negative padding"):
        pad_image(image, PadEdges(-1, 0, 0, 0), 0)


def test_colour_conversion_keeps_the_channel_axis() -> None:
    image = rgb()
    assert is_colour_code("COLOR_RGB2YCrCb") and not is_colour_code("COLOR_NOPE") and not is_colour_code("INTER_LINEAR")
    np.testing.assert_array_equal(convert_colour(image, "COLOR_RGB2YCrCb"), cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb))
    assert convert_colour(image, "COLOR_RGB2GRAY").shape == (6, 8, 1)
    with pytest.raises(ValueError, match="OpenCV has no colour code COLOR_NOPE"):
        convert_colour(image, "COLOR_NOPE")


# --- normalisation ---


@pytest.mark.parametrize(("norm", "expected"), [
    ("none", [0.0, 255.0]), ("unit", [0.0, 1.0]), ("symmetric", [-1.0, 1.0]),
    ("mean_std", [-1.0, 1.0]), ("unit_mean_std", [(0 - 0.5) / 0.25, (1 - 0.5) / 0.25]),
])
def test_normalise_each_norm(norm: str, expected: list[float]) -> None:
    mean, std = ((127.5,) * 3, (127.5,) * 3) if norm == "mean_std" else ((0.5,) * 3, (0.25,) * 3)
    chw = np.array([0.0, 255.0], np.float32).reshape(1, 1, 2).repeat(3, axis=0)
    normalise_inplace(chw, norm, mean, std, channel_axis=0)
    assert chw[0, 0].tolist() == pytest.approx(expected)
    assert normalised_range(norm, mean, std) == pytest.approx(tuple(expected))


def test_normalise_per_channel_on_either_axis_and_on_a_plane() -> None:
    mean, std = (1.0, 2.0, 3.0), (1.0, 1.0, 2.0)
    hwc = np.full((1, 1, 3), 5.0, np.float32)
    normalise_inplace(hwc, "mean_std", mean, std)
    assert hwc.ravel().tolist() == [4.0, 3.0, 1.0]
    chw = np.full((3, 1, 1), 5.0, np.float32)
    normalise_inplace(chw, "mean_std", mean, std, channel_axis=0)
    assert chw.ravel().tolist() == [4.0, 3.0, 1.0]
    plane = np.full((2, 2), 5.0, np.float32)  # more values than channels: the first ones
    normalise_inplace(plane, "mean_std", mean, std, channel_axis=None)
    assert plane.ravel().tolist() == [4.0] * 4
    with pytest.raises(ValueError, match="2 mean/std values for 3 channels"):
        normalise_inplace(np.ones((1, 1, 3), np.float32), "mean_std", (1.0, 2.0), (1.0, 1.0))


# --- process_ops ---


def test_each_op() -> None:
    image = rgb()
    assert apply_op(image, DecodeImageOp()) is image and apply_op(image, ToTensorOp()) is image
    assert apply_op(image, ResizeOp((4, 3))).shape == (3, 4, 3)
    assert apply_op(image, ResizeOp((3, 3), adaptive_side="short")).shape == (3, 4, 3)
    assert apply_op(image, ResizeOp((4, 4), adaptive_side="long")).shape == (3, 4, 3)
    np.testing.assert_array_equal(apply_op(image, ChannelSplitOp(2)), image[:, :, 2:3])
    with pytest.raises(ValueError, match="index 3 but the image has 3 channel"):
        apply_op(image, ChannelSplitOp(3))
    assert apply_op(image, CvtColorOp("COLOR_RGB2YCrCb")).shape == (6, 8, 3)
    assert apply_op(image, NormalizeOp("unit")).max() <= 1.0
    assert apply_op(image, CenterCropOp((4, 4))).shape == (4, 4, 3)
    square = apply_op(image, PadOp(pad_to_square=True, value=9))  # centred, as the vdsp letterbox pads
    assert square.shape == (8, 8, 3) and (square[:1] == 9).all() and (square[7:] == 9).all() and (square[1:7] == image).all()
    assert apply_op(image, PadOp(size_wh=(9, 7))).shape == (7, 9, 3)
    with pytest.raises(ValueError, match="pad to 4x4 is smaller than the image 8x6"):
        apply_op(image, PadOp(size_wh=(4, 4)))
    assert to_tensor(image[:, :, 0]).shape == (1, 6, 8) and to_tensor(image).dtype == np.float32


def test_process_ops_and_the_vdsp_pipeline_give_the_same_numbers() -> None:
    """One implementation: a YAML's Resize + Normalize equals the vdsp RESIZE + DIV255 on the same pixels."""
    image = rgb(20, 24)
    spec = parse_vdsp({"OpType": "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR",
                       "OpConfig": {"OimageWidth": 16, "OimageHeight": 12, "NormaType": "DIV255", "ResizeType": "BILINEAR_CV"}}, "t.json")
    vdsp = preprocess(spec, np.ascontiguousarray(image.transpose(2, 0, 1)))
    yaml = to_tensor(apply_op(apply_op(image, ResizeOp((16, 12))), NormalizeOp("unit")))
    swap: Any = slice(None, None, -1) if spec.color.swaps_channels else slice(None)
    np.testing.assert_array_equal(vdsp, yaml[swap])
    assert norm_range(NormalizeOp("unit")) == normalised_range(spec.norm.value)


def test_image_tensor_decodes_rgb_and_names_a_failing_op(tmp_path: Path) -> None:
    image = rgb()
    cv2.imwrite(str(tmp_path / "a.bmp"), image)  # written as BGR: decoding gives `image` reversed
    ops = (DecodeImageOp(), ChannelSplitOp(0), NormalizeOp("unit"), ToTensorOp())
    np.testing.assert_array_equal(image_tensor(tmp_path / "a.bmp", ops, "x.yaml: ops"), image[None, :, :, 2] / np.float32(255))
    with pytest.raises(InputError, match=r"^x.yaml: ops\[1\] \(CenterCrop\) fails on a.bmp: crop 9x9 is larger than the image 8x6$"):
        image_tensor(tmp_path / "a.bmp", (DecodeImageOp(), CenterCropOp((9, 9))), "x.yaml: ops")


def test_check_colour_codes() -> None:
    check_colour_codes((CvtColorOp("COLOR_RGB2YCrCb"),), "x.yaml: ops")
    with pytest.raises(InputError, match=r"x.yaml: ops\[1\].code: OpenCV has no colour code COLOR_NOPE"):
        check_colour_codes((DecodeImageOp(), CvtColorOp("COLOR_NOPE")), "x.yaml: ops")
