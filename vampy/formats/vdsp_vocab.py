"""The vendor's vdsp vocabulary: OpTypes, enum spellings and one parser per OpConfig key.

vdsp.py builds a `PreprocessSpec` from what these parse; the CamelCase keys and the vendor's enum
spellings live here and in vdsp.py only (house rule 11).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, NamedTuple

from vampy.errors import InputError, short_repr

_CHANNELS = 3


MAX_SIDE_PX = 16384



class OpKind(Enum):
    """Which geometric pipeline an OpType runs (colour and normalisation are separate fields)."""

    RESIZE = "resize"
    RESIZE_CROP = "resize_crop"
    CROP_RESIZE = "crop_resize"
    LETTERBOX = "letterbox"
    RESIZE_PAD = "resize_pad"
    COLOR_ONLY = "color_only"
    SINGLE_RESIZE = "single_resize"
    SINGLE_CROP = "single_crop"
    SINGLE_COLOR = "single_color"
    PASSTHROUGH = "passthrough"



class InputFormat(Enum):
    """Layout and channel order of the uint8 image handed to the preprocessing."""

    RGB_CHW = "rgb_chw"
    BGR_CHW = "bgr_chw"
    RGB_HWC = "rgb_hwc"
    BGR_HWC = "bgr_hwc"
    NV12 = "nv12"



class Norm(Enum):
    """How uint8 pixel values become tensor values."""

    UNIT_MEAN_STD = "unit_mean_std"  # (x / 255 - mean) / std
    UNIT = "unit"  # x / 255
    MEAN_STD = "mean_std"  # (x - mean) / std, mean/std on the 0-255 scale
    NONE = "none"  # x
    SYMMETRIC = "symmetric"  # x / 127.5 - 1



class ColorConversion(Enum):
    NONE = "none"
    BGR_TO_RGB = "bgr_to_rgb"
    RGB_TO_BGR = "rgb_to_bgr"
    NV12_TO_RGB = "nv12_to_rgb"

    @property
    def swaps_channels(self) -> bool:
        return self in (ColorConversion.BGR_TO_RGB, ColorConversion.RGB_TO_BGR)



class ResizeMethod(Enum):
    OPENCV_BILINEAR = "opencv_bilinear"  # cv2.resize INTER_LINEAR
    PILLOW_BILINEAR = "pillow_bilinear"  # PIL Image.resize BILINEAR (antialiased when shrinking)



class PadEdges(NamedTuple):
    top: int
    bottom: int
    left: int
    right: int



class OpInfo(NamedTuple):
    """What an OpType means: its pipeline, whether it reads NV12, whether it is fused."""

    kind: OpKind
    nv12: bool
    fused: bool  # fused ops normalise, so NormaType is required



OP_TYPES: dict[str, OpInfo] = {
    "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR": OpInfo(OpKind.RESIZE, False, True),
    "FUSION_OP_RGB_RESIZE_CVTCOLOR_CROP_NORM_TENSOR": OpInfo(OpKind.RESIZE_CROP, False, True),
    "FUSION_OP_RGB_CROP_RESIZE_CVTCOLOR_NORM_TENSOR": OpInfo(OpKind.CROP_RESIZE, False, True),
    "FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR": OpInfo(OpKind.LETTERBOX, False, True),
    "FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR_EXT": OpInfo(OpKind.RESIZE_PAD, False, True),
    "FUSION_OP_RGB_CVTCOLOR_NORM_TENSOR": OpInfo(OpKind.COLOR_ONLY, False, True),
    "FUSION_OP_YUV_NV12_RESIZE_2RGB_NORM_TENSOR": OpInfo(OpKind.RESIZE, True, True),
    "FUSION_OP_YUV_NV12_CVTCOLOR_RESIZE_NORM_TENSOR": OpInfo(OpKind.RESIZE, True, True),
    "FUSION_OP_YUV_NV12_RESIZE_CVTCOLOR_CROP_NORM_TENSOR": OpInfo(OpKind.RESIZE_CROP, True, True),
    "FUSION_OP_YUV_NV12_CVTCOLOR_RESIZE_CROP_NORM_TENSOR": OpInfo(OpKind.RESIZE_CROP, True, True),
    "FUSION_OP_YUV_NV12_CROP_CVTCOLOR_RESIZE_NORM_TENSOR": OpInfo(OpKind.CROP_RESIZE, True, True),
    "FUSION_OP_YUV_NV12_CVTCOLOR_LETTERBOX_NORM_TENSOR": OpInfo(OpKind.LETTERBOX, True, True),
    "FUSION_OP_YUV_NV12_LETTERBOX_2RGB_NORM_TENSOR": OpInfo(OpKind.LETTERBOX, True, True),
    "SINGLE_OP_RESIZE": OpInfo(OpKind.SINGLE_RESIZE, False, False),
    "SINGLE_OP_CROP": OpInfo(OpKind.SINGLE_CROP, False, False),
    "SINGLE_OP_CVT_COLOR": OpInfo(OpKind.SINGLE_COLOR, False, False),
    "BERT_EMBEDDING_OP": OpInfo(OpKind.PASSTHROUGH, False, False),
}



IMAGE_FORMATS: dict[str, InputFormat] = {
    "RGB_PLANAR": InputFormat.RGB_CHW,
    "BGR_PLANAR": InputFormat.BGR_CHW,
    "RGB888": InputFormat.RGB_HWC,
    "BGR888": InputFormat.BGR_HWC,
    "YUV_NV12": InputFormat.NV12,
}



NORMS: dict[str, Norm] = {
    "DIV255_MINUSMEAN_DIVSTD": Norm.UNIT_MEAN_STD,
    "DIV255": Norm.UNIT,
    "MINUSMEAN_DIVSTD": Norm.MEAN_STD,
    "EQUAL": Norm.NONE,
    "DIV1275_MINUSONE": Norm.SYMMETRIC,
}



COLOR_CODES: dict[str, ColorConversion] = {
    "NO_CHANGE": ColorConversion.NONE,
    "BGR2RGB": ColorConversion.BGR_TO_RGB,
    "RGB2BGR": ColorConversion.RGB_TO_BGR,
    "YUV2RGB_NV12": ColorConversion.NV12_TO_RGB,
}



_RESIZE_TYPES: dict[str, ResizeMethod] = {
    "BILINEAR_CV": ResizeMethod.OPENCV_BILINEAR,
    "BILINEAR": ResizeMethod.OPENCV_BILINEAR,
    "BILINEAR_PILLOW": ResizeMethod.PILLOW_BILINEAR,
}



# Only the variants we compute exactly; anything else is refused instead of approximated.
_COLOR_SPACES: dict[str, str] = {"BT601": "bt601"}



_EDGE_PADDING_TYPES: dict[str, str] = {"CONSTANT": "constant"}



FORMAT_LABELS: dict[InputFormat, str] = {
    InputFormat.RGB_CHW: "RGB planar uint8 (3,H,W)",
    InputFormat.BGR_CHW: "BGR planar uint8 (3,H,W)",
    InputFormat.RGB_HWC: "RGB interleaved uint8 (H,W,3)",
    InputFormat.BGR_HWC: "BGR interleaved uint8 (H,W,3)",
    InputFormat.NV12: "YUV NV12 uint8 (H*3/2,W), H and W even",
}



NORM_LABELS: dict[Norm, str] = {
    Norm.UNIT_MEAN_STD: "(x / 255 - mean) / std",
    Norm.UNIT: "x / 255",
    Norm.MEAN_STD: "(x - mean) / std (mean, std on the 0-255 scale)",
    Norm.NONE: "none (x as float32)",
    Norm.SYMMETRIC: "x / 127.5 - 1",
}



COLOR_LABELS: dict[ColorConversion, str] = {
    ColorConversion.NONE: "unchanged",
    ColorConversion.BGR_TO_RGB: "swap channels 0 and 2 (BGR -> RGB)",
    ColorConversion.RGB_TO_BGR: "swap channels 0 and 2 (RGB -> BGR)",
    ColorConversion.NV12_TO_RGB: "NV12 -> RGB (BT.601 limited range, as OpenCV)",
}



RESIZE_LABELS: dict[ResizeMethod, str] = {
    ResizeMethod.OPENCV_BILINEAR: "OpenCV bilinear",
    ResizeMethod.PILLOW_BILINEAR: "Pillow bilinear, antialiased",
}



_Parser = Callable[[str, str, object], object]



def type_name(value: object) -> str:
    """How an error message names a parsed JSON/YAML value's type ("a boolean", "null", ...)."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)



