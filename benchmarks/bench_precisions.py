"""VDSR 1x1x256x256 throughput as fp32, fp16 and int8, all compiled by `vampy compile`, in one session.

The three models are timed in alternating rounds on the same input and the same threads, so the
ratios (int8 / fp32, fp16 / fp32) are robust to a noisy machine; the absolute numbers are context.
With ../shared/data present the real VDSR weights are used and int8 is calibrated on the five
Set5 x4 inputs; without it, seeded random weights and synthetic images (speed is the same).
Run: `make bench` or `.venv/bin/python -m pytest benchmarks/bench_precisions.py --benchmark-only -s`.
Set VAMPY_BENCH_THREADS to pin the ONNX Runtime intra-op threads (default: all cores).
"""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
import pytest

from vampy.compile_config import parse_compile_config
from vampy.compiler import compile_model
from vampy.model import open_session
from vampy.zoo import build_vdsr

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
VDSP = ROOT / "vdsp_params" / "official-vdsr-vdsp_params.json"
SHAPE = (1, 1, 256, 256)
ROUNDS = 5
ROUND_S = 2.0
PRECISIONS = ("fp32", "fp16", "int8")


def _dataset(tmp: Path) -> tuple[str, str]:
    """(folder, file pattern) of the calibration images."""
    if (SHARED / "Set5").is_dir():
        return str(SHARED / "Set5"), "*_scale_4.bmp"
    rng = np.random.default_rng(0)
    folder = tmp / "images"
    folder.mkdir()
    for k in range(5):
        cv2.imwrite(str(folder / f"synthetic{k}.bmp"), cv2.GaussianBlur(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8), (7, 7), 0))
    return str(folder), "*.bmp"


def _yaml(precision: str, checkpoint: Path, dataset: tuple[str, str], workspace: Path) -> dict[str, Any]:
    return {
        "name": f"vdsr_{precision}",
        "frontend": {"type": "onnx", "checkpoint": str(checkpoint), "shape": {"input": list(SHAPE)}, "dtype": "fp32"},
        "backend": {"dtype": precision, "quantize": {"calibrate_mode": "kl_divergence", "quantize_per_channel": True}},
        "dataset": {
            "path": dataset[0], "sampler": {"suffix": "bmp", "pattern": dataset[1], "get_data_num": 5},
            "process_ops": [{"type": "DecodeImage"}, {"type": "CvtColor", "code": "COLOR_RGB2YCrCb"}, {"type": "Resize", "size": [256, 256]},
                            {"type": "ChannelSplit", "index": 0}, {"type": "Normalize", "norm_type": "None"}, {"type": "ToTensor"}],
        },
        "workspace": {"path": str(workspace)},
    }


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("precisions")
    weights = SHARED / "vdsr" / "vdsr_x234_weights.npz"
    model, _ = build_vdsr(weights if weights.is_file() else None, seed=0)
    source = tmp / "vdsr.onnx"
    onnx.save(model, str(source))
    dataset = _dataset(tmp)
    out = {}
    for precision in PRECISIONS:
        cfg = parse_compile_config(_yaml(precision, source, dataset, tmp / "ws"), f"bench {precision}", vdsp_params=str(VDSP))
        out[precision] = Path(compile_model(cfg).model_path)
    return out


def _qps_round(session: Any, feed: dict[str, np.ndarray]) -> float:
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < ROUND_S:
        session.run(None, feed)
        count += 1
    return count / (time.perf_counter() - t0)


def test_vdsr_precisions_one_session(benchmark: Any, compiled: dict[str, Path]) -> None:
    threads = int(os.environ.get("VAMPY_BENCH_THREADS", "0")) or (os.cpu_count() or 1)
    sessions = {p: open_session(path, threads) for p, path in compiled.items()}
    feed = {"input": np.random.default_rng(0).random(SHAPE, dtype=np.float32)}
    for session in sessions.values():
        for _ in range(2):
            session.run(None, feed)
    qps: dict[str, list[float]] = {p: [] for p in PRECISIONS}

    def one_round() -> None:
        for precision, session in sessions.items():
            qps[precision].append(_qps_round(session, feed))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    base_best, base_median = max(qps["fp32"]), statistics.median(qps["fp32"])
    summary = {
        p: {"best_qps": max(v), "median_qps": statistics.median(v), "ratio_best": max(v) / base_best,
            "ratio_median": statistics.median(v) / base_median, "rounds": v}
        for p, v in qps.items()
    }
    benchmark.extra_info.update(threads=threads, shape=list(SHAPE), precisions=summary)
    print(f"\nVDSR {'x'.join(map(str, SHAPE))}, {threads} intra-op thread(s), {ROUNDS} alternating rounds of {ROUND_S:.0f} s:")
    for precision, s in summary.items():
        print(f"  {precision}: best {s['best_qps']:.2f} qps (x{s['ratio_best']:.2f} fp32), median {s['median_qps']:.2f} qps (x{s['ratio_median']:.2f})")
