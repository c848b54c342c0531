"""vampy's throughput against a plain ONNX Runtime loop on the same model and threads.

Both are measured in one session, alternating rounds, so the ratio is robust to the machine's
noise; the absolute numbers are only context. Run: `make bench` or
`.venv/bin/python -m pytest benchmarks/bench_run.py --benchmark-only -s`.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from tests.models import slow_model
from vampy.config import RunConfig
from vampy.engines.base import EngineOptions, get_engine
from vampy.models.zoo import build_vdsr
from vampy.progress import NullProgress
from vampy.workflows.run import execute, prepare

ROUNDS = 5
VDSP_VDSR = Path(__file__).resolve().parents[1] / "vdsp_params" / "official-vdsr-vdsp_params.json"


def plain_loop_qps(model: Path, threads: int, tensor: np.ndarray, iterations: int) -> float:
    """The baseline: one raw ONNX Runtime session (vampy's session options), one pre-made input, a
    bare loop (what a user would time)."""
    session = get_engine("onnxruntime").open(model, EngineOptions(intra_threads=threads)).raw
    name = session.get_inputs()[0].name
    for _ in range(2):
        session.run(None, {name: tensor})
    t0 = time.perf_counter()
    for _ in range(iterations):
        session.run(None, {name: tensor})
    return iterations / (time.perf_counter() - t0)


def vampy_qps(cfg: RunConfig) -> float:
    return execute(prepare(cfg), NullProgress()).throughput_qps


def compare(benchmark: Any, model: Path, tensor: np.ndarray, cfg: RunConfig, iterations: int) -> None:
    threads = cfg.engine.intra_threads(cfg.load.processes * cfg.load.instances)
    ratios, base, ours = [], [], []

    def one_round() -> None:
        b = plain_loop_qps(model, threads, tensor, iterations)
        v = vampy_qps(cfg)
        base.append(b)
        ours.append(v)
        ratios.append(v / b)

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(
        baseline_qps=statistics.median(base), vampy_qps=statistics.median(ours),
        ratio_median=statistics.median(ratios), ratios=ratios, threads=threads,
    )
    print(f"\n{model.name}: plain ORT {statistics.median(base):.2f} qps, vampy {statistics.median(ours):.2f} qps, "
          f"ratio {statistics.median(ratios):.3f} (rounds {[round(r, 3) for r in ratios]}), threads {threads}")


@pytest.fixture(scope="module")
def vdsr_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    proto, _ = build_vdsr(None, seed=0, dynamic=False)
    path = tmp_path_factory.mktemp("vdsr") / "mod.onnx"
    onnx.save(proto, str(path))
    return path


def test_vdsr_256_vs_plain_loop(benchmark: Any, vdsr_model: Path) -> None:
    tensor = np.random.default_rng(0).random((1, 1, 256, 256), dtype=np.float32)
    cfg = RunConfig.flat(str(vdsr_model), vdsp_params=str(VDSP_VDSR), shapes=((3, 256, 256),), iterations=16, warmup_requests=2)
    compare(benchmark, vdsr_model, tensor, cfg, iterations=16)


def test_1ms_model_vs_plain_loop(benchmark: Any, tmp_path: Path) -> None:
    model = slow_model(tmp_path / "slow.onnx", ms=4.0)  # about 1 ms a request with 2 threads here
    tensor = np.random.default_rng(0).random((1, 1, 384, 384), dtype=np.float32)
    cfg = RunConfig.flat(str(model), shapes=((1, 384, 384),), iterations=1000, warmup_requests=20)
    compare(benchmark, model, tensor, cfg, iterations=1000)
