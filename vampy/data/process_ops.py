"""A vamc YAML's `dataset.process_ops` applied to one image, with vampy.data.preprocess's primitives.

The op records (DecodeImageOp, ResizeOp, ...) are vampy.config's; this module only applies them,
so the compiler's calibration images and the vdsp pipeline of `vampy run` share one resize, crop,
pad, colour conversion and normalisation: `Resize adaptive_side: long` + `Pad pad_to_square` is
the vdsp letterbox (its scaled size, its centred padding, its pad value). The image stays HWC (or
HW) until ToTensor, implied at the end, makes float32 CHW. Decoding is OpenCV's (RGB, or one gray
plane for `cv2_flags: 0`) or Pillow's (`backend: pillow`).
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
from vampy.data.preprocess import (
    centred_edges,
    convert_colour,
    crop_image,
    is_colour_code,
    normalise_inplace,
    normalised_range,
    pad_image,
    resize_image,
    scaled_hw,
)
from vampy.errors import MAX_REASON_CHARS, InputError, VampyError, first_line
from vampy.formats.vdsp import DEFAULT_PAD_VALUE


def check_colour_codes(ops: tuple[ProcessOp, ...], where: str) -> None:
    """Every CvtColor code names an OpenCV constant; `where` starts the message (e.g. 'x.yaml: dataset.process_ops')."""
    for k, op in enumerate(ops):
        if isinstance(op, CvtColorOp) and not is_colour_code(op.code):
            raise InputError(f"{where}[{k}].code: OpenCV has no colour code {op.code}")


def image_tensor(path: Path, ops: tuple[ProcessOp, ...], where: str) -> np.ndarray:
    """One image file through the ops -> float32 CHW; a failing op is one InputError naming it and the file."""
    decode = ops[0] if ops and isinstance(ops[0], DecodeImageOp) else DecodeImageOp()
    image = decode_image(path, decode)
    for k, op in enumerate(ops):
        try:
            image = apply_op(image, op)
        except VampyError:
            raise
        except Exception as exc:  # noqa: BLE001 - cv2.error and numpy errors from a bad op/image pair
            raise InputError(f"{where}[{k}] ({type(op).__name__[:-2]}) fails on {path.name}: {first_line(exc, MAX_REASON_CHARS)}") from None
    return to_tensor(image)


def decode_image(path: Path, op: DecodeImageOp) -> np.ndarray:
    """The file as HxWx3 uint8 RGB (as the vendor's pipeline decodes), or HxW gray."""
    if op.backend == "pillow":
        return _pillow_decode(path, op.grayscale)
    if op.grayscale:
        return read_image(path, gray=True)
    return read_image(path)[:, :, ::-1]


def _pillow_decode(path: Path, grayscale: bool) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L" if grayscale else "RGB"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such image file") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not an image Pillow can decode ({first_line(exc, MAX_REASON_CHARS)})") from None


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


_SCALE_MODES = {None: "follow", "long": "fit", "short": "cover"}


def _resize_wh(image: np.ndarray, op: ResizeOp) -> tuple[int, int]:
    """long: fit inside the box (the letterbox's scaled size); short: cover it; a 0 side follows the ratio."""
    box_hw = (op.size_wh[1], op.size_wh[0])
    height, width = scaled_hw((image.shape[0], image.shape[1]), box_hw, _SCALE_MODES[op.adaptive_side])
    return width, height


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
    if op.backend != "pillow":
        return crop_image(image, op.size_wh)
    # torchvision's CenterCrop on a PIL image rounds the corner; OpenCV-style code floors it.
    width, height = op.size_wh
    corner_xy = (int(round((image.shape[1] - width) / 2.0)), int(round((image.shape[0] - height) / 2.0)))
    return crop_image(image, op.size_wh, corner_xy)


def _pad(image: np.ndarray, op: PadOp) -> np.ndarray:
    """To a square or a size, centred, as the vdsp letterbox pads (value None: its default pad value)."""
    ih, iw = image.shape[:2]
    w, h = (max(ih, iw), max(ih, iw)) if op.pad_to_square else (op.size_wh or (iw, ih))
    if h < ih or w < iw:
        raise ValueError(f"pad to {w}x{h} is smaller than the image {iw}x{ih}")
    value = DEFAULT_PAD_VALUE if op.value is None else op.value
    return pad_image(image, centred_edges((ih, iw), (h, w)), value)


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


__all__ = ["apply_op", "check_colour_codes", "decode_image", "image_tensor", "norm_range", "to_tensor"]
