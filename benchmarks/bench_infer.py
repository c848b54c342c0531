"""`vampy infer` (decode, model, score and PNG, streamed) against `vampy run` performance mode.

Issue 8 asks for infer's throughput within 10% of performance mode on the same model. Both run in
this session in alternating rounds, on VDSR 256 fp32 and int8 (conftest.py's `compiled`), over
Set5 x4 (5 images, the issue's case) and the same five copied 8 times (40 images, closer to steady
state). Without ../shared/data: five synthetic 512x512 images and their "ground truth".
Run: `make bench` or `.venv/bin/python -m pytest benchmarks/bench_infer.py --benchmark-only -s`.
"""
from __future__ import annotations

import shutil
import statistics
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from vampy.config import InferConfig, RunConfig
from vampy.progress import NullProgress
from vampy.workflows.infer import infer
from vampy.workflows.run import execute, prepare

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
VDSP = ROOT / "vdsp_params" / "official-vdsr-vdsp_params.json"
ROUNDS = 5
COPIES = 8


@pytest.fixture(scope="module")
def image_sets(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """{number of images: folder holding NAME_GT_scale_4.bmp and NAME_GT.bmp}."""
    tmp = tmp_path_factory.mktemp("infer_images")
    five = tmp / "five"
    five.mkdir()
    if (SHARED / "Set5").is_dir():
        for path in (SHARED / "Set5").glob("*_GT*.bmp"):
            if path.name.endswith("_GT.bmp") or path.name.endswith("_GT_scale_4.bmp"):
                shutil.copy(path, five / path.name)
    else:
        rng = np.random.default_rng(0)
        for k in range(5):
            gt = cv2.GaussianBlur(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8), (9, 9), 0)
            low = cv2.resize(cv2.resize(gt, (128, 128), interpolation=cv2.INTER_CUBIC), (512, 512), interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(five / f"img{k}_GT.bmp"), gt)
            cv2.imwrite(str(five / f"img{k}_GT_scale_4.bmp"), low)
    forty = tmp / "forty"
    forty.mkdir()
    for copy in range(COPIES):
        for path in five.iterdir():
            stem = path.name.split("_GT")[0]
            shutil.copy(path, forty / path.name.replace(stem, f"{stem}{copy}", 1))
    return {5: five, 5 * COPIES: forty}


def infer_ips(model: Path, images: Path, save_dir: Path) -> float:
    cfg = InferConfig(lr_dir=str(images), model=str(model), gt_dir=str(images), vdsp_params=str(VDSP),
                      save_dir=str(save_dir), pattern="*_scale_4.bmp")
    return infer(cfg).timing.throughput_ips


def run_qps(model: Path, iterations: int) -> float:
    """Performance mode as the README runs it: -i 1 -p 1 -b 1 -s [3,256,256], all cores."""
    cfg = RunConfig.flat(str(model), vdsp_params=str(VDSP), shapes=((3, 256, 256),), iterations=iterations)
    return execute(prepare(cfg), NullProgress()).throughput_qps


@pytest.mark.parametrize("images", [5, 5 * COPIES])
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_infer_vs_run_performance_mode(benchmark: Any, compiled: dict[str, Path], image_sets: dict[int, Path],
                                       precision: str, images: int, tmp_path: Path) -> None:
    model = compiled[precision]
    ours: list[float] = []
    base: list[float] = []

    def one_round() -> None:
        ours.append(infer_ips(model, image_sets[images], tmp_path / f"png{len(ours)}"))
        base.append(run_qps(model, iterations=max(images, 16)))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    ratios = [o / b for o, b in zip(ours, base)]
    benchmark.extra_info.update(infer_ips=statistics.median(ours), run_qps=statistics.median(base),
                                ratio_median=statistics.median(ratios), ratios=ratios)
    print(f"\n{precision}, {images} images: infer {statistics.median(ours):.2f} images/s, run {statistics.median(base):.2f} qps, "
          f"ratio {statistics.median(ratios):.3f} (rounds {[round(r, 3) for r in ratios]})")
