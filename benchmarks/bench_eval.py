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
import os
import sys
import tempfile
import time
from glob import glob
from pathlib import Path

import cv2
import numpy as np

import vampy

if str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: for tests.integration
# The scripts' metrics as they are written: one copy, shared with the tests that check vampy against them.
from tests.support.sr_scripts import script_psnr, script_ssim  # noqa: E402

HEIGHT, WIDTH = 1356, 2040
DISTINCT = 4


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
        psnrs.append(script_psnr(out, gt))
        ssims.append(script_ssim(out, gt))
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
    print(f"PSNR diff {abs(psnr - report.mean_psnr_db):.2e} dB, SSIM diff {abs(ssim - report.mean_ssim):.2e}; "
          f"vampy {vendor_s / vampy_s:.2f}x faster")


if __name__ == "__main__":
    main()
