"""The compiler YAML's `dataset` section: the calibration files and the `process_ops` applied to them.

vamc's meanings, as the zoo's files use them (VAMP-FORMATS.md section 6b):
- sizes are `[height, width]` (`Resize size: [48, 320]` for a 48x320 OCR input); one number is a
  square; -1 is "whatever the aspect ratio gives". With `adaptive_side: long` the image fits inside
  the box (`[640, -1]`: the long side becomes 640), with `short` it covers it (the short side
  becomes the size); `Pad: pad_to_square` then pads centred, so the two are the vdsp letterbox.
- `Normalize`: `div255` not given (or null) divides by 255 unless the mean is on the 0-255 scale
  (the zoo's 0-1 means come without div255, scrfd's 127.5 with `div255: null`); `norm_type: null`
  (or the string None beside div255 / mean) means "not given"; `norm_type: None` alone leaves
  normalisation to the device (--vdsp_params completes it).
- `DecodeImage` `cv2_flags: 0` decodes gray; `backend: pillow` decodes (and crops, resizes) with Pillow.
- no `process_ops` (token and point-cloud models), or `suffix: npz`: the files are npz inputs;
  no `path` (fp16 files keep their ops): nothing to calibrate on.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from vampy.config import (
    MAX_DIM,
    CenterCropOp,
    ChannelSplitOp,
    CvtColorOp,
    DatasetConfig,
    DecodeImageOp,
    NormalizeOp,
    PadOp,
    ProcessOp,
    ResizeOp,
    ToTensorOp,
)
from vampy.formats import compile_vocab as vocab
from vampy.formats.compile_checks import _bool, _choice, _Ctx, _int, _kind, _number, _section, _text

NPZ_SUFFIX = "npz"
# vamc norm_type spellings -> CompileConfig's normalisation names (vampy.formats.vdsp.Norm values).
_NORM_TYPES = {
    "none": "none",
    "div255": "unit",
    "minusmean_divstd": "mean_std",
    "div255_minusmean_divstd": "unit_mean_std",
}
_INTERPOLATIONS = {"nearest": "nearest", "bilinear": "bilinear", "linear": "bilinear", "bicubic": "bicubic",
                   "cubic": "bicubic", "area": "area", "lanczos": "lanczos"}
_BACKENDS = {"cv2": "cv2", "opencv": "cv2", "pillow": "pillow", "pil": "pillow"}
# cv2.imread flags: the colour ones decode RGB, the gray one one plane (IMREAD_UNCHANGED's alpha is dropped).
_COLOUR_FLAGS = {"IMREAD_COLOR": 1, "IMREAD_UNCHANGED": -1, "IMREAD_ANYCOLOR": 4, "IMREAD_GRAYSCALE": 0}
_GRAY_FLAG = 0
_CV_CODE = re.compile(r"^COLOR_[A-Za-z0-9_]+$")
_FREE = -1  # vamc's "this side follows the aspect ratio"
# A mean above this is on the 0-255 scale: div255, when not given, is then false.
_UNIT_SCALE_MAX = 1.0


def parse_dataset(ctx: _Ctx, obj: object) -> DatasetConfig:
    d = _section(ctx, obj, "dataset", vocab.DATASET_KEYS)
    sampler = _section(ctx, d.get("sampler") or {}, "dataset.sampler", vocab.SAMPLER_KEYS)
    num = sampler.get("get_data_num")
    suffixes = _suffixes(ctx, sampler.get("suffix"))
    kind = _kind_of_data(ctx, suffixes, d.get("process_ops"))
    return DatasetConfig(
        path=None if d.get("path") is None else _text(ctx, "dataset.path", d["path"]),
        suffixes=suffixes,
        pattern=_pattern(ctx, sampler.get("pattern", "*")),
        max_samples=None if num is None else _int(ctx, "dataset.sampler.get_data_num", num, 1, 10**7),
        ops=_process_ops(ctx, d["process_ops"]) if kind == "images" and d.get("process_ops") is not None else (),
        kind=kind,
    )


def _kind_of_data(ctx: _Ctx, suffixes: tuple[str, ...], ops: object) -> str:
    """npz inputs when the suffix says so or there is nothing to apply to images; else images."""
    if NPZ_SUFFIX in suffixes:
        if len(suffixes) > 1:
            raise ctx.error("dataset.sampler.suffix", "npz inputs and images cannot be mixed; give suffix: npz or image suffixes")
        if ops is not None:
            ctx.notes.append("dataset.process_ops: not used; the npz files hold the model's inputs as they are fed")
        return "npz"
    if ops is None and not suffixes:
        return "npz"
    if ops is None:
        ctx.notes.append("dataset: no process_ops; each image is decoded to RGB and fed as it is (DecodeImage, ToTensor)")
    return "images"


def _suffixes(ctx: _Ctx, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(s, str) and s.strip(" .") for s in items):
        raise ctx.error("dataset.sampler.suffix", f"expected a file suffix such as bmp (or a list), got {_kind(value)}")
    return tuple(s.strip().lstrip(".").lower() for s in items)


def _pattern(ctx: _Ctx, value: object) -> str:
    pattern = _text(ctx, "dataset.sampler.pattern", value)
    if "/" in pattern or "\\" in pattern:
        raise ctx.error("dataset.sampler.pattern", f"{pattern!r} matches file names inside dataset.path; no folders (e.g. '*_scale_4.bmp')")
    return pattern


# --- process_ops ---


def _process_ops(ctx: _Ctx, obj: object) -> tuple[ProcessOp, ...]:
    key = "dataset.process_ops"
    if not isinstance(obj, list) or not obj:
        raise ctx.error(key, f"expected a list of operations starting with '- type: DecodeImage', got {_kind(obj)}")
    ops = tuple(_process_op(ctx, f"{key}[{k}]", item) for k, item in enumerate(obj))
    if not isinstance(ops[0], DecodeImageOp) or any(isinstance(op, DecodeImageOp) for op in ops[1:]):
        raise ctx.error(key, "DecodeImage must come first, once (it reads each file as an RGB image)")
    tensors = [k for k, op in enumerate(ops) if isinstance(op, ToTensorOp)]
    if tensors and tensors != [len(ops) - 1]:
        raise ctx.error(f"{key}[{tensors[0]}]", "ToTensor must be the last operation, once")
    return ops


def _process_op(ctx: _Ctx, key: str, obj: object) -> ProcessOp:
    if not isinstance(obj, Mapping) or not isinstance(obj.get("type"), str):
        raise ctx.error(key, f"expected a mapping with a 'type' (e.g. type: Resize), got {_kind(obj)}")
    kind = obj["type"]
    if kind not in _OP_PARSERS:
        raise ctx.error(f"{key}.type", f"unknown operation {kind!r} (expected one of: {', '.join(_OP_PARSERS)})")
    allowed, parse = _OP_PARSERS[kind]
    params = _section(ctx, {k: v for k, v in obj.items() if k != "type"}, key, allowed)
    return parse(ctx, key, params)


def _backend(ctx: _Ctx, key: str, p: dict[str, Any]) -> str:
    return _BACKENDS[_choice(ctx, f"{key}.backend", p.get("backend", "cv2"), tuple(_BACKENDS))]


def _decode(ctx: _Ctx, key: str, p: dict[str, Any]) -> ProcessOp:
    """cv2_flags: a cv2.imread flag, as a number or a name (`IMREAD_GRAYSCALE`, `cv2.IMREAD_COLOR`)."""
    flags = p.get("cv2_flags", 1)
    name = flags.split(".")[-1].strip() if isinstance(flags, str) else None
    value = _COLOUR_FLAGS.get(name) if name is not None else flags
    if isinstance(value, bool) or value not in _COLOUR_FLAGS.values():
        accepted = ", ".join(f"{v} ({n})" for n, v in _COLOUR_FLAGS.items())
        raise ctx.error(f"{key}.cv2_flags", f"{_kind(flags)} is not a flag vampy decodes with; use one of {accepted}")
    return DecodeImageOp(backend=_backend(ctx, key, p), grayscale=value == _GRAY_FLAG)


def _cvt_color(ctx: _Ctx, key: str, p: dict[str, Any]) -> ProcessOp:
    code = _text(ctx, f"{key}.code", p.get("code"))
    if not _CV_CODE.match(code):
        raise ctx.error(f"{key}.code", f"{code!r} is not an OpenCV colour code name such as COLOR_RGB2YCrCb")
    return CvtColorOp(code)


def _size_hw(ctx: _Ctx, key: str, value: object, free: bool = False) -> tuple[int, int]:
    """vamc's size: one number (a square) or [height, width]; with `free`, one side may be -1."""
    low = _FREE if free else 1
    if isinstance(value, int) and not isinstance(value, bool):
        side = _int(ctx, key, value, 1, MAX_DIM)
        return side, side
    if isinstance(value, (list, tuple)) and len(value) == 2:
        height, width = (_int(ctx, key, v, low, MAX_DIM) for v in value)
        if 0 in (height, width) or height == width == _FREE:
            raise ctx.error(key, f"{_kind(value)}: sides must be positive; one of them may be -1 (it follows the aspect ratio)")
        return height, width
    raise ctx.error(key, f"expected one number or [height, width], got {_kind(value)}")


