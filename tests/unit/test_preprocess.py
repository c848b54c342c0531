"""preprocess(): every OpType and enum value against hand-computed results on tiny images."""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from vampy.data.preprocess import letterbox_inner_hw, preprocess, synthetic_image
from vampy.errors import InputError
from vampy.formats.vdsp import PreprocessSpec, parse_vdsp

SOURCE = "t.json"
EQUAL = {"NormaType": "EQUAL"}
RAMP = [0, 25, 75, 100]  # OpenCV bilinear, [0, 100] -> 4 px: centres at -0.25, 0.25, 0.75, 1.25


def spec_of(op_type: str, **config: Any) -> PreprocessSpec:
    return parse_vdsp({"OpType": op_type, "OpConfig": config}, SOURCE)


def resize_spec(**config: Any) -> PreprocessSpec:
    return spec_of("FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR", **{**EQUAL, **config})


def planes(*rows_per_plane: list[list[int]]) -> np.ndarray:
    return np.array(rows_per_plane, np.uint8)


def grey(height_px: int, width_px: int, value: int) -> np.ndarray:
    return np.full((3, height_px, width_px), value, np.uint8)


def nv12(height_px: int, width_px: int, y: int, u: int, v: int) -> np.ndarray:
    image = np.empty((height_px * 3 // 2, width_px), np.uint8)
    image[:height_px] = y
    image[height_px:, 0::2] = u
    image[height_px:, 1::2] = v
    return image


# --- resize --------------------------------------------------------------------------------------


def test_vdsr_same_size_is_x_over_255() -> None:
    spec = resize_spec(NormaType="DIV255", OimageWidth=2, OimageHeight=1)
    out = preprocess(spec, planes([[0, 255]], [[51, 102]], [[1, 254]]))
    assert out.dtype == np.float32 and out.shape == (3, 1, 2) and out.flags.c_contiguous
    np.testing.assert_array_equal(out, np.array([[[0, 1]], [[0.2, 0.4]], [[1 / 255, 254 / 255]]], np.float32))


@pytest.mark.parametrize("resize_type", ["BILINEAR_CV", "BILINEAR", "BILINEAR_PILLOW"])
def test_upscale_2x2_to_4x4_is_the_hand_ramp(resize_type: str) -> None:
    # Upscaling: OpenCV and Pillow both interpolate between pixel centres and clamp at the edges.
    spec = resize_spec(ResizeType=resize_type, OimageWidth=4, OimageHeight=4)
    out = preprocess(spec, np.tile(np.array([0, 100], np.uint8), (3, 2, 1)))
    np.testing.assert_array_equal(out, np.tile(np.array(RAMP, np.float32), (3, 4, 1)))


def test_pillow_and_opencv_differ_when_shrinking() -> None:
    # [0, 0, 100, 100] -> 2 px. OpenCV: mean of each pair -> [0, 100]. Pillow (antialiased, support
    # 2 px): weights 0.75, 0.75, 0.25 -> 25/1.75 = 14.29 -> 14, and 150/1.75 = 85.71 -> 86.
    image = np.tile(np.array([0, 0, 100, 100], np.uint8), (3, 1, 1))
    opencv = preprocess(resize_spec(ResizeType="BILINEAR_CV", OimageWidth=2, OimageHeight=1), image)
    pillow = preprocess(resize_spec(ResizeType="BILINEAR_PILLOW", OimageWidth=2, OimageHeight=1), image)
    np.testing.assert_array_equal(opencv[0], [[0, 100]])
    np.testing.assert_array_equal(pillow[0], [[14, 86]])


def test_interleaved_input_is_resized_like_planar() -> None:
    image_hwc = np.tile(np.array([0, 100], np.uint8), (2, 1))[:, :, None].repeat(3, axis=2)
    spec = resize_spec(IimageFormat="RGB888", OimageWidth=4, OimageHeight=4)
    np.testing.assert_array_equal(preprocess(spec, image_hwc), np.tile(np.array(RAMP, np.float32), (3, 4, 1)))


def test_output_hw_argument_overrides_the_file_and_none_keeps_native_size() -> None:
    image = np.tile(np.array([0, 100], np.uint8), (3, 2, 1))
    spec = resize_spec(OimageWidth=8, OimageHeight=8)
    assert preprocess(spec, image, (4, 4)).shape == (3, 4, 4)
    assert preprocess(spec, image).shape == (3, 8, 8)
    native = preprocess(resize_spec(), image)
    np.testing.assert_array_equal(native, image.astype(np.float32))


def test_each_image_is_resized_from_its_own_size() -> None:
    spec = resize_spec(IimageWidth=640, IimageHeight=480, OimageWidth=2, OimageHeight=2)
    assert preprocess(spec, grey(5, 7, 9)).shape == (3, 2, 2)
    assert preprocess(spec, grey(3, 3, 9)).shape == (3, 2, 2)


# --- normalisation -------------------------------------------------------------------------------


def norm_out(norm: str, image: np.ndarray, **config: Any) -> np.ndarray:
    return preprocess(resize_spec(NormaType=norm, **config), image)


PIXELS = planes([[0, 51, 255]], [[0, 51, 255]], [[0, 51, 255]])


def test_equal() -> None:
    np.testing.assert_array_equal(norm_out("EQUAL", PIXELS)[0], [[0, 51, 255]])


def test_div255() -> None:
    np.testing.assert_allclose(norm_out("DIV255", PIXELS)[0], [[0, 0.2, 1]], rtol=1e-6)


def test_div1275_minus_one() -> None:
    np.testing.assert_allclose(norm_out("DIV1275_MINUSONE", PIXELS)[0], [[-1, -0.6, 1]], rtol=1e-6, atol=1e-6)


def test_div255_minus_mean_div_std_per_channel() -> None:
    out = norm_out("DIV255_MINUSMEAN_DIVSTD", PIXELS, Mean=[0, 0.5, 1], Std=[1, 0.5, 0.25])
    # channel 1: (0/255 - .5)/.5 = -1, (.2 - .5)/.5 = -.6, (1 - .5)/.5 = 1; channel 2: -4, -3.2, 0
    np.testing.assert_allclose(out, [[[0, 0.2, 1]], [[-1, -0.6, 1]], [[-4, -3.2, 0]]], rtol=1e-6, atol=1e-6)


def test_minus_mean_div_std_on_the_0_255_scale() -> None:
    out = norm_out("MINUSMEAN_DIVSTD", PIXELS, Mean=[128, 0, 255], Std=[64, 1, 51])
    expected = np.array([[[-2, -1.203125, 1.984375]], [[0, 51, 255]], [[-5, -4, 0]]], np.float32)
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_fp16_rounded_mean_is_used_as_given() -> None:
    out = norm_out("DIV255_MINUSMEAN_DIVSTD", grey(1, 1, 0),
                   Mean=[0.485107421875, 0.4560546875, 0.406005859375], Std=[0.5, 0.5, 0.5])
    np.testing.assert_allclose(out.ravel(), [-0.97021484375, -0.912109375, -0.81201171875], rtol=1e-6)


# --- colour --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "expected"), [("NO_CHANGE", [10, 20, 30]), ("BGR2RGB", [30, 20, 10]), ("RGB2BGR", [30, 20, 10])])
def test_colour_codes(code: str, expected: list[int]) -> None:
    out = preprocess(resize_spec(ColorCvtCode=code), planes([[10]], [[20]], [[30]]))
    assert out.ravel().tolist() == expected


def test_mean_applies_to_the_converted_channel_order() -> None:
    out = preprocess(resize_spec(ColorCvtCode="BGR2RGB", NormaType="MINUSMEAN_DIVSTD", Mean=[0, 0, 100], Std=[1, 1, 2]),
                     planes([[10]], [[20]], [[30]]))
    assert out.ravel().tolist() == [30, 20, -45]  # the blue input plane lands in channel 2: (10 - 100) / 2


@pytest.mark.parametrize(("fmt", "code", "expected"), [
    ("BGR_PLANAR", "BGR2RGB", [3, 2, 1]),
    ("RGB888", "NO_CHANGE", [1, 2, 3]),
    ("BGR888", "BGR2RGB", [3, 2, 1]),
])
def test_input_formats(fmt: str, code: str, expected: list[int]) -> None:
    pixel = np.array([1, 2, 3], np.uint8)
    image = pixel.reshape(3, 1, 1) if fmt.endswith("PLANAR") else pixel.reshape(1, 1, 3)
    out = preprocess(resize_spec(IimageFormat=fmt, ColorCvtCode=code), image)
    assert out.shape == (3, 1, 1) and out.ravel().tolist() == expected


def test_interleaved_layout_becomes_chw() -> None:
    image = np.array([[[1, 2, 3], [4, 5, 6]]], np.uint8)  # (H=1, W=2, C=3)
    out = preprocess(resize_spec(IimageFormat="RGB888"), image)
    np.testing.assert_array_equal(out, [[[1, 4]], [[2, 5]], [[3, 6]]])


# --- NV12 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("yuv", "rgb"), [
    ((16, 128, 128), (0, 0, 0)),
    ((235, 128, 128), (255, 255, 255)),
    ((128, 128, 128), (130, 130, 130)),  # 1.164 * (128 - 16) = 130.4
    ((81, 90, 240), (254, 0, 0)),  # BT.601 red: R = 1.164*65 + 1.596*112 = 254.4, G and B < 0
])
def test_nv12_constant_colour(yuv: tuple[int, int, int], rgb: tuple[int, int, int]) -> None:
    spec = spec_of("FUSION_OP_YUV_NV12_RESIZE_2RGB_NORM_TENSOR", **EQUAL)
    out = preprocess(spec, nv12(4, 4, *yuv))
    assert out.shape == (3, 4, 4)
    np.testing.assert_array_equal(out, np.broadcast_to(np.array(rgb, np.float32).reshape(3, 1, 1), (3, 4, 4)))


