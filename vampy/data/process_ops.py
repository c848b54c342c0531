"""A vamc YAML's `dataset.process_ops` applied to one image, with vampy.data.preprocess's primitives.

The op records (DecodeImageOp, ResizeOp, ...) are vampy.config's; this module only applies them,
so the compiler's calibration images and the vdsp pipeline of `vampy run` share one resize, crop,
pad, colour conversion and normalisation. The image stays HWC (or HW) until ToTensor, implied at
the end, makes float32 CHW.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vampy.config import (
    CenterCropOp,
    ChannelSplitOp,
    CvtColorOp,
    DecodeImageOp,
    NormalizeOp,
    PadOp,
    ProcessOp,
    ResizeOp,
    ToTensorOp,
)
from vampy.data.imaging import read_image
from vampy.data.preprocess import convert_colour, crop_image, is_colour_code, normalise_inplace, normalised_range, pad_image, resize_image
from vampy.errors import MAX_REASON_CHARS, InputError, VampyError, first_line
from vampy.formats.vdsp import PadEdges


def check_colour_codes(ops: tuple[ProcessOp, ...], where: str) -> None:
    """Every CvtColor code names an OpenCV constant; `where` starts the message (e.g. 'x.yaml: dataset.process_ops')."""
    for k, op in enumerate(ops):
        if isinstance(op, CvtColorOp) and not is_colour_code(op.code):
            raise InputError(f"{where}[{k}].code: OpenCV has no colour code {op.code}")


def image_tensor(path: Path, ops: tuple[ProcessOp, ...], where: str) -> np.ndarray:
    """One image file through the ops -> float32 CHW; a failing op is one InputError naming it and the file."""
    image: np.ndarray = read_image(path)[:, :, ::-1]  # DecodeImage: RGB, as the vendor's pipeline
    for k, op in enumerate(ops):
        try:
            image = apply_op(image, op)
        except VampyError:
            raise
        except Exception as exc:  # noqa: BLE001 - cv2.error and numpy errors from a bad op/image pair
            raise InputError(f"{where}[{k}] ({type(op).__name__[:-2]}) fails on {path.name}: {first_line(exc, MAX_REASON_CHARS)}") from None
    return to_tensor(image)


def apply_op(image: np.ndarray, op: ProcessOp) -> np.ndarray:
    """One op on an HWC (or HW) image; ValueError (or cv2.error) when it does not fit the image."""
    return _APPLY[type(op)](image, op)


def to_tensor(image: np.ndarray) -> np.ndarray:
    """HWC (or HW) -> contiguous float32 CHW."""
    hwc = image if image.ndim == 3 else image[:, :, None]
    return np.ascontiguousarray(hwc.transpose(2, 0, 1), dtype=np.float32)


def norm_range(op: NormalizeOp) -> tuple[float, float]:
    """What uint8 pixels 0..255 become under this Normalize op (over all channels)."""
    return normalised_range(op.norm, op.mean, op.std)


def _cvt_color(image: np.ndarray, op: CvtColorOp) -> np.ndarray:
    return convert_colour(image, op.code)


def _resize_wh(image: np.ndarray, op: ResizeOp) -> tuple[int, int]:
    if op.adaptive_side is None:
        return op.size_wh
    h, w = image.shape[:2]
    side = min(h, w) if op.adaptive_side == "short" else max(h, w)
    scale = op.size_wh[0] / side
    return max(1, round(w * scale)), max(1, round(h * scale))


def _resize(image: np.ndarray, op: ResizeOp) -> np.ndarray:
    return resize_image(image, _resize_wh(image, op), op.interpolation, op.backend)


def _channel_split(image: np.ndarray, op: ChannelSplitOp) -> np.ndarray:
    hwc = image if image.ndim == 3 else image[:, :, None]
    if op.index >= hwc.shape[2]:
        raise ValueError(f"index {op.index} but the image has {hwc.shape[2]} channel(s)")
    return hwc[:, :, op.index : op.index + 1]


def _normalise(image: np.ndarray, op: NormalizeOp) -> np.ndarray:
    x = image.astype(np.float32)
    normalise_inplace(x, op.norm, op.mean, op.std, channel_axis=2 if x.ndim == 3 else None)
    return x


def _center_crop(image: np.ndarray, op: CenterCropOp) -> np.ndarray:
    return crop_image(image, op.size_wh)


def _pad(image: np.ndarray, op: PadOp) -> np.ndarray:
    """To a square or a size, at the bottom and right (as mmcv's Pad)."""
    ih, iw = image.shape[:2]
    w, h = (max(ih, iw), max(ih, iw)) if op.pad_to_square else (op.size_wh or (iw, ih))
    if h < ih or w < iw:
        raise ValueError(f"pad to {w}x{h} is smaller than the image {iw}x{ih}")
    return pad_image(image, PadEdges(0, h - ih, 0, w - iw), op.value)


def _identity(image: np.ndarray, op: ProcessOp) -> np.ndarray:
    return image


_APPLY: dict[type, Callable[[np.ndarray, Any], np.ndarray]] = {
    DecodeImageOp: _identity,  # done before the loop: every file is decoded
    CvtColorOp: _cvt_color,
    ResizeOp: _resize,
    ChannelSplitOp: _channel_split,
    NormalizeOp: _normalise,
    ToTensorOp: _identity,  # done after the loop
    CenterCropOp: _center_crop,
    PadOp: _pad,
}


__all__ = ["apply_op", "check_colour_codes", "image_tensor", "norm_range", "to_tensor"]
