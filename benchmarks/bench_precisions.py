"""VDSR 1x1x256x256 throughput as fp32, fp16 and int8, all compiled by `vampy compile`, in one session.

The three models (conftest.py's `compiled`) are timed in alternating rounds on the same input and
the same threads, so the ratios (int8 / fp32, fp16 / fp32) are robust to a noisy machine; the
absolute numbers are context.
Run: `make bench` or `.venv/bin/python -m pytest benchmarks/bench_precisions.py --benchmark-only -s`.
Set VAMPY_BENCH_THREADS to pin the ONNX Runtime intra-op threads (default: all cores).
"""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from vampy.engines.base import EngineOptions, get_engine

SHAPE = (1, 1, 256, 256)
ROUNDS = 5
ROUND_S = 2.0


def _qps_round(session: Any, feed: dict[str, np.ndarray]) -> float:
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < ROUND_S:
        session.run(None, feed)
        count += 1
    return count / (time.perf_counter() - t0)


def test_vdsr_precisions_one_session(benchmark: Any, compiled: dict[str, Path]) -> None:
    threads = int(os.environ.get("VAMPY_BENCH_THREADS", "0")) or (os.cpu_count() or 1)
    sessions = {p: get_engine("onnxruntime").open(path, EngineOptions(intra_threads=threads)).raw for p, path in compiled.items()}
    feed = {"input": np.random.default_rng(0).random(SHAPE, dtype=np.float32)}
    for session in sessions.values():
        for _ in range(2):
            session.run(None, feed)
    qps: dict[str, list[float]] = {p: [] for p in compiled}

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
        print(f"  {precision}: best {s['best_qps']:.2f} qps (x{s['ratio_best']:.2f} fp32), "
              f"median {s['median_qps']:.2f} qps (x{s['ratio_median']:.2f})")