def test_nv12_resize_crop_and_letterbox() -> None:
    red = nv12(4, 8, 81, 90, 240)
    resized = preprocess(spec_of("FUSION_OP_YUV_NV12_CVTCOLOR_RESIZE_NORM_TENSOR", OimageWidth=2, OimageHeight=2, **EQUAL), red)
    assert resized.reshape(3, -1)[:, 0].tolist() == [254, 0, 0] and resized.shape == (3, 2, 2)
    cropped = preprocess(spec_of("FUSION_OP_YUV_NV12_CROP_CVTCOLOR_RESIZE_NORM_TENSOR", CropX=1, CropY=1, CropWidth=2,
                                 CropHeight=2, **EQUAL), red)
    assert cropped.shape == (3, 2, 2)
    boxed = preprocess(spec_of("FUSION_OP_YUV_NV12_LETTERBOX_2RGB_NORM_TENSOR", OimageWidth=8, OimageHeight=8,
                               Padding=[1, 2, 3], **EQUAL), red)
    # 4x8 into 8x8: no scaling, 2 rows of padding above and below, pad values in RGB order
    assert boxed[:, 0, 0].tolist() == [1, 2, 3] and boxed[:, 2, 0].tolist() == [254, 0, 0]
    assert boxed[:, 6, 0].tolist() == [1, 2, 3] and boxed[:, 5, 7].tolist() == [254, 0, 0]


