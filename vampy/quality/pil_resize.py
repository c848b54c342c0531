"""Pillow's resize of 8-bit single-band images, as Pillow up to 12.3 computes it, in numpy.

Why not call Pillow: the keras unet's script (SEG-8) resizes its ground truth with Pillow's default
BICUBIC filter, and the vendor's numbers are those of Pillow <= 12.3; Pillow 13 changed that resize.
So this is libImaging/Resample.c's arithmetic as it stood: per output pixel, the filter's support
scaled by the reduction factor, coefficients normalised to sum 1 (double), then 8-bit fixed point
(22 fractional bits, rounded half away from zero); each pass adds 1 << 21, shifts right 22 and
clips to 0..255; the horizontal pass first, then the vertical one, each only when that size changes.
NEAREST (palette and bilevel images) sums scale / 2 + k * scale one step at a time and truncates.
"""
from __future__ import annotations

import numpy as np

PRECISION_BITS = 32 - 8 - 2
BICUBIC_A = -0.5
BICUBIC_SUPPORT = 2.0


def _bicubic(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    near = ((BICUBIC_A + 2.0) * x - (BICUBIC_A + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * BICUBIC_A
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def _coefficients(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(first source index per output pixel, fixed-point weights out_size x taps), as precompute_coeffs + normalize_coeffs_8bpc."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = BICUBIC_SUPPORT * filterscale
    taps = int(np.ceil(support)) * 2 + 1
    centers = (np.arange(out_size) + 0.5) * scale
    xmin = np.maximum((centers - support + 0.5).astype(np.int64), 0)
    xmax = np.minimum((centers + support + 0.5).astype(np.int64), in_size) - xmin
    x = np.arange(taps)[None, :]
    weights = _bicubic((x + xmin[:, None] - centers[:, None] + 0.5) / filterscale)
    weights = np.where(x < xmax[:, None], weights, 0.0)
    total = weights.sum(axis=1, keepdims=True)
    weights = np.divide(weights, total, out=weights.copy(), where=total != 0.0)
    fixed = weights * (1 << PRECISION_BITS)
    return xmin, np.where(fixed < 0, (fixed - 0.5).astype(np.int64), (fixed + 0.5).astype(np.int64))


def _pass(plane: np.ndarray, out_size: int) -> np.ndarray:
    """One pass along the last axis of an int64 plane."""
    in_size = plane.shape[-1]
    xmin, weights = _coefficients(in_size, out_size)
    index = np.minimum(xmin[:, None] + np.arange(weights.shape[1])[None, :], in_size - 1)  # weights past xmax are 0
    acc = (plane[..., index] * weights).sum(axis=-1) + (1 << (PRECISION_BITS - 1))
    return np.clip(acc >> PRECISION_BITS, 0, 255)


def resize_bicubic_u8(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    """Image.resize((width, height)) of a mode-L image with BICUBIC, as Pillow <= 12.3."""
    out = plane.astype(np.int64)
    if out.shape[1] != width:
        out = _pass(out, width)
    if out.shape[0] != height:
        out = _pass(out.T, height).T
    return np.ascontiguousarray(out.astype(np.uint8))


def _nearest_index(in_size: int, out_size: int) -> np.ndarray:
    """ImagingScaleAffine's source indices: x0 = scale / 2, then += scale per pixel, in double, summed one at a time
    (np.cumsum adds in order), truncated. (Pillow 13 computes each index directly; the sums differ at some .0 edges.)"""
    scale = in_size / out_size
    steps = np.full(out_size, scale)
    steps[0] = scale * 0.5
    return np.minimum(np.cumsum(steps).astype(np.int64), in_size - 1)


def resize_nearest(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    """Image.resize((width, height), NEAREST) of a single-band image, as Pillow <= 12.3."""
    return np.ascontiguousarray(plane[_nearest_index(plane.shape[0], height)][:, _nearest_index(plane.shape[1], width)])