def _resize(ctx: _Ctx, key: str, p: dict[str, Any]) -> ProcessOp:
    if "size" not in p:
        raise ctx.error(f"{key}.size", "missing; give one number or [height, width]")
    height, width = _size_hw(ctx, f"{key}.size", p["size"], free=True)
    side = None if p.get("adaptive_side") is None else _choice(ctx, f"{key}.adaptive_side", p["adaptive_side"], ("short", "long"))
    if side is not None:
        # [640, -1] long: the long side becomes 640, i.e. fit inside 640x640 (short: cover it).
        height, width = (width if height == _FREE else height), (height if width == _FREE else width)
    return ResizeOp(
        size_wh=(max(width, 0), max(height, 0)),  # 0: follows the aspect ratio
        interpolation=_INTERPOLATIONS[_choice(ctx, f"{key}.interpolation", p.get("interpolation", "bilinear"), tuple(_INTERPOLATIONS))],
        backend=_backend(ctx, key, p),
        adaptive_side=side,
    )


def _channel_split(ctx: _Ctx, key: str, p: dict[str, Any]) -> ProcessOp:
    return ChannelSplitOp(_int(ctx, f"{key}.index", p.get("index"), 0, 3))


def _normalize(ctx: _Ctx, key: str, p: dict[str, Any]) -> ProcessOp:
    mean = _channels(ctx, f"{key}.mean", p.get("mean"))
    std = _channels(ctx, f"{key}.std", p.get("std"))
    norm = _norm_type(ctx, key, p, mean)
    if norm in ("mean_std", "unit_mean_std"):
        if mean is None or std is None:
            raise ctx.error(key, "this norm_type needs both mean and std")
        if len(mean) != len(std) or any(s == 0 for s in std):
            raise ctx.error(f"{key}.std", "mean and std need the same number of values, and std no zeros")
    return NormalizeOp(norm, mean, std, raw_by_choice=norm == "none" and p.get("div255") is False)