@pytest.mark.parametrize("shape", [(5, 4), (6, 3), (4, 4, 1), (3, 4, 4)])
def test_nv12_wrong_shape(shape: tuple[int, ...]) -> None:
    spec = spec_of("FUSION_OP_YUV_NV12_RESIZE_2RGB_NORM_TENSOR", **EQUAL)
    with pytest.raises(InputError, match=r"YUV NV12 uint8 \(H\*3/2,W\), H and W even; got uint8 " + re.escape(str(shape))):
        preprocess(spec, np.zeros(shape, np.uint8))


# --- crops ---------------------------------------------------------------------------------------

GRID = np.tile(np.arange(16, dtype=np.uint8).reshape(4, 4), (3, 1, 1))  # value = 4 * row + column


def test_resize_then_crop_at_offsets() -> None:
    spec = spec_of("FUSION_OP_RGB_RESIZE_CVTCOLOR_CROP_NORM_TENSOR", ResizeWidth=4, ResizeHeight=4,
                   OimageWidth=2, OimageHeight=2, CropX=1, CropY=2, **EQUAL)
    np.testing.assert_array_equal(preprocess(spec, GRID)[0], [[9, 10], [13, 14]])


def test_resize_then_crop_uses_the_resized_image() -> None:
    spec = spec_of("FUSION_OP_RGB_RESIZE_CVTCOLOR_CROP_NORM_TENSOR", ResizeWidth=4, ResizeHeight=4,
                   OimageWidth=2, OimageHeight=2, CropX=1, CropY=0, **EQUAL)
    np.testing.assert_array_equal(preprocess(spec, np.tile(np.array([0, 100], np.uint8), (3, 2, 1)))[0], [[25, 75], [25, 75]])


