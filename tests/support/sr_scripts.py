"""The SR family scripts' own metrics as they are written (calculate_psnr / calculate_ssim: the scripts' SSIM
computes the whole-image value three times and averages the three; SR-ZOO.md section 3), independent of
vampy's code: the reference that the preset tests and benchmarks/bench_eval.py compare vampy against."""
from __future__ import annotations

import math

import cv2
import numpy as np


def script_psnr(img1: np.ndarray, img2: np.ndarray) -> float:
    mse = np.mean((img1.astype(np.float64) - img2.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 20 * math.log10(255.0 / math.sqrt(mse))


def _script_ssim(img1: np.ndarray, img2: np.ndarray) -> float:
    """The scripts' ssim() on the whole HxW(x3) arrays (cv2.filter2D filters each channel); NaN where the script's
    arithmetic gives NaN (an image smaller than the window, a 0/0)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    img1, img2 = img1.astype(np.float64), img2.astype(np.float64)
    kernel = cv2.getGaussianKernel(11, 1.5)
    window = np.outer(kernel, kernel.transpose())
    mu1 = cv2.filter2D(img1, -1, window)[5:-5, 5:-5]
    mu2 = cv2.filter2D(img2, -1, window)[5:-5, 5:-5]
    s1 = cv2.filter2D(img1 ** 2, -1, window)[5:-5, 5:-5] - mu1 ** 2
    s2 = cv2.filter2D(img2 ** 2, -1, window)[5:-5, 5:-5] - mu2 ** 2
    s12 = cv2.filter2D(img1 * img2, -1, window)[5:-5, 5:-5] - mu1 * mu2
    if not mu1.size:
        return math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        ssim_map = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1 ** 2 + mu2 ** 2 + c1) * (s1 + s2 + c2))
    return float(ssim_map.mean())


def script_ssim(img1: np.ndarray, img2: np.ndarray) -> float:
    return float(np.array([_script_ssim(img1, img2) for _ in range(3)]).mean())
