"""PSNR and SSIM on the Y (luminance) plane with a shaved border, as super-resolution papers score.

Both take 2-D arrays on a 0-255 scale (uint8 or float) and drop `shave_px` pixels on every side
first: the border is where upscalers have no neighbours, and the reference scripts (pytorch-vdsr,
the vendor's eval) ignore it. PSNR follows pytorch-vdsr exactly: float64 difference, RMSE,
20*log10(255/rmse), and 100 for identical planes (its convention, so a perfect score is finite).
"""
from __future__ import annotations

import math

import numpy as np

PEAK = 255.0
IDENTICAL_PSNR_DB = 100.0
# scikit-image's Gaussian window: sigma 1.5, truncated at 3.5 sigma -> 11 x 11 pixels.
SSIM_SIGMA = 1.5
SSIM_WINDOW_PX = 2 * int(3.5 * SSIM_SIGMA + 0.5) + 1


def shave(plane: np.ndarray, shave_px: int) -> np.ndarray:
    """The plane without `shave_px` pixels on each side."""
    if plane.ndim != 2:
        raise ValueError(f"expected a 2-D Y plane, got shape {plane.shape}")
    if shave_px < 0:
        raise ValueError(f"shave_px must be 0 or more, got {shave_px}")
    height, width = plane.shape
    if height <= 2 * shave_px or width <= 2 * shave_px:
        raise ValueError(f"a {height}x{width} plane has nothing left after shaving {shave_px} px on each side")
    return plane[shave_px : height - shave_px, shave_px : width - shave_px]


def _pair(pred_y: np.ndarray, gt_y: np.ndarray, shave_px: int) -> tuple[np.ndarray, np.ndarray]:
    if pred_y.shape != gt_y.shape:
        raise ValueError(f"planes differ in shape: {pred_y.shape} vs {gt_y.shape}")
    return shave(pred_y, shave_px).astype(np.float64), shave(gt_y, shave_px).astype(np.float64)


def psnr_y(pred_y: np.ndarray, gt_y: np.ndarray, shave_px: int) -> float:
    """Peak signal-to-noise ratio in dB (peak 255); 100.0 when the shaved planes are identical."""
    pred, gt = _pair(pred_y, gt_y, shave_px)
    rmse = math.sqrt(float(np.mean((pred - gt) ** 2)))
    if rmse == 0:
        return IDENTICAL_PSNR_DB
    return 20.0 * math.log10(PEAK / rmse)


def ssim_y(pred_y: np.ndarray, gt_y: np.ndarray, shave_px: int) -> float:
    """Mean structural similarity, Gaussian-weighted (Wang et al. 2004 as scikit-image implements it)."""
    pred, gt = _pair(pred_y, gt_y, shave_px)
    if min(pred.shape) < SSIM_WINDOW_PX:
        raise ValueError(f"SSIM needs at least {SSIM_WINDOW_PX}x{SSIM_WINDOW_PX} pixels after shaving; got {pred.shape[0]}x{pred.shape[1]}")
    # Imported here: scikit-image is heavy and only scoring needs it.
    from skimage.metrics import structural_similarity

    value = structural_similarity(
        pred, gt, gaussian_weights=True, sigma=SSIM_SIGMA, use_sample_covariance=False, data_range=PEAK
    )
    return float(value)