def test_missing_crop_offsets_centre_the_crop() -> None:
    spec = spec_of("FUSION_OP_RGB_RESIZE_CVTCOLOR_CROP_NORM_TENSOR", ResizeWidth=4, ResizeHeight=4,
                   OimageWidth=2, OimageHeight=2, **EQUAL)
    np.testing.assert_array_equal(preprocess(spec, GRID)[0], [[5, 6], [9, 10]])


def test_crop_then_resize() -> None:
    spec = spec_of("FUSION_OP_RGB_CROP_RESIZE_CVTCOLOR_NORM_TENSOR", CropX=2, CropY=0, CropWidth=2, CropHeight=2,
                   OimageWidth=2, OimageHeight=2, **EQUAL)
    np.testing.assert_array_equal(preprocess(spec, GRID)[0], [[2, 3], [6, 7]])
    image = np.tile(np.array([50, 0, 100, 50], np.uint8), (3, 4, 1))
    spec = spec_of("FUSION_OP_RGB_CROP_RESIZE_CVTCOLOR_NORM_TENSOR", CropX=1, CropY=1, CropWidth=2, CropHeight=2,
                   OimageWidth=4, OimageHeight=4, **EQUAL)
    np.testing.assert_array_equal(preprocess(spec, image)[0], np.tile(np.array(RAMP, np.float32), (4, 1)))


def test_crop_without_size_runs_to_the_far_edges() -> None:
    spec = spec_of("FUSION_OP_RGB_CROP_RESIZE_CVTCOLOR_NORM_TENSOR", CropX=3, CropY=2, **EQUAL)
    np.testing.assert_array_equal(preprocess(spec, GRID)[0], [[11], [15]])


def test_crop_outside_the_image() -> None:
    spec = spec_of("FUSION_OP_RGB_RESIZE_CVTCOLOR_CROP_NORM_TENSOR", OimageWidth=3, OimageHeight=3, CropX=2, **EQUAL)
    with pytest.raises(InputError, match="crop 3x3 at x=2, y=0 does not fit the 4x4 image"):
        preprocess(spec, GRID)


# --- letterbox and padding -----------------------------------------------------------------------


@pytest.mark.parametrize(("image_hw", "out_hw", "inner_hw"), [
    ((2, 4), (4, 4), (2, 4)), ((4, 8), (4, 4), (2, 4)), ((4, 2), (4, 4), (4, 2)),
    ((375, 500), (640, 640), (480, 640)), ((1, 4), (4, 4), (1, 4)),
])
def test_letterbox_inner_size(image_hw: tuple[int, int], out_hw: tuple[int, int], inner_hw: tuple[int, int]) -> None:
    assert letterbox_inner_hw(image_hw, out_hw) == inner_hw


def test_letterbox_pads_with_114_centred() -> None:
    spec = spec_of("FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR", OimageWidth=4, OimageHeight=4, **EQUAL)
    out = preprocess(spec, grey(4, 8, 200))  # 4x8 -> 2x4 inside 4x4: one pad row above, one below
    expected = np.array([[114] * 4, [200] * 4, [200] * 4, [114] * 4], np.float32)
    np.testing.assert_array_equal(out, np.broadcast_to(expected, (3, 4, 4)))


