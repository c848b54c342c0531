"""PSNR and SSIM on the Y (luminance) plane with a shaved border, as super-resolution papers score.

Both take 2-D arrays on a 0-255 scale (uint8 or float) and drop `shave_px` pixels on every side
first: the border is where upscalers have no neighbours, and the reference scripts (pytorch-vdsr,
the vendor's eval) ignore it. PSNR follows pytorch-vdsr exactly: float64 difference, RMSE,
20*log10(255/rmse), and 100 for identical planes (its convention, so a perfect score is finite).

SSIM is scikit-image's structural_similarity (Gaussian weights, sigma 1.5, population covariance,
the filter's radius cropped before the mean), computed with OpenCV's separable filter instead of
calling scikit-image: the same formula in float64, 4x faster (about 1.1 ms instead of 4.5 ms for a
248x248 plane), which matters when `vampy infer` scores next to the model on the same cores.
tests/unit/test_metrics.py checks it against scikit-image itself on random and real planes.
"""
from __future__ import annotations

import math
import threading

import cv2
import numpy as np

PEAK = 255.0
IDENTICAL_PSNR_DB = 100.0
# scikit-image's Gaussian window: sigma 1.5, truncated at 3.5 sigma -> 11 x 11 pixels.
SSIM_SIGMA = 1.5
SSIM_RADIUS_PX = int(3.5 * SSIM_SIGMA + 0.5)
SSIM_WINDOW_PX = 2 * SSIM_RADIUS_PX + 1
# Wang et al.'s stabilising constants for a 0-255 range: (0.01 * 255)^2 and (0.03 * 255)^2.
SSIM_C1 = (0.01 * PEAK) ** 2
SSIM_C2 = (0.03 * PEAK) ** 2
_SSIM_KERNEL = cv2.getGaussianKernel(SSIM_WINDOW_PX, SSIM_SIGMA, ktype=cv2.CV_64F)


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


def _shaved(pred_y: np.ndarray, gt_y: np.ndarray, shave_px: int) -> tuple[np.ndarray, np.ndarray]:
    if pred_y.shape != gt_y.shape:
        raise ValueError(f"planes differ in shape: {pred_y.shape} vs {gt_y.shape}")
    return shave(pred_y, shave_px), shave(gt_y, shave_px)


def psnr_y(pred_y: np.ndarray, gt_y: np.ndarray, shave_px: int) -> float:
    """Peak signal-to-noise ratio in dB (peak 255); 100.0 when the shaved planes are identical."""
    pred, gt = _shaved(pred_y, gt_y, shave_px)
    diff, gt64 = _scratch_planes(pred.shape)[:2]
    np.copyto(diff, pred)
    np.copyto(gt64, gt)
    np.subtract(diff, gt64, out=diff)
    rmse = math.sqrt(float(np.mean(np.square(diff, out=diff))))
    if rmse == 0:
        return IDENTICAL_PSNR_DB
    return 20.0 * math.log10(PEAK / rmse)


def ssim_y(pred_y: np.ndarray, gt_y: np.ndarray, shave_px: int) -> float:
    """Mean structural similarity, Gaussian-weighted (Wang et al. 2004 as scikit-image computes it).

    scikit-image's formula and order of operations: local means by a Gaussian filter, variances as
    E[x^2] - E[x]^2, the map (2 mx my + C1)(2 cov + C2) / ((mx^2 + my^2 + C1)(vx + vy + C2)),
    averaged away from the border. Only float rounding differs (OpenCV's filter sums in another
    order); tests/unit/test_metrics.py holds it to scikit-image within 1e-13.
    """
    pred, gt = _shaved(pred_y, gt_y, shave_px)
    if min(pred.shape) < SSIM_WINDOW_PX:
        raise ValueError(f"SSIM needs at least {SSIM_WINDOW_PX}x{SSIM_WINDOW_PX} pixels after shaving; got {pred.shape[0]}x{pred.shape[1]}")
    planes = _scratch_planes(pred.shape)
    _local_moments(pred, gt, planes)
    return float(_ssim_map(planes).mean(dtype=np.float64))


def _local_moments(pred: np.ndarray, gt: np.ndarray, planes: list[np.ndarray]) -> None:
    """Gaussian local means of x, y, xy, xx, yy into planes[3:8] (planes[0:3]: x, y, a product)."""
    x, y, product, mx, my, mxx, myy, mxy = planes[:8]
    np.copyto(x, pred)
    np.copyto(y, gt)
    _window_mean(x, mx)
    _window_mean(y, my)
    _window_mean(np.multiply(x, y, out=product), mxy)
    _window_mean(np.multiply(x, x, out=product), mxx)
    _window_mean(np.multiply(y, y, out=product), myy)


