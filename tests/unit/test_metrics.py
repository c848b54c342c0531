"""PSNR and SSIM on constructed planes against closed-form values, and SSIM against scikit-image."""
from __future__ import annotations

import math
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from vampy.quality.metrics import IDENTICAL_PSNR_DB, psnr_y, shave, ssim_y

C1 = (0.01 * 255) ** 2  # SSIM's luminance constant at data_range 255


def _ramp(height: int = 32, width: int = 40) -> np.ndarray:
    rows, cols = np.mgrid[0:height, 0:width]
    return ((rows * 5 + cols * 3) % 200 + 20).astype(np.uint8)


@pytest.mark.parametrize("offset", [1, 2, 5, 17])
def test_psnr_constant_offset_is_closed_form(offset: int) -> None:
    gt = _ramp()
    pred = (gt.astype(np.int32) + offset).astype(np.uint8)
    assert psnr_y(pred, gt, 4) == pytest.approx(20 * math.log10(255 / offset), abs=1e-14)


def test_psnr_does_not_wrap_around_on_uint8() -> None:
    pred = np.full((16, 16), 10, np.uint8)
    gt = np.full((16, 16), 20, np.uint8)  # uint8 10 - 20 would wrap to 246
    assert psnr_y(pred, gt, 0) == pytest.approx(20 * math.log10(255 / 10))


def test_psnr_identical_is_100() -> None:
    assert psnr_y(_ramp(), _ramp(), 4) == IDENTICAL_PSNR_DB


def test_psnr_shave_ignores_the_border_only() -> None:
    gt = _ramp()
    pred = gt.copy()
    pred[:4, :] = 0  # damage only the top 4 rows
    assert psnr_y(pred, gt, 4) == IDENTICAL_PSNR_DB
    assert psnr_y(pred, gt, 3) < IDENTICAL_PSNR_DB
    # one interior pixel off by d among the shaved (H-8)x(W-8) region: mse = d^2 / n
    pred = gt.astype(np.float64)
    pred[10, 10] += 8
    n = (32 - 8) * (40 - 8)
    assert psnr_y(pred, gt, 4) == pytest.approx(10 * math.log10(255**2 * n / 64))


def test_psnr_accepts_float_planes() -> None:
    gt = _ramp().astype(np.float64)
    assert psnr_y(gt + 0.5, gt, 2) == pytest.approx(20 * math.log10(255 / 0.5))