def test_letterbox_tall_image_and_odd_remainder() -> None:
    spec = spec_of("FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR", OimageWidth=4, OimageHeight=4, **EQUAL)
    np.testing.assert_array_equal(preprocess(spec, grey(4, 2, 9))[0, 0], [114, 9, 9, 114])
    # 1x4 fits unscaled; 3 pad rows: 1 above, 2 below (the top/left side gets the floor)
    np.testing.assert_array_equal(preprocess(spec, grey(1, 4, 9))[0, :, 0], [114, 9, 114, 114])


def test_letterbox_padding_values_are_in_input_channel_order() -> None:
    spec = spec_of("FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR", OimageWidth=2, OimageHeight=2,
                   Padding=[1, 2, 3], ColorCvtCode="BGR2RGB", **EQUAL)
    out = preprocess(spec, planes([[7, 7]], [[8, 8]], [[9, 9]]))
    np.testing.assert_array_equal(out[:, :, 0], [[9, 3], [8, 2], [7, 1]])


def test_ext_resize_then_pad_with_explicit_edges() -> None:
    spec = spec_of("FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR_EXT", ResizeWidth=2, ResizeHeight=2, PaddingLeft=1,
                   PaddingRight=0, PaddingTop=0, PaddingBottom=2, Padding=[7, 8, 9], **EQUAL)
    out = preprocess(spec, grey(4, 4, 50))
    assert spec.output_hw == (4, 3) and out.shape == (3, 4, 3)
    np.testing.assert_array_equal(out[0], [[7, 50, 50], [7, 50, 50], [7, 7, 7], [7, 7, 7]])
    np.testing.assert_array_equal(out[2, 3], [9, 9, 9])


def test_ext_without_edges_centres_in_oimage() -> None:
    spec = spec_of("FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR_EXT", ResizeWidth=2, ResizeHeight=2,
                   OimageWidth=4, OimageHeight=4, **EQUAL)
    out = preprocess(spec, np.tile(np.array([0, 100], np.uint8), (3, 2, 1)))
    np.testing.assert_array_equal(out[0], [[114] * 4, [114, 0, 100, 114], [114, 0, 100, 114], [114] * 4])


def test_ext_edges_without_resize_size_resize_into_the_rest() -> None:
    spec = spec_of("FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR_EXT", PaddingLeft=2, PaddingTop=1, **EQUAL)
    out = preprocess(spec, grey(4, 4, 3), (3, 4))
    np.testing.assert_array_equal(out[0], [[114] * 4, [114, 114, 3, 3], [114, 114, 3, 3]])


# --- no-resize and single ops --------------------------------------------------------------------


def test_cvtcolor_only_keeps_the_native_size() -> None:
    spec = spec_of("FUSION_OP_RGB_CVTCOLOR_NORM_TENSOR", ColorCvtCode="BGR2RGB", NormaType="DIV255")
    out = preprocess(spec, planes([[0, 0]], [[0, 0]], [[255, 255]]))
    np.testing.assert_array_equal(out, [[[1, 1]], [[0, 0]], [[0, 0]]])
    with pytest.raises(InputError, match="does not resize, but the image is 2x1 and the output must be 4x4"):
        preprocess(spec, planes([[0, 0]], [[0, 0]], [[0, 0]]), (4, 4))


def test_single_resize() -> None:
    spec = spec_of("SINGLE_OP_RESIZE", OimageWidth=4, OimageHeight=1)
    out = preprocess(spec, np.tile(np.array([0, 100], np.uint8), (3, 1, 1)))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[1], [RAMP])


def test_single_crop() -> None:
    spec = spec_of("SINGLE_OP_CROP", OimageWidth=1, OimageHeight=2, CropX=3, CropY=1, IimageFormat="BGR888")
    out = preprocess(spec, GRID.transpose(1, 2, 0).copy())
    np.testing.assert_array_equal(out[2], [[7], [11]])


