"""The steps of a `Scoring` (vampy/quality/presets.py): decode an output, read its ground truth, score.

Each function does what the zoo's scripts do, in their order and dtypes (float32 arithmetic on
the output, OpenCV or Pillow exactly as the record names), so the numbers match theirs.
"""
from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from vampy.data.imaging import read_image
from vampy.errors import InputError, UsageError
from vampy.quality.metrics import psnr_vendor, ssim_vendor
from vampy.quality.presets import Scoring

_SCALE_SUFFIX = re.compile(r"(x\d+|_scale_\d+)$")
_CV2_INTERPOLATION = {"cv2_linear": cv2.INTER_LINEAR, "cv2_area": cv2.INTER_AREA}
_PIL_INTERPOLATION = {"pil_nearest": Image.Resampling.NEAREST, "pil_bicubic": Image.Resampling.BICUBIC}


def gt_name(stem: str, s: Scoring) -> str:
    """The ground-truth file name for a datalist stem: Set5's LRBI -> HR, else the scale suffix stripped."""
    if s.name_rule == "same":
        return stem + s.gt_suffix
    if "LRBI" in stem:
        return stem.replace("LRBI", "HR") + s.gt_suffix
    return _SCALE_SUFFIX.sub("", stem) + s.gt_suffix


def output_array(arrays: dict[str, np.ndarray], s: Scoring, where: str) -> np.ndarray:
    """The output tensor the record reads, checked: (1, 3, H, W) for rgb, (1, C, H, W) for y."""
    if s.output_key not in arrays:
        raise InputError(f"{where}: no key {s.output_key} (keys: {', '.join(sorted(arrays))}); preset {s.name} reads {s.output_key}")
    out = arrays[s.output_key]
    channels = 3 if s.layout == "rgb" else None
    if out.ndim != 4 or out.shape[0] < 1 or (channels and out.shape[1] != channels) or 0 in out.shape:
        want = "(1, 3, H, W) RGB" if channels else "(1, 1, H, W) Y"
        raise InputError(f"{where}: {s.output_key} has shape {out.shape}; preset {s.name} expects {want}")
    if not np.issubdtype(out.dtype, np.number) or np.issubdtype(out.dtype, np.complexfloating):
        raise InputError(f"{where}: {s.output_key} has dtype {out.dtype}; expected a real number type")
    if not np.isfinite(out).all():
        raise InputError(f"{where}: {s.output_key} holds NaN or infinite values")
    return out


def to_pixels(values: np.ndarray, s: Scoring) -> np.ndarray:
    """Affine, clip, scale, then float / round / truncate, in float32 as the scripts compute."""
    x = values.astype(np.float32)
    x = x * np.float32(s.gain) + np.float32(s.offset) if s.affine_order == "mul_add" else (x + np.float32(s.offset)) * np.float32(s.gain)
    if s.clip is not None:
        x = np.clip(x, s.clip[0], s.clip[1])
    if s.scale != 1.0:
        x = x * np.float32(s.scale)
    if s.quantise == "round":
        return np.round(x).astype(np.uint8)
    if s.quantise == "trunc":
        return x.astype(np.uint8)
    return x


def decode_rgb(out: np.ndarray, s: Scoring) -> np.ndarray:
    """1x3xHxW RGB -> HxWx3 in the record's colour order, as pixels."""
    hwc = out[0].transpose(1, 2, 0)
    if s.colour == "bgr":
        hwc = hwc[:, :, [2, 1, 0]]
    return to_pixels(hwc, s)


# SRCNN-pytorch's convert_rgb_to_ycbcr / convert_ycbcr_to_rgb, which ECBSR's scripts copy (SR-ZOO Q10).
def rgb_to_ycbcr_srcnn(rgb: np.ndarray) -> np.ndarray:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16.0 + (64.738 * r + 129.057 * g + 25.064 * b) / 256.0
    cb = 128.0 + (-37.945 * r - 74.494 * g + 112.439 * b) / 256.0
    cr = 128.0 + (112.439 * r - 94.154 * g - 18.285 * b) / 256.0
    return np.stack([y, cb, cr], axis=-1)


def ycbcr_to_rgb_srcnn(ycbcr: np.ndarray) -> np.ndarray:
    y, cb, cr = ycbcr[..., 0], ycbcr[..., 1], ycbcr[..., 2]
    r = 298.082 * y / 256.0 + 408.583 * cr / 256.0 - 222.921
    g = 298.082 * y / 256.0 - 100.291 * cb / 256.0 - 208.120 * cr / 256.0 + 135.576
    b = 298.082 * y / 256.0 + 516.412 * cb / 256.0 - 276.836
    return np.stack([r, g, b], axis=-1)


Y_CHROMA_SCALE = 2  # the ECBSR script resizes the LR chroma x2, hard-coded (fx=2): its models are x2


