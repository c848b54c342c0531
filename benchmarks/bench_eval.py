"""`vampy eval --preset edsr-basicsr` against the zoo script's way on DIV2K-sized x2 outputs.

The script's way, written here as the scripts do it: per image np.load, transpose to BGR, clip x255,
cv2.imread, cv2.resize INTER_AREA, calculate_psnr, and calculate_ssim (float64, cv2.filter2D with
the 11x11 Gaussian, called three times on the whole HxWx3 array). vampy scores the same files.
The outputs are 1x3x1356x2040 float32 (1020x678 LR, x2); IMAGES distinct images repeated (by
symbolic link) to --images, so the disk holds a few of them; both ways read the same files.

    .venv/bin/python benchmarks/bench_eval.py --images 100
"""
from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from glob import glob
from pathlib import Path

import cv2
import numpy as np

import vampy

HEIGHT, WIDTH = 1356, 2040
DISTINCT = 4


def _calculate_psnr(img1: np.ndarray, img2: np.ndarray) -> float:
    mse = np.mean((img1.astype(np.float64) - img2.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 20 * math.log10(255.0 / math.sqrt(mse))


def _ssim(img1: np.ndarray, img2: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    img1, img2 = img1.astype(np.float64), img2.astype(np.float64)
    kernel = cv2.getGaussianKernel(11, 1.5)
    window = np.outer(kernel, kernel.transpose())
    mu1 = cv2.filter2D(img1, -1, window)[5:-5, 5:-5]
    mu2 = cv2.filter2D(img2, -1, window)[5:-5, 5:-5]
    mu1_sq, mu2_sq, mu1_mu2 = mu1 ** 2, mu2 ** 2, mu1 * mu2
    sigma1_sq = cv2.filter2D(img1 ** 2, -1, window)[5:-5, 5:-5] - mu1_sq
    sigma2_sq = cv2.filter2D(img2 ** 2, -1, window)[5:-5, 5:-5] - mu2_sq
    sigma12 = cv2.filter2D(img1 * img2, -1, window)[5:-5, 5:-5] - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + c1) * (2 * sigma12 + c2)) / ((mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2))
    return float(ssim_map.mean())


def _calculate_ssim(img1: np.ndarray, img2: np.ndarray) -> float:
    return float(np.array([_ssim(img1, img2) for _ in range(3)]).mean())


def vendor_way(datalist: Path, out_dir: Path, gt_dir: Path) -> tuple[float, float]:
    lines = datalist.read_text().split()
    outputs = sorted(glob(str(out_dir / "*.npz")))
    psnrs, ssims = [], []
    for line, path in zip(lines, outputs):
        out = np.load(path)["output_0"][0].transpose(1, 2, 0)[:, :, [2, 1, 0]]
        out = np.clip(out * 255, 0, 255)
        name = os.path.basename(line).replace(".npz", ".png").replace("x2", "")
        gt = cv2.imread(str(gt_dir / name))
        gt = cv2.resize(gt, (out.shape[1], out.shape[0]), interpolation=cv2.INTER_AREA)
        psnrs.append(_calculate_psnr(out, gt))
        ssims.append(_calculate_ssim(out, gt))
    return float(np.mean(psnrs)), float(np.mean(ssims))


def _make(root: Path, images: int) -> None:
    (root / "gt").mkdir()
    (root / "out").mkdir()
    rng = np.random.default_rng(0)
    for k in range(DISTINCT):
        gt = cv2.GaussianBlur(rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8), (7, 7), 2)
        cv2.imwrite(str(root / f"gt_{k}.png"), gt)
        out = (gt[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) + rng.normal(0, 6, (1, 3, HEIGHT, WIDTH))) / 255
        np.savez(root / f"out_{k}.npz", output_0=out.astype(np.float32))
    lines = []
    for i in range(images):
        os.symlink(root / f"gt_{i % DISTINCT}.png", root / "gt" / f"{i:04d}.png")
        os.symlink(root / f"out_{i % DISTINCT}.npz", root / "out" / f"output_{i:06d}.npz")
        lines.append(f"{root}/npz/{i:04d}x2.npz\n")
    (root / "list.txt").write_text("".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _make(root, args.images)
        start = time.perf_counter()
        report = vampy.evaluate(gt_dir=root / "gt", input_npz_path=root / "list.txt", out_npz_dir=root / "out", preset="edsr-basicsr")
        vampy_s = time.perf_counter() - start
        start = time.perf_counter()
        psnr, ssim = vendor_way(root / "list.txt", root / "out", root / "gt")
        vendor_s = time.perf_counter() - start
    print(f"{args.images} images of {HEIGHT}x{WIDTH}x3 (x2 of 678x1020), preset edsr-basicsr")
    print(f"vendor way: {vendor_s:.1f} s, mean PSNR {psnr:.6f} dB, mean SSIM {ssim:.7f}")
    print(f"vampy eval: {vampy_s:.1f} s, mean PSNR {report.mean_psnr_db:.6f} dB, mean SSIM {report.mean_ssim:.7f}")
    print(f"PSNR diff {abs(psnr - report.mean_psnr_db):.2e} dB, SSIM diff {abs(ssim - report.mean_ssim):.2e}; vampy {vendor_s / vampy_s:.2f}x faster")


if __name__ == "__main__":
    main()
