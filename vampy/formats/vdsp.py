"""vdsp_params files (the vendor's preprocessing description) -> a typed, frozen `PreprocessSpec`.

The vendor's CamelCase keys and enum spellings live in this module only; everything else reads
`PreprocessSpec` and the small Enums below. See VAMP-FORMATS.md section 3 for the file format.

Meaning of each OpType (what `vampy.data.preprocess.preprocess` computes; output is always a float32
(C, H, W) tensor without a batch dimension):

- ``FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR``: resize to Oimage W x H, colour, normalise.
- ``FUSION_OP_RGB_RESIZE_CVTCOLOR_CROP_NORM_TENSOR``: resize to ResizeWidth x ResizeHeight, colour,
  crop Oimage W x H at (CropX, CropY), normalise.
- ``FUSION_OP_RGB_CROP_RESIZE_CVTCOLOR_NORM_TENSOR``: crop CropWidth x CropHeight at (CropX, CropY),
  resize to Oimage W x H, colour, normalise.
- ``FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR``: keep the aspect ratio, resize into Oimage W x H,
  pad the rest with ``Padding`` (114 when absent), colour, normalise. Centring the image inside the
  padding is our inference (the vendor does not document it).
- ``FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR_EXT``: resize to ResizeWidth x ResizeHeight (no
  aspect ratio kept), pad PaddingLeft/Right/Top/Bottom with ``Padding``; the output is
  (ResizeHeight + top + bottom) x (ResizeWidth + left + right), as the vendor SDK computes it.
  Without explicit paddings the resized image is centred in Oimage W x H.
- ``FUSION_OP_RGB_CVTCOLOR_NORM_TENSOR``: no resize; colour and normalise at the image's own size.
- ``FUSION_OP_YUV_NV12_*``: NV12 input (shape (H*3/2, W)), converted to RGB (BT.601 limited range,
  as OpenCV's COLOR_YUV2RGB_NV12) *first*, then the same geometry as the RGB op of the same name.
  The vendor may resize in YUV before converting; results can differ by chroma interpolation.
- ``SINGLE_OP_RESIZE`` / ``SINGLE_OP_CROP`` / ``SINGLE_OP_CVT_COLOR``: only that step; the output is
  still a float32 (C, H, W) tensor with no normalisation (EQUAL). A NormaType other than EQUAL
  is refused rather than silently ignored.
- ``BERT_EMBEDDING_OP``: token inputs pass through unchanged (``spec.passthrough``).

Keys recorded but not changing the computation (numpy arrays carry their own strides, and the
tensor is always float32): IimageWidthPitch, IimageHeightPitch, OimageWidthPitch,
OimageHeightPitch, OimageFormat, Scale, TensorType0. Keys beyond section 3 accepted because the
vendor SDK's own sample files use them: CropWidth, CropHeight, OimageWidthPitch,
OimageHeightPitch, OimageFormat, ColorSpace (BT601 only), EdgePaddingType (CONSTANT only).

Missing keys: IimageFormat defaults to RGB_PLANAR (YUV_NV12 for NV12 ops or YUV2RGB_NV12),
ColorCvtCode to NO_CHANGE (YUV2RGB_NV12 for NV12 input), ResizeType to BILINEAR_CV; NormaType is
required for fused ops because a guessed normalisation silently changes accuracy. A missing
Oimage size means "take it from the model's fixed H, W (`with_output_hw`), or keep the image's
native size"; missing CropX/CropY centre the crop window.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import yaml

from vampy.errors import InputError, short_repr
from vampy.formats.files import check_nesting, read_text_file, shown_key
from vampy.formats.vdsp_vocab import (  # noqa: F401 - the enums are part of this module's interface
    COLOR_CODES,
    COLOR_LABELS,
    FORMAT_LABELS,
    IMAGE_FORMATS,
    MAX_SIDE_PX,
    NORM_LABELS,
    NORMS,
    OP_CONFIG_KEYS,
    OP_TYPES,
    RESIZE_LABELS,
    ColorConversion,
    InputFormat,
    Norm,
    OpInfo,
    OpKind,
    PadEdges,
    ResizeMethod,
    parse_op_config,
    type_name,
)

# Old private spellings, kept only for tests/unit/test_fuzz.py: drop them once it imports OP_TYPES and OP_CONFIG_KEYS.
_OP_TYPES = OP_TYPES
_OP_CONFIG_KEYS = OP_CONFIG_KEYS

# A float32 (3, H, W) tensor above this is a typo in the file, not a real model input.
MAX_TENSOR_BYTES = 512 * 2**20
MAX_FILE_BYTES = 2**20
DEFAULT_PAD_VALUE = 114  # older zoo files (YOLO-style letterbox grey)
_CHANNELS = 3
_FLOAT32_BYTES = 4


@dataclass(frozen=True)
class PreprocessSpec:
    """What the device does to a uint8 image before the model sees it; sizes are (H, W) in px."""

    source: str
    op_type: str  # the vendor's OpType string, kept for display only
    kind: OpKind
    input_format: InputFormat
    norm: Norm
    color: ColorConversion
    resize_method: ResizeMethod
    input_hw: tuple[int, int] | None = None  # nominal: real inputs keep their own size
    output_hw: tuple[int, int] | None = None
    resize_hw: tuple[int, int] | None = None
    crop_xy: tuple[int, int] | None = None  # (x, y) of the top-left corner; None: centred
    crop_hw: tuple[int, int] | None = None
    pad_edges: PadEdges | None = None
    pad_value: tuple[int, int, int] = (DEFAULT_PAD_VALUE,) * 3  # in input channel order
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    # Recorded for reports; they do not change the computation (see the module docstring).
    input_pitch_hw: tuple[int, int] | None = None
    output_pitch_hw: tuple[int, int] | None = None
    output_format: InputFormat | None = None
    scale: tuple[float, ...] | None = None
    tensor_type: str | None = None

    @property
    def passthrough(self) -> bool:
        return self.kind is OpKind.PASSTHROUGH

    @property
    def input_layout(self) -> Literal["chw", "hwc", "nv12"]:
        if self.input_format is InputFormat.NV12:
            return "nv12"
        if self.input_format in (InputFormat.RGB_HWC, InputFormat.BGR_HWC):
            return "hwc"
        return "chw"

    @property
    def input_label(self) -> str:
        return FORMAT_LABELS[self.input_format]

    @property
    def resize_label(self) -> str:
        return RESIZE_LABELS[self.resize_method]

    @property
    def nominal_input_chw(self) -> tuple[int, int, int] | None:
        if self.input_hw is None:
            return None
        return (_CHANNELS, *self.input_hw)

    def with_output_hw(self, height_px: int, width_px: int) -> PreprocessSpec:
        """A copy whose output size is set (usually the model's fixed input H, W)."""
        for name, value in (("height", height_px), ("width", width_px)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIDE_PX:
                raise InputError(
                    f"{self.source}: output {name} {value!r} is out of range 1..{MAX_SIDE_PX} px; "
                    "the model's input H, W must be positive integers"
                )
        _check_area(self.source, "output size", (height_px, width_px))
        spec = dataclasses.replace(self, output_hw=(height_px, width_px))
        _check_geometry(spec, "the model's input size")
        return spec

    def to_dict(self) -> dict[str, Any]:
        """JSON-able view with our own names (enum values, lists for tuples), for reports."""
        return {field.name: _jsonable(getattr(self, field.name)) for field in dataclasses.fields(self)}


def _jsonable(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, PadEdges):
        return value._asdict()
    if isinstance(value, tuple):
        return [_jsonable(item) for item in value]
    return value


# --- loading -----------------------------------------------------------------------------------


def load_vdsp(path: str | Path) -> PreprocessSpec:
    """Read a vdsp_params file (JSON, or YAML when it ends in .yaml/.yml) and validate it."""
    file_path = Path(path)
    text = _read_text(file_path)
    check_nesting(text, str(file_path))
    if file_path.suffix.lower() in (".yaml", ".yml"):
        obj = _parse_yaml(text, str(file_path))
    else:
        obj = _parse_json(text, str(file_path))
    return parse_vdsp(obj, str(file_path))


def _read_text(file_path: Path) -> str:
    fix = "check the --vdsp_params path"
    text = read_text_file(file_path, MAX_FILE_BYTES, str(file_path), "vdsp_params", fix)
    if not text.strip():
        raise InputError(f"{file_path}: is empty (a pipe with no writer reads as empty); {fix}")
    return text


class _DuplicateKeyError(ValueError):
    pass


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKeyError(f"duplicate key {shown_key(key)!r}")
        obj[key] = value
    return obj


def _parse_json(text: str, source: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "fix the syntax, or name the file .yaml if it is YAML"
        ) from None
    except _DuplicateKeyError as exc:
        raise InputError(f"{source}: not valid vdsp_params JSON ({exc}); keep one of each key") from None
    except (ValueError, RecursionError):
        # json raises these for a number over Python's digit limit and for very deep nesting.
        raise InputError(f"{source}: not valid vdsp_params JSON (a number too long or nesting too deep); fix the file") from None


def _parse_yaml(text: str, source: str) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        detail = " ".join(f"{where}{problem}".split())
        raise InputError(f"{source}: not valid YAML ({detail}); fix the syntax") from None
    except Exception as exc:  # noqa: BLE001 - see below
        # PyYAML's safe constructors raise plain Python errors (ValueError, IndexError,
        # AttributeError, ...) for values such as the date 2020-13-45, `!!float ''` or a
        # 5000-digit number, and RecursionError for deep nesting; none of them runs user code.
        # Their messages quote the value (`invalid literal for int(): 'hunter2'`): only the kind is shown.
        raise InputError(f"{source}: not valid YAML (a value cannot be read: {type(exc).__name__}); fix the file") from None


def parse_vdsp(obj: object, source: str) -> PreprocessSpec:
    """Validate an already-parsed vdsp_params object; every problem is one InputError line."""
    if not isinstance(obj, dict):
        raise InputError(
            f"{source}: a vdsp_params file holds one object {{\"OpType\": ..., \"OpConfig\": {{...}}}}, "
            f"not {type_name(obj)}; fix the file"
        )
    if obj and "OpType" not in obj and "OpConfig" not in obj:
        # Some other file (a secret, another tool's config): say so without echoing its keys.
        raise InputError(f"{source}: neither OpType nor OpConfig at the top level; not a vdsp_params file")
    unknown = sorted(str(key) for key in obj if key not in ("OpType", "OpConfig"))
    if unknown:
        raise InputError(
            f"{source}: unknown top-level key {shown_key(unknown[0])!r}; known keys: OpType, OpConfig"
        )
    op_type = obj.get("OpType")
    if not isinstance(op_type, str) or op_type not in OP_TYPES:
        shown = "missing" if "OpType" not in obj else f"{short_repr(op_type)} is not supported"
        raise InputError(f"{source}: OpType {shown}; use one of: {', '.join(OP_TYPES)}")
    config = obj.get("OpConfig", {})
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise InputError(
            f"{source}: OpConfig must be an object of keys, not {type_name(config)}; fix the file"
        )
    values = parse_op_config(config, source)
    spec = _build_spec(source, op_type, OP_TYPES[op_type], values)
    _check_geometry(spec, "OpConfig")
    return spec


# --- OpConfig keys: one parser per vendor key -------------------------------------------------


# --- building the spec -------------------------------------------------------------------------


def _pair(values: dict[str, Any], source: str, width_key: str, height_key: str) -> tuple[int, int] | None:
    """(H, W) from a vendor width/height key pair; one without the other is an error."""
    width, height = values.get(width_key), values.get(height_key)
    if width is None and height is None:
        return None
    if width is None or height is None:
        present, missing = (width_key, height_key) if width is not None else (height_key, width_key)
        raise InputError(f"{source}: OpConfig.{present} is set but OpConfig.{missing} is missing; give both")
    _check_area(source, f"OpConfig.{width_key} x {height_key} = {width} x {height}", (height, width))
    return (height, width)


def _check_area(source: str, what: str, hw: tuple[int, int]) -> None:
    tensor_bytes = hw[0] * hw[1] * _CHANNELS * _FLOAT32_BYTES
    if tensor_bytes > MAX_TENSOR_BYTES:
        raise InputError(
            f"{source}: {what} would need a {tensor_bytes / 2**20:.0f} MiB float32 tensor "
            f"(limit {MAX_TENSOR_BYTES // 2**20} MiB); use the model's real input size"
        )


def _input_format(values: dict[str, Any], info: OpInfo, source: str, op_type: str) -> InputFormat:
    color = values.get("ColorCvtCode")
    wants_nv12 = info.nv12 or color is ColorConversion.NV12_TO_RGB
    fmt: InputFormat = values.get("IimageFormat", InputFormat.NV12 if wants_nv12 else InputFormat.RGB_CHW)
    if info.nv12 and fmt is not InputFormat.NV12:
        raise InputError(f"{source}: {op_type} takes YUV_NV12 input, not OpConfig.IimageFormat = "
                         f"{_vendor_name(IMAGE_FORMATS, fmt)}; set IimageFormat to YUV_NV12 or remove it")
    takes_nv12 = info.nv12 or info.kind in (OpKind.SINGLE_COLOR, OpKind.PASSTHROUGH)
    if not takes_nv12 and fmt is InputFormat.NV12:
        raise InputError(f"{source}: {op_type} takes RGB/BGR input, not OpConfig.IimageFormat = YUV_NV12; "
                         "use a FUSION_OP_YUV_NV12_* OpType or an RGB format")
    return fmt


def _color(values: dict[str, Any], fmt: InputFormat, source: str) -> ColorConversion:
    default = ColorConversion.NV12_TO_RGB if fmt is InputFormat.NV12 else ColorConversion.NONE
    color: ColorConversion = values.get("ColorCvtCode", default)
    if (fmt is InputFormat.NV12) != (color is ColorConversion.NV12_TO_RGB):
        raise InputError(
            f"{source}: OpConfig.ColorCvtCode = {_vendor_name(COLOR_CODES, color)} does not fit "
            f"OpConfig.IimageFormat = {_vendor_name(IMAGE_FORMATS, fmt)}; YUV_NV12 input needs "
            "YUV2RGB_NV12 and YUV2RGB_NV12 needs YUV_NV12 input"
        )
    return color


def _norm(values: dict[str, Any], info: OpInfo, source: str, op_type: str) -> Norm:
    if info.kind is OpKind.PASSTHROUGH:
        return Norm.NONE
    if not info.fused:
        norm: Norm = values.get("NormaType", Norm.NONE)
        if norm is not Norm.NONE:
            raise InputError(f"{source}: OpConfig.NormaType = {_vendor_name(NORMS, norm)} but {op_type} "
                             "does not normalise; remove NormaType or set it to EQUAL")
        return norm
    if "NormaType" not in values:
        raise InputError(f"{source}: OpConfig.NormaType is missing; add one of: {', '.join(NORMS)}")
    norm = values["NormaType"]
    if norm in (Norm.UNIT_MEAN_STD, Norm.MEAN_STD):
        for key in ("Mean", "Std"):
            if key not in values:
                raise InputError(f"{source}: OpConfig.NormaType = {_vendor_name(NORMS, norm)} needs "
                                 f"OpConfig.{key} (3 values); add it")
    return norm


def _single_op_color(values: dict[str, Any], info: OpInfo, color: ColorConversion, source: str,
                     op_type: str) -> None:
    """Single resize/crop ops do only their step; a colour code there would be silently ignored."""
    if info.kind in (OpKind.SINGLE_RESIZE, OpKind.SINGLE_CROP) and color is not ColorConversion.NONE:
        raise InputError(f"{source}: OpConfig.ColorCvtCode = {_vendor_name(COLOR_CODES, color)} but "
                         f"{op_type} does not convert colour; remove ColorCvtCode or set NO_CHANGE")


def _pad_edges(values: dict[str, Any]) -> PadEdges | None:
    keys = ("PaddingTop", "PaddingBottom", "PaddingLeft", "PaddingRight")
    if not any(key in values for key in keys):
        return None
    return PadEdges(*(int(values.get(key, 0)) for key in keys))


def _crop_xy(values: dict[str, Any]) -> tuple[int, int] | None:
    if "CropX" not in values and "CropY" not in values:
        return None
    return (int(values.get("CropX", 0)), int(values.get("CropY", 0)))


def _build_spec(source: str, op_type: str, info: OpInfo, values: dict[str, Any]) -> PreprocessSpec:
    fmt = _input_format(values, info, source, op_type)
    color = _color(values, fmt, source)
    _single_op_color(values, info, color, source, op_type)
    spec = PreprocessSpec(
        source=source,
        op_type=op_type,
        kind=info.kind,
        input_format=fmt,
        norm=_norm(values, info, source, op_type),
        color=color,
        resize_method=values.get("ResizeType", ResizeMethod.OPENCV_BILINEAR),
        input_hw=_pair(values, source, "IimageWidth", "IimageHeight"),
        output_hw=_pair(values, source, "OimageWidth", "OimageHeight"),
        resize_hw=_pair(values, source, "ResizeWidth", "ResizeHeight"),
        crop_xy=_crop_xy(values),
        crop_hw=_pair(values, source, "CropWidth", "CropHeight"),
        pad_edges=_pad_edges(values),
        pad_value=values.get("Padding", (DEFAULT_PAD_VALUE,) * 3),
        mean=values.get("Mean"),
        std=values.get("Std"),
        input_pitch_hw=_pair(values, source, "IimageWidthPitch", "IimageHeightPitch"),
        output_pitch_hw=_pair(values, source, "OimageWidthPitch", "OimageHeightPitch"),
        output_format=values.get("OimageFormat"),
        scale=values.get("Scale"),
        tensor_type=values.get("TensorType0"),
    )
    return _with_derived_output(spec)


def _with_derived_output(spec: PreprocessSpec) -> PreprocessSpec:
    """The _EXT op's output size follows from resize + paddings, as the vendor SDK computes it."""
    if spec.kind is not OpKind.RESIZE_PAD or spec.resize_hw is None or spec.pad_edges is None:
        return spec
    derived_hw = ext_output_hw(spec.resize_hw, spec.pad_edges)
    if spec.output_hw is not None and spec.output_hw != derived_hw:
        raise InputError(
            f"{spec.source}: OimageWidth x OimageHeight = {spec.output_hw[1]} x {spec.output_hw[0]} but "
            f"Resize + Padding give {derived_hw[1]} x {derived_hw[0]}; make them agree or drop Oimage*"
        )
    _check_area(spec.source, "ResizeWidth/Height + Padding*", derived_hw)
    return dataclasses.replace(spec, output_hw=derived_hw)


def ext_output_hw(resize_hw: tuple[int, int], pad: PadEdges) -> tuple[int, int]:
    return (resize_hw[0] + pad.top + pad.bottom, resize_hw[1] + pad.left + pad.right)


def _check_geometry(spec: PreprocessSpec, origin: str) -> None:
    """Fail at load time on windows that can never fit, instead of on the first image."""
    out_hw = spec.output_hw
    if out_hw is None:
        return
    if spec.kind is OpKind.RESIZE_CROP and spec.resize_hw is not None:
        rh, rw = spec.resize_hw
        x, y = spec.crop_xy if spec.crop_xy is not None else ((rw - out_hw[1]) // 2, (rh - out_hw[0]) // 2)
        if x < 0 or y < 0 or x + out_hw[1] > rw or y + out_hw[0] > rh:
            raise InputError(
                f"{spec.source}: crop {out_hw[1]}x{out_hw[0]} (from {origin}) at CropX={x}, CropY={y} "
                f"does not fit inside ResizeWidth x ResizeHeight = {rw}x{rh}; fix the sizes"
            )
    if spec.kind is OpKind.RESIZE_PAD and spec.resize_hw is not None:
        if spec.pad_edges is not None:
            derived_hw = ext_output_hw(spec.resize_hw, spec.pad_edges)
            if derived_hw != out_hw:
                raise InputError(
                    f"{spec.source}: Resize + Padding give {derived_hw[1]}x{derived_hw[0]} but {origin} is "
                    f"{out_hw[1]}x{out_hw[0]}; make them agree"
                )
        elif out_hw[0] < spec.resize_hw[0] or out_hw[1] < spec.resize_hw[1]:
            raise InputError(
                f"{spec.source}: ResizeWidth x ResizeHeight = {spec.resize_hw[1]}x{spec.resize_hw[0]} is "
                f"larger than {origin} {out_hw[1]}x{out_hw[0]}, so it cannot be padded; fix the sizes"
            )


def _vendor_name(table: Mapping[str, object], value: object) -> str:
    return next(name for name, member in table.items() if member is value)


# --- description -------------------------------------------------------------------------------


def _size_text(hw: tuple[int, int] | None, unknown: str = "the model's input size") -> str:
    return unknown if hw is None else f"{hw[1]}x{hw[0]}"


def _crop_text(spec: PreprocessSpec, size_text: str) -> str:
    where = "centred" if spec.crop_xy is None else f"at x={spec.crop_xy[0]}, y={spec.crop_xy[1]}"
    return f"crop {size_text} {where}"


def _geometry_lines(spec: PreprocessSpec) -> list[str]:
    resize = f"({spec.resize_label})"
    out = _size_text(spec.output_hw)
    pad = f"({', '.join(str(v) for v in spec.pad_value)})"
    kind = spec.kind
    if kind in (OpKind.RESIZE, OpKind.SINGLE_RESIZE):
        fallback = "; native size kept when the model has none" if spec.output_hw is None else ""
        return [f"resize to {out} {resize}{fallback}"]
    if kind is OpKind.RESIZE_CROP:
        first = f"resize to {_size_text(spec.resize_hw)} {resize}" if spec.resize_hw else "no resize"
        return [first, _crop_text(spec, out)]
    if kind is OpKind.CROP_RESIZE:
        window = _size_text(spec.crop_hw, "to the image's far edges")
        return [_crop_text(spec, window), f"resize to {out} {resize}"]
    if kind is OpKind.LETTERBOX:
        return [f"letterbox into {out}: keep aspect ratio {resize}, pad centred with {pad}"]
    if kind is OpKind.RESIZE_PAD:
        edges = "centred" if spec.pad_edges is None else ", ".join(
            f"{name} {value}" for name, value in spec.pad_edges._asdict().items())
        first = f"resize to {_size_text(spec.resize_hw)} {resize}" if spec.resize_hw else "no resize"
        return [first, f"pad to {out} with {pad}: {edges}"]
    if kind is OpKind.SINGLE_CROP:
        return [_crop_text(spec, out)]
    return ["no resize: the image keeps its own size"]


def _norm_line(spec: PreprocessSpec) -> str:
    text = f"normalise: {NORM_LABELS[spec.norm]}"
    if spec.norm in (Norm.UNIT_MEAN_STD, Norm.MEAN_STD) and spec.mean and spec.std:
        text += f", mean=({', '.join(f'{v:g}' for v in spec.mean)}), std=({', '.join(f'{v:g}' for v in spec.std)})"
    return text


def _recorded_line(spec: PreprocessSpec) -> list[str]:
    parts = []
    if spec.input_pitch_hw:
        parts.append(f"input pitch {_size_text(spec.input_pitch_hw)}")
    if spec.output_pitch_hw:
        parts.append(f"output pitch {_size_text(spec.output_pitch_hw)}")
    if spec.scale:
        parts.append(f"scale {', '.join(f'{v:g}' for v in spec.scale)}")
    if spec.tensor_type:
        parts.append(f"tensor type {spec.tensor_type}")
    return [f"recorded, no effect on the tensor: {'; '.join(parts)}"] if parts else []


def describe_vdsp(spec: PreprocessSpec) -> list[str]:
    """The preprocessing pipeline in plain words, one step per line, in execution order."""
    if spec.passthrough:
        return [f"input: token ids passed to the model unchanged ({spec.op_type})"]
    nominal = f" (file says {_size_text(spec.input_hw)})" if spec.input_hw else ""
    lines = [f"input: {spec.input_label}, any size{nominal}"]
    if spec.color is ColorConversion.NV12_TO_RGB:
        lines.append(f"colour: {COLOR_LABELS[spec.color]}")
    lines += _geometry_lines(spec)
    if spec.color is not ColorConversion.NV12_TO_RGB:
        lines.append(f"colour: {COLOR_LABELS[spec.color]}")
    lines.append(_norm_line(spec))
    shape = "H,W" if spec.output_hw is None else f"{spec.output_hw[0]},{spec.output_hw[1]}"
    lines.append(f"tensor: float32 ({_CHANNELS},{shape})")
    return lines + _recorded_line(spec)