def _bad_value(source: str, key: str, value: object, fix: str) -> InputError:
    return InputError(f"{source}: OpConfig.{key} = {short_repr(value)} {fix}")



def _key_text(key: object) -> str:
    """A key as written when it is plain text; repr otherwise, so a message stays one line."""
    return key if isinstance(key, str) and key.isprintable() else short_repr(key)



def _parse_int(low: int, high: int) -> _Parser:
    def parse(source: str, key: str, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad_value(source, key, value, f"is {type_name(value)}; write an integer {low}..{high}")
        if not low <= value <= high:
            raise _bad_value(source, key, value, f"is out of range; use an integer {low}..{high} (px)")
        return value

    return parse



def _parse_enum(table: Mapping[str, object]) -> _Parser:
    def parse(source: str, key: str, value: object) -> object:
        if not isinstance(value, str) or value not in table:
            raise _bad_value(source, key, value, f"is not supported; use one of: {', '.join(table)}")
        return table[value]

    return parse



def _is_finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float range (YAML/JSON allow 10**400)
        return False



def _parse_number(source: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _is_finite(value):
        raise _bad_value(source, key, value, "is not a finite number; write a number such as 0.5")
    return float(value)



def _parse_triple(item: _Parser, example: str) -> _Parser:
    def parse(source: str, key: str, value: object) -> object:
        if not isinstance(value, list) or len(value) != _CHANNELS:
            raise _bad_value(source, key, value, f"must be a list of 3 values, one per channel, e.g. {example}")
        return tuple(item(source, f"{key}[{index}]", entry) for index, entry in enumerate(value))

    return parse



def _parse_positive_number(source: str, key: str, value: object) -> float:
    number = _parse_number(source, key, value)
    if number <= 0:
        raise _bad_value(source, key, value, "must be > 0 (it divides the pixel values)")
    return number



def _parse_scale(source: str, key: str, value: object) -> object:
    if isinstance(value, list):
        return tuple(_parse_number(source, f"{key}[{index}]", entry) for index, entry in enumerate(value))
    return (_parse_number(source, key, value),)



def _parse_string(source: str, key: str, value: object) -> object:
    if not isinstance(value, str):
        raise _bad_value(source, key, value, f"is {type_name(value)}; write a string such as \"UINT8\"")
    return value



_SIZE = _parse_int(1, MAX_SIDE_PX)



_OFFSET = _parse_int(0, MAX_SIDE_PX)



OP_CONFIG_KEYS: dict[str, _Parser] = {
    "IimageFormat": _parse_enum(IMAGE_FORMATS),
    "IimageWidth": _SIZE,
    "IimageHeight": _SIZE,
    "IimageWidthPitch": _SIZE,
    "IimageHeightPitch": _SIZE,
    "OimageWidth": _SIZE,
    "OimageHeight": _SIZE,
    "OimageWidthPitch": _SIZE,
    "OimageHeightPitch": _SIZE,
    "OimageFormat": _parse_enum(IMAGE_FORMATS),
    "ResizeWidth": _SIZE,
    "ResizeHeight": _SIZE,
    "CropX": _OFFSET,
    "CropY": _OFFSET,
    "CropWidth": _SIZE,
    "CropHeight": _SIZE,
    "Mean": _parse_triple(_parse_number, "[0.485, 0.456, 0.406]"),
    "Std": _parse_triple(_parse_positive_number, "[0.229, 0.224, 0.225]"),
    "NormaType": _parse_enum(NORMS),
    "ColorCvtCode": _parse_enum(COLOR_CODES),
    "ResizeType": _parse_enum(_RESIZE_TYPES),
    "Padding": _parse_triple(_parse_int(0, 255), "[114, 114, 114]"),
    "PaddingLeft": _OFFSET,
    "PaddingRight": _OFFSET,
    "PaddingTop": _OFFSET,
    "PaddingBottom": _OFFSET,
    "Scale": _parse_scale,
    "TensorType0": _parse_string,
    "ColorSpace": _parse_enum(_COLOR_SPACES),
    "EdgePaddingType": _parse_enum(_EDGE_PADDING_TYPES),
}



def parse_op_config(config: dict[Any, Any], source: str) -> dict[str, Any]:
    """Each OpConfig key checked by its parser; an unknown key is refused with the known ones."""
    values: dict[str, Any] = {}
    for key, value in config.items():
        parser = OP_CONFIG_KEYS.get(key) if isinstance(key, str) else None
        if parser is None:
            raise InputError(
                f"{source}: unknown key OpConfig.{_key_text(key)}; known keys: {', '.join(OP_CONFIG_KEYS)}"
            )
        values[key] = parser(source, key, value)
    return values