def _norm_type(ctx: _Ctx, key: str, p: dict[str, Any], mean: tuple[float, ...] | None) -> str:
    value = p.get("norm_type")
    has_mean, has_div255 = mean is not None, p.get("div255") is not None
    absent = value is None or (isinstance(value, str) and value.strip().lower() == "none" and (has_div255 or has_mean))
    if absent and "norm_type" in p and not has_div255 and not has_mean:
        return "none"  # `norm_type: None` alone: the device normalises (the seed's VDSR file)
    # div255 not given: divide unless the mean is on the 0-255 scale (then x - mean is what the file means)
    unit_mean = mean is None or max(abs(m) for m in mean) <= _UNIT_SCALE_MAX
    div255 = _bool(ctx, f"{key}.div255", p["div255"]) if has_div255 else unit_mean
    from_switches = ("unit_mean_std" if has_mean else "unit") if div255 else ("mean_std" if has_mean else "none")
    if absent:
        return from_switches
    norm = _NORM_TYPES[_choice(ctx, f"{key}.norm_type", value, tuple(_NORM_TYPES))]
    if has_div255 and (norm in ("unit", "unit_mean_std")) != div255:
        raise ctx.error(f"{key}.div255", f"div255: {str(div255).lower()} contradicts norm_type {value}; keep one of them")
    return norm


def _channels(ctx: _Ctx, key: str, value: object) -> tuple[float, ...] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= 4:
        raise ctx.error(key, f"expected a list of 1 to 4 numbers, got {_kind(value)}")
    return tuple(_number(ctx, key, v) for v in value)


def _to_tensor(ctx: _Ctx, key: str, p: dict[str, Any]) -> ProcessOp:
    return ToTensorOp()


def _center_crop(ctx: _Ctx, key: str, p: dict[str, Any]) -> ProcessOp:
    if "crop_size" not in p:
        raise ctx.error(f"{key}.crop_size", "missing; give one number or [height, width]")
    height, width = _size_hw(ctx, f"{key}.crop_size", p["crop_size"])
    return CenterCropOp((width, height), _backend(ctx, key, p))


def _pad(ctx: _Ctx, key: str, p: dict[str, Any]) -> ProcessOp:
    square = _bool(ctx, f"{key}.pad_to_square", p.get("pad_to_square", False))
    size = _size_hw(ctx, f"{key}.size", p["size"]) if p.get("size") is not None else None
    if square == (size is not None):
        raise ctx.error(key, "give either pad_to_square: true or size: [height, width]")
    value = None if p.get("value") is None else _number(ctx, f"{key}.value", p["value"])
    return PadOp(pad_to_square=square, size_wh=None if size is None else (size[1], size[0]), value=value)


_OP_PARSERS: dict[str, tuple[tuple[str, ...], Callable[[_Ctx, str, dict[str, Any]], ProcessOp]]] = {
    "DecodeImage": (("backend", "cv2_flags"), _decode),
    "CvtColor": (("code",), _cvt_color),
    "Resize": (("size", "interpolation", "backend", "adaptive_side"), _resize),
    "ChannelSplit": (("index",), _channel_split),
    "Normalize": (("norm_type", "mean", "std", "div255"), _normalize),
    "ToTensor": ((), _to_tensor),
    "CenterCrop": (("crop_size", "backend"), _center_crop),
    "Pad": (("pad_to_square", "size", "value"), _pad),
}


__all__ = ["NPZ_SUFFIX", "parse_dataset"]