def decode_y_chroma(out: np.ndarray, lr_bgr: np.ndarray, input_hw: tuple[int, int], s: Scoring, where: str) -> np.ndarray:
    """ECBSR official: the model's Y (0..255, unclipped) with Cb/Cr of the LR (bilinear to the
    model input, SRCNN YCbCr, bilinear x2), back to RGB, clipped, truncated, as BGR."""
    y = out[0][0].astype(np.float32)
    lr = cv2.resize(lr_bgr, (input_hw[1], input_hw[0]), interpolation=cv2.INTER_LINEAR)
    ycbcr: np.ndarray = rgb_to_ycbcr_srcnn(lr[:, :, ::-1].astype(np.float32)).astype(np.float32)
    ycbcr = cv2.resize(ycbcr, None, fx=Y_CHROMA_SCALE, fy=Y_CHROMA_SCALE, interpolation=cv2.INTER_LINEAR)
    if ycbcr.shape[:2] != y.shape:
        raise InputError(f"{where}: Y output is {y.shape[0]}x{y.shape[1]} but --input_shape {input_hw[0]} {input_hw[1]} x2 is "
                         f"{ycbcr.shape[0]}x{ycbcr.shape[1]}; give the model's input size")
    ycbcr[..., 0] = y
    rgb = np.clip(ycbcr_to_rgb_srcnn(ycbcr), 0.0, 255.0).astype(np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1]) if s.colour == "bgr" else rgb


def read_gt(path: Path, s: Scoring, size_hw: tuple[int, int]) -> np.ndarray:
    """The ground truth as the record reads it, at size_hw, in its colour order (uint8 HxWx3)."""
    height, width = size_hw
    if s.gt_reader == "cv2":
        bgr = read_image(path)
        if s.gt_resize in _CV2_INTERPOLATION:
            bgr = cv2.resize(bgr, (width, height), interpolation=_CV2_INTERPOLATION[s.gt_resize])
        elif s.gt_resize != "none":
            raise InputError(f"scoring {s.name}: gt_resize {s.gt_resize} needs gt_reader pil")
        rgb = bgr[:, :, ::-1]
    else:
        rgb = _read_pil(path, s, width, height)
    if rgb.shape[:2] != (height, width):
        raise InputError(
            f"{path}: ground truth is {rgb.shape[0]}x{rgb.shape[1]} but the output is {height}x{width} "
            f"(preset {s.name}: gt_resize {s.gt_resize})"
        )
    return np.ascontiguousarray(rgb[:, :, ::-1] if s.colour == "bgr" else rgb)


def _read_pil(path: Path, s: Scoring, width: int, height: int) -> np.ndarray:
    try:
        with Image.open(path) as image:
            image.load()
            if s.gt_resize in _PIL_INTERPOLATION:
                image = image.resize((width, height), _PIL_INTERPOLATION[s.gt_resize])
            elif s.gt_resize == "crop_pil_bilinear":
                image = _centre_crop(image.convert("RGB"), s.crop_px, path).resize((width, height), Image.Resampling.BILINEAR)
            elif s.gt_resize != "none":
                raise InputError(f"scoring {s.name}: gt_resize {s.gt_resize} needs gt_reader cv2")
            return np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such ground-truth file") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"{path}: not an image Pillow can read ({exc})") from None


def _centre_crop(image: Image.Image, crop_px: int, path: Path) -> Image.Image:
    """torchvision's CenterCrop on a PIL image: offsets int(round((size - crop) / 2))."""
    width, height = image.size
    if width < crop_px or height < crop_px:
        raise InputError(f"{path}: {width}x{height} is smaller than the {crop_px}x{crop_px} centre crop")
    top, left = int(round((height - crop_px) / 2.0)), int(round((width - crop_px) / 2.0))
    return image.crop((left, top, left + crop_px, top + crop_px))


def score(pred: np.ndarray, gt: np.ndarray, s: Scoring) -> tuple[float, float | None]:
    """(PSNR dB, SSIM or None) by the record's metric."""
    if s.shave_px:
        k = s.shave_px
        pred, gt = pred[k:-k, k:-k], gt[k:-k, k:-k]
    if s.metric == "skimage":
        try:  # an optional dependency: only fsrnet's convention scores with it
            from skimage.metrics import peak_signal_noise_ratio, structural_similarity
        except ImportError:
            raise UsageError(f"scoring {s.name}: metric skimage needs scikit-image (pip install scikit-image)") from None

        psnr = float(peak_signal_noise_ratio(gt, pred, data_range=255))
        return psnr, float(structural_similarity(gt, pred, channel_axis=-1, data_range=255)) if s.ssim else None
    return psnr_vendor(pred, gt), ssim_vendor(pred, gt) if s.ssim else None


def image_size_hw(path: Path) -> tuple[int, int]:
    """An image's (height, width) from its header (Pillow reads no pixels for it); decoded when Pillow cannot tell."""
    try:
        with Image.open(path) as image:
            width, height = image.size
        return height, width
    except Exception:  # noqa: BLE001 - any format Pillow cannot size (or calls a bomb): OpenCV's bounded decode decides
        return read_image(path).shape[:2]


def drawable(pred: np.ndarray, s: Scoring) -> np.ndarray:
    """The decoded output as BGR uint8 for --draw_dir (float conventions rounded and clipped for the picture only)."""
    image = pred if pred.dtype == np.uint8 else np.clip(np.round(pred), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image[:, :, ::-1] if s.colour == "rgb" else image)
