"""vampy's own cost per request: `vampy run --engine null` against a raw loop over the same null session.

The null engine computes nothing (docs/engines.md), so vampy's e2e latency on it is the harness alone:
taking the next request, building the feed (the 3x8x8 uint8 input cast to the model's float32), the
timestamps and the recorder, around a session call that costs what the raw loop shows. That figure is
the floor under every latency vampy reports: a model faster than it cannot be measured apart from
vampy. The raw loop calls the same session's run() back to back with one ready feed, timed per call
as vampy times its requests. Both in one session, alternating rounds. Published (never asserted): the
harness's cost, vampy's e2e latency minus the raw loop's, at the median and at the mean (per round, then
the median of the rounds), and the ratio of the medians. The median is the figure to quote: on a shared
machine a descheduled request adds milliseconds to a mean made of 1-10 us requests.
Run: `.venv/bin/python -m pytest benchmarks/bench_harness.py --benchmark-only -s`.
"""
from __future__ import annotations

import inspect
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vampy
from tests.models import identity_like_model
from vampy.engines.base import EngineOptions, get_engine
from vampy.measure.stats import summarize_latency

ROUNDS = 5
REQUESTS = 20_000  # per round: about 0.2 s of requests here, long enough for a stable median
WARMUP = 100
SHAPE_CHW = (3, 8, 8)
# The fixed compute times the null engine stands in for (us); 0 is the harness alone. A non-zero one
# needs vampy.run's null_us keyword (the --null_us flag) and is skipped until the API has it.
COMPUTE_US = (0.0, 100.0)


def raw_loop_us(model: Path, compute_us: float, requests: int) -> tuple[float, float]:
    """(mean, median) us of the null session's run() alone, one ready feed, back to back."""
    session = get_engine("null").open(model, EngineOptions(intra_threads=1, null_compute_us=compute_us))
    feed = {"input": np.zeros((1, *SHAPE_CHW), np.float32)}
    for _ in range(WARMUP):
        session.run(feed)
    durations_ns = np.empty(requests, np.int64)
    clock = time.perf_counter_ns
    for k in range(requests):
        start_ns = clock()
        session.run(feed)
        durations_ns[k] = clock() - start_ns
    summary = summarize_latency(durations_ns, (50.0,))  # vampy's one percentile definition
    return summary.avg_ns / 1e3, summary.percentiles_ns[50.0] / 1e3


def vampy_us(model: Path, compute_us: float, requests: int) -> tuple[float, float, float]:
    """(e2e mean, e2e median, model-call mean) us of `vampy run --engine null -i 1 -p 1 -b 1 --threads 1`."""
    extra: dict[str, Any] = {"null_us": compute_us} if compute_us else {}
    report = vampy.run(model=model, engine="null", shape=",".join(map(str, SHAPE_CHW)), iterations=requests, warmup=WARMUP,
                       threads=1, **extra)
    return report.e2e["avg_us"], report.e2e["percentiles_us"]["p50"], report.model_latency["avg_us"]


@pytest.fixture(scope="module")
def identity_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return identity_like_model(tmp_path_factory.mktemp("harness") / "mod.onnx", (1, *SHAPE_CHW))


@pytest.mark.parametrize("compute_us", COMPUTE_US)
def test_harness_cost_per_request(benchmark: Any, identity_model: Path, compute_us: float) -> None:
    if compute_us and "null_us" not in inspect.signature(vampy.run).parameters:
        pytest.skip("vampy.run has no null_us keyword yet (the --null_us flag)")
    rounds: dict[str, list[float]] = {key: [] for key in ("raw_mean", "raw_p50", "e2e_mean", "e2e_p50", "call_mean")}

    def one_round() -> None:
        measured = (*raw_loop_us(identity_model, compute_us, REQUESTS), *vampy_us(identity_model, compute_us, REQUESTS))
        for key, value in zip(rounds, measured):
            rounds[key].append(value)

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    # Per round, then the median of the rounds: both sides of a round saw the same machine.
    harness_p50 = [e - r for e, r in zip(rounds["e2e_p50"], rounds["raw_p50"])]
    harness_mean = [e - r for e, r in zip(rounds["e2e_mean"], rounds["raw_mean"])]
    ratio_p50 = [e / r for e, r in zip(rounds["e2e_p50"], rounds["raw_p50"])]
    med = statistics.median
    figures = {f"{key}_us": med(values) for key, values in rounds.items()}
    benchmark.extra_info.update(compute_us=compute_us, **figures, harness_p50_us=med(harness_p50), harness_mean_us=med(harness_mean),
                                ratio_p50=med(ratio_p50), rounds=rounds)
    print(f"\nnull engine, compute {compute_us:g} us, {'x'.join(map(str, SHAPE_CHW))} input, {REQUESTS} requests x {ROUNDS} rounds: "
          f"raw run() {figures['raw_p50_us']:.2f} us p50 / {figures['raw_mean_us']:.2f} mean; vampy e2e {figures['e2e_p50_us']:.2f} p50 / "
          f"{figures['e2e_mean_us']:.2f} mean (its model call {figures['call_mean_us']:.2f} mean); harness {med(harness_p50):.2f} us a "
          f"request at the median (rounds {[round(h, 2) for h in harness_p50]}), {med(harness_mean):.2f} at the mean; "
          f"e2e / raw at the median {med(ratio_p50):.2f}")
