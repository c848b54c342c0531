"""Images in and out (OpenCV): read, luminance, CHW tensors for npz inputs, colourised SR images.

Two luminance definitions, because the SR literature and the vendor disagree:
- "opencv": `cv2.COLOR_BGR2YCrCb` channel 0, full range, Y = 0.299 R + 0.587 G + 0.114 B
  (what the vendor's scripts and image2npz use);
- "bt601": MATLAB's `rgb2ycbcr`, studio range 16-235,
  Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 with R, G, B on 0-255
  (what the VDSR paper's numbers use).
Every Y plane is rounded to uint8 here, as MATLAB does for uint8 input and as an npz holds it.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vampy.config import IMAGE2NPZ_MODES as MODES
from vampy.config import YCBCR_METHODS
from vampy.errors import InputError

IMAGE_SUFFIXES = (".bmp", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

# MATLAB rgb2ycbcr on RGB scaled to [0, 1]: rows Y, Cb, Cr.
_BT601_MATRIX = np.array(
    [[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]], dtype=np.float64
)
_BT601_OFFSET = np.array([16.0, 128.0, 128.0])


def read_image(path: Path, gray: bool = False) -> np.ndarray:
    """A colour image as HxWx3 BGR uint8 (gray: OpenCV's IMREAD_GRAYSCALE, HxW); InputError naming the
    file when missing or undecodable."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise InputError(f"{path}: no such image file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the image ({exc.strerror or exc})") from None
    # imdecode (not imread) so a missing file and a corrupt one give different messages.
    image = (cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None) if gray else decode_image_bytes(data)
    if image is None:
        raise InputError(f"{path}: not an image OpenCV can decode (empty, corrupt or unsupported format)")
    return np.asarray(image)


def _check_bgr(bgr_u8: np.ndarray) -> None:
    if bgr_u8.dtype != np.uint8 or bgr_u8.ndim != 3 or bgr_u8.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 BGR image, got {bgr_u8.dtype} {bgr_u8.shape}")


def _check_method(method: str) -> None:
    if method not in YCBCR_METHODS:
        raise ValueError(f"unknown YCbCr method {method!r}; choose one of {', '.join(YCBCR_METHODS)}")


def _round_u8(values: np.ndarray) -> np.ndarray:
    # floor(x + 0.5), as MATLAB rounds halves away from zero (np.round rounds them to even).
    return np.clip(np.floor(values + 0.5), 0, 255).astype(np.uint8)


def _bt601_ycbcr(bgr_u8: np.ndarray) -> np.ndarray:
    rgb_unit = bgr_u8[:, :, ::-1].astype(np.float64) / 255.0
    ycbcr: np.ndarray = rgb_unit @ _BT601_MATRIX.T + _BT601_OFFSET
    return ycbcr


def to_y(bgr_u8: np.ndarray, method: str = "opencv") -> np.ndarray:
    """The luminance plane, HxW uint8, by `method` ("opencv" or "bt601", see the module doc)."""
    _check_bgr(bgr_u8)
    _check_method(method)
    if method == "opencv":
        return np.ascontiguousarray(cv2.cvtColor(bgr_u8, cv2.COLOR_BGR2YCrCb)[:, :, 0])
    return _round_u8(_bt601_ycbcr(bgr_u8)[:, :, 0])


def image_to_chw(bgr_u8: np.ndarray, mode: str, method: str = "opencv") -> np.ndarray:
    """The npz tensor for one image, uint8 CHW: rgb (3,H,W), y3 (Y three times), gray (1,H,W) Y."""
    _check_bgr(bgr_u8)
    if mode == "rgb":
        return np.ascontiguousarray(bgr_u8[:, :, ::-1].transpose(2, 0, 1))
    if mode == "y3":
        return np.ascontiguousarray(np.broadcast_to(to_y(bgr_u8, method), (3, *bgr_u8.shape[:2])))
    if mode == "gray":
        return to_y(bgr_u8, method)[np.newaxis]
    raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")


def resize_plane(plane: np.ndarray, height_px: int, width_px: int) -> np.ndarray:
    """Bilinear resize (cv2.INTER_LINEAR) to width x height; a no-op at the same size.

    Bilinear because it reproduces the vendor's VDSR table: see vampy/quality/evaluate.py.
    """
    if plane.shape[:2] == (height_px, width_px):
        return plane
    return cv2.resize(plane, (width_px, height_px), interpolation=cv2.INTER_LINEAR)


def resize_image(bgr_u8: np.ndarray, height_px: int, width_px: int) -> np.ndarray:
    """Bicubic resize (cv2.INTER_CUBIC) to width x height, a no-op at the same size: for pictures
    shown side by side (the HTML report's crops), never for scores (those use resize_plane)."""
    if bgr_u8.shape[:2] == (height_px, width_px):
        return bgr_u8
    return cv2.resize(bgr_u8, (width_px, height_px), interpolation=cv2.INTER_CUBIC)


def colourise(y_u8: np.ndarray, source_bgr_u8: np.ndarray, method: str = "opencv") -> np.ndarray:
    """A BGR image whose Y is `y_u8` (the model's) and whose chroma comes from the source image.

    The source is resized to the Y plane's size first (bilinear), since at --input_shape the
    model's output is not at the source's size.
    """
    _check_bgr(source_bgr_u8)
    _check_method(method)
    source = resize_plane(source_bgr_u8, *y_u8.shape[:2])
    if method == "opencv":
        ycrcb = cv2.cvtColor(source, cv2.COLOR_BGR2YCrCb)
        ycrcb[:, :, 0] = y_u8
        return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2BGR)
    ycbcr = _bt601_ycbcr(source)
    ycbcr[:, :, 0] = y_u8
    rgb_unit = (ycbcr - _BT601_OFFSET) @ np.linalg.inv(_BT601_MATRIX).T
    return _round_u8(rgb_unit * 255.0)[:, :, ::-1].copy()


def decode_image_bytes(data: np.ndarray) -> np.ndarray | None:
    """An encoded image (bytes as uint8, any format OpenCV reads) as HxWx3 BGR; None when it cannot."""
    image: np.ndarray | None = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return image


def encode_image(bgr_u8: np.ndarray, suffix: str) -> np.ndarray:
    """The image encoded in the format its file suffix names (".png", ".bmp", ...), as uint8 bytes."""
    ok, buffer = cv2.imencode(suffix.lower(), bgr_u8)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {bgr_u8.shape} image as {suffix}")
    encoded: np.ndarray = buffer
    return encoded


def encode_png(bgr_u8: np.ndarray) -> bytes:
    """PNG bytes (lossless), for writing through the atomic writer."""
    return encode_image(bgr_u8, ".png").tobytes()