@pytest.mark.parametrize(
    ("pred", "gt", "shave_px", "message"),
    [
        (np.zeros((8, 8)), np.zeros((8, 9)), 0, "differ in shape"),
        (np.zeros((8, 8)), np.zeros((8, 8)), 4, "nothing left"),
        (np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), 0, "2-D"),
        (np.zeros((8, 8)), np.zeros((8, 8)), -1, "0 or more"),
    ],
)
def test_psnr_bad_input(pred: np.ndarray, gt: np.ndarray, shave_px: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        psnr_y(pred, gt, shave_px)


def test_shave_takes_the_interior() -> None:
    plane = np.arange(100).reshape(10, 10)
    assert shave(plane, 2).shape == (6, 6) and shave(plane, 2)[0, 0] == 22
    assert shave(plane, 0) is plane or np.array_equal(shave(plane, 0), plane)


def test_ssim_identical_is_one() -> None:
    assert ssim_y(_ramp(), _ramp(), 4) == pytest.approx(1.0, abs=1e-14)


@pytest.mark.parametrize(("a", "b"), [(100, 110), (50, 200), (0, 255), (128, 128)])
def test_ssim_of_constant_planes_is_the_luminance_term(a: int, b: int) -> None:
    # No variance: contrast-structure is C2/C2 = 1, leaving (2ab + C1) / (a^2 + b^2 + C1).
    pred = np.full((30, 30), a, np.uint8)
    gt = np.full((30, 30), b, np.uint8)
    expected = (2 * a * b + C1) / (a * a + b * b + C1)
    assert ssim_y(pred, gt, 4) == pytest.approx(expected, abs=1e-9)


def test_ssim_shave_and_symmetry() -> None:
    gt = _ramp()
    pred = gt.copy()
    pred[:, :3] = 255
    assert ssim_y(pred, gt, 3) == pytest.approx(1.0, abs=1e-14)
    noisy = np.clip(gt + np.random.default_rng(0).normal(0, 10, gt.shape), 0, 255).astype(np.uint8)
    value = ssim_y(noisy, gt, 4)
    assert 0 < value < 1 and value == pytest.approx(ssim_y(gt, noisy, 4), abs=1e-14)


def test_ssim_needs_a_full_window() -> None:
    with pytest.raises(ValueError, match="11x11"):
        ssim_y(np.zeros((18, 18)), np.zeros((18, 18)), 4)


def test_native_eval_crops_ground_truth_like_modcrop() -> None:
    from vampy.quality.evaluate import _modcrop

    gt = np.arange(12 * 12 * 3, dtype=np.uint8).reshape(12, 12, 3)
    cropped = _modcrop(gt, (10, 11), scale=3)
    assert cropped.shape[:2] == (10, 11) and (cropped == gt[:10, :11]).all()
    assert _modcrop(gt, (12, 12), scale=3).shape == gt.shape
    assert _modcrop(gt, (8, 12), scale=3) is gt  # 4 px is more than a scale-3 crop: left to the size check


def _skimage_ssim(pred: np.ndarray, gt: np.ndarray, shave_px: int) -> float:
    """The reference: scikit-image itself with the parameters vampy documents (tests only)."""
    from skimage.metrics import structural_similarity

    cut = (slice(shave_px, pred.shape[0] - shave_px), slice(shave_px, pred.shape[1] - shave_px))
    value = structural_similarity(pred[cut].astype(np.float64), gt[cut].astype(np.float64), gaussian_weights=True,
                                  sigma=1.5, use_sample_covariance=False, data_range=255.0)
    return float(value)


@pytest.mark.parametrize("shape", [(19, 19), (20, 31), (64, 48), (256, 256), (341, 512)])
@pytest.mark.parametrize("noise", [1.0, 12.0, 60.0])
def test_ssim_equals_scikit_image(shape: tuple[int, int], noise: float) -> None:
    rng = np.random.default_rng(shape[0] * 1000 + int(noise))
    gt = cv2.GaussianBlur(rng.integers(0, 256, shape, dtype=np.uint8), (5, 5), 0)
    pred = np.clip(gt + rng.normal(0, noise, shape), 0, 255).astype(np.uint8)
    assert ssim_y(pred, gt, 4) == pytest.approx(_skimage_ssim(pred, gt, 4), abs=1e-13)
    # float planes (the bicubic source is uint8, but callers may pass floats) score the same way
    assert ssim_y(pred.astype(np.float32), gt.astype(np.float64), 4) == pytest.approx(_skimage_ssim(pred, gt, 4), abs=1e-13)


def test_ssim_equals_scikit_image_on_set5(shared_data: Path) -> None:
    for path in sorted((shared_data / "Set5").glob("*_GT.bmp")):
        gt = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2YCrCb)[:, :, 0]
        low = cv2.cvtColor(cv2.imread(str(path).replace("_GT.bmp", "_GT_scale_4.bmp")), cv2.COLOR_BGR2YCrCb)[:, :, 0]
        assert ssim_y(low, gt, 4) == pytest.approx(_skimage_ssim(low, gt, 4), abs=1e-13), path.name


def test_ssim_scratch_planes_are_per_thread_and_per_shape() -> None:
    """Reused scratch memory must never mix calls: other shapes in between, other threads at once."""
    rng = np.random.default_rng(3)
    pairs = [(rng.integers(0, 256, shape, dtype=np.uint8), rng.integers(0, 256, shape, dtype=np.uint8))
             for shape in [(40, 40), (64, 30), (40, 40), (90, 70)]]
    expected = [_skimage_ssim(a, b, 2) for a, b in pairs]
    results: dict[int, list[float]] = {}

    def score_all(worker: int) -> None:
        results[worker] = [ssim_y(a, b, 2) for _ in range(20) for a, b in pairs]

    threads = [threading.Thread(target=score_all, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for values in results.values():
        assert values == pytest.approx(expected * 20, abs=1e-13)
    assert psnr_y(*pairs[3], 2) == pytest.approx(
        10 * math.log10(255**2 / np.mean((pairs[3][0][2:-2, 2:-2].astype(float) - pairs[3][1][2:-2, 2:-2]) ** 2)), abs=1e-14)