def _ssim_map(planes: list[np.ndarray]) -> np.ndarray:
    """The SSIM map where the whole window lies inside the plane, computed in place in the scratch
    planes (each step overwrites a plane that is not read again; the names say what each holds).

    scikit-image crops the window's radius off before averaging, so the filter's border mode never
    reaches the result; working on the interior only does the same arithmetic on less.
    """
    mx, my, mxx, myy, mxy, a, b = (_interior(plane) for plane in planes[3:10])
    np.multiply(mx, my, out=a)  # a = mx my
    np.subtract(mxy, a, out=mxy)  # mxy = cov
    np.multiply(mx, mx, out=mx)  # mx = mx^2
    np.multiply(my, my, out=my)  # my = my^2
    np.subtract(mxx, mx, out=mxx)  # mxx = vx
    np.subtract(myy, my, out=myy)  # myy = vy
    np.multiply(a, 2.0, out=a)
    np.add(a, SSIM_C1, out=a)  # a = A1 = 2 mx my + C1
    np.multiply(mxy, 2.0, out=mxy)
    np.add(mxy, SSIM_C2, out=mxy)  # mxy = A2 = 2 cov + C2
    np.add(mx, my, out=b)
    np.add(b, SSIM_C1, out=b)  # b = B1 = mx^2 + my^2 + C1
    np.add(mxx, myy, out=mxx)
    np.add(mxx, SSIM_C2, out=mxx)  # mxx = B2 = vx + vy + C2
    np.multiply(a, mxy, out=a)
    np.multiply(b, mxx, out=b)
    np.divide(a, b, out=a)
    return a


def _window_mean(plane: np.ndarray, out: np.ndarray) -> None:
    """Gaussian-weighted local mean of every pixel, written into `out` (same shape, float64)."""
    filtered = cv2.sepFilter2D(plane, cv2.CV_64F, _SSIM_KERNEL, _SSIM_KERNEL, dst=out, borderType=cv2.BORDER_REFLECT)
    if filtered is not out:  # OpenCV allocates a new array when `out` does not fit; never expected
        np.copyto(out, filtered)


def _interior(plane: np.ndarray) -> np.ndarray:
    """The plane without the window's radius on each side (a view)."""
    r = SSIM_RADIUS_PX
    return plane[r : plane.shape[0] - r, r : plane.shape[1] - r]


# Scratch planes are kept per thread up to this size (10 planes of 2048x2048 float64: 335 MB, so
# a 2040x1356 DIV2K x2 output reuses them);
# larger planes are allocated per call, where the allocation is small next to the arithmetic.
SCRATCH_KEEP_MAX_PX = 2048 * 2048
SCRATCH_PLANES = 10
_scratch = threading.local()


def _scratch_planes(shape: tuple[int, ...]) -> list[np.ndarray]:
    """SCRATCH_PLANES float64 planes of `shape`, reused by the calling thread while the shape stays.

    Why: SSIM needs ten plane-sized arrays. Allocated afresh on every call they cost two thirds of
    its time (glibc hands the memory back to the kernel after each call and page-faults it in
    again), which `vampy infer` pays per image next to the model.
    """
    planes: list[np.ndarray] | None = getattr(_scratch, "planes", None)
    if planes is not None and planes[0].shape == shape:
        return planes
    planes = [np.empty(shape, np.float64) for _ in range(SCRATCH_PLANES)]
    _scratch.planes = planes if math.prod(shape) <= SCRATCH_KEEP_MAX_PX else None
    return planes


def psnr_vendor(pred: np.ndarray, gt: np.ndarray) -> float:
    """The zoo scripts' calculate_psnr: float64 MSE over every pixel and channel, peak 255, inf if identical."""
    if pred.shape != gt.shape:
        raise ValueError(f"images differ in shape: {pred.shape} vs {gt.shape}")
    mse = float(np.mean(np.square(pred.astype(np.float64) - gt.astype(np.float64))))
    if mse == 0:
        return math.inf
    return 20.0 * math.log10(PEAK / math.sqrt(mse))


def ssim_vendor(pred: np.ndarray, gt: np.ndarray) -> float:
    """The zoo scripts' calculate_ssim: Gaussian 11x11 sigma 1.5 SSIM, valid crop, mean over channels.

    The scripts call ssim() three times on the whole HxWx3 array (cv2.filter2D filters each
    channel) and average the three equal values; that is the mean of the per-channel means, which
    is what this computes once per channel with ssim_y's arithmetic (SR-ZOO.md Q6).
    """
    if pred.shape != gt.shape:
        raise ValueError(f"images differ in shape: {pred.shape} vs {gt.shape}")
    if pred.ndim == 2:
        return ssim_y(pred, gt, 0)
    return float(np.mean([ssim_y(pred[:, :, c], gt[:, :, c], 0) for c in range(pred.shape[2])]))