def test_single_cvt_color() -> None:
    swap = spec_of("SINGLE_OP_CVT_COLOR", ColorCvtCode="RGB2BGR")
    assert preprocess(swap, planes([[1]], [[2]], [[3]])).ravel().tolist() == [3, 2, 1]
    to_rgb = spec_of("SINGLE_OP_CVT_COLOR", ColorCvtCode="YUV2RGB_NV12")
    assert preprocess(to_rgb, nv12(2, 2, 235, 128, 128)).ravel().tolist() == [255] * 12


# --- bad images and synthetic images -------------------------------------------------------------


@pytest.mark.parametrize(("image", "got"), [
    (np.zeros((4, 4, 3), np.uint8), "uint8 (4, 4, 3)"),
    (np.zeros((3, 4, 4), np.float32), "float32 (3, 4, 4)"),
    (np.zeros((3, 4), np.uint8), "uint8 (3, 4)"),
    (np.zeros((3, 0, 4), np.uint8), "uint8 (3, 0, 4)"),
])
def test_wrong_image_for_planar_layout(image: np.ndarray, got: str) -> None:
    with pytest.raises(InputError) as info:
        preprocess(resize_spec(), image)
    message = str(info.value)
    assert "RGB planar uint8 (3,H,W)" in message and f"got {got}" in message and message.startswith(SOURCE)


def test_wrong_image_for_interleaved_layout() -> None:
    with pytest.raises(InputError, match=r"BGR interleaved uint8 \(H,W,3\); got uint8 \(3, 4, 4\)"):
        preprocess(resize_spec(IimageFormat="BGR888"), np.zeros((3, 4, 4), np.uint8))


def test_passthrough_has_no_image_to_preprocess() -> None:
    spec = parse_vdsp({"OpType": "BERT_EMBEDDING_OP"}, SOURCE)
    with pytest.raises(ValueError, match="BERT_EMBEDDING_OP"):
        preprocess(spec, np.zeros((1, 8), np.uint8))
    with pytest.raises(ValueError, match="token inputs"):
        synthetic_image(spec, (1, 8), np.random.default_rng(0))


@pytest.mark.parametrize(("config", "shape"), [
    ({"IimageFormat": "RGB_PLANAR"}, (3, 4, 6)),
    ({"IimageFormat": "BGR_PLANAR"}, (3, 4, 6)),
    ({"IimageFormat": "RGB888"}, (4, 6, 3)),
    ({"IimageFormat": "BGR888"}, (4, 6, 3)),
])
def test_synthetic_image_layouts(config: dict[str, str], shape: tuple[int, ...]) -> None:
    spec = resize_spec(**config)
    image = synthetic_image(spec, (3, 4, 6), np.random.default_rng(1))
    assert image.shape == shape and image.dtype == np.uint8
    np.testing.assert_array_equal(image, synthetic_image(spec, (3, 4, 6), np.random.default_rng(1)))
    assert preprocess(spec, image, (2, 3)).shape == (3, 2, 3)


def test_synthetic_nv12_image() -> None:
    spec = spec_of("FUSION_OP_YUV_NV12_RESIZE_2RGB_NORM_TENSOR", **EQUAL)
    image = synthetic_image(spec, (3, 4, 6), np.random.default_rng(0))
    assert image.shape == (6, 6) and image.dtype == np.uint8
    assert preprocess(spec, image).shape == (3, 4, 6)
    with pytest.raises(InputError, match=r"\[3, 5, 6\] has an odd H or W"):
        synthetic_image(spec, (3, 5, 6), np.random.default_rng(0))


@pytest.mark.parametrize("shape", [(1, 4, 4), (3, 4), (3, 0, 4)])
def test_synthetic_image_needs_three_channels(shape: tuple[int, ...]) -> None:
    with pytest.raises(InputError, match=r"give a shape \[3,H,W\]"):
        synthetic_image(resize_spec(), shape, np.random.default_rng(0))


def test_vdsr_tensor_matches_numpy() -> None:
    spec = resize_spec(NormaType="DIV255", OimageWidth=256, OimageHeight=256)
    image = synthetic_image(spec, (3, 256, 256), np.random.default_rng(3))
    np.testing.assert_array_equal(preprocess(spec, image), image.astype(np.float32) / np.float32(255))
