"""vampy's openvino engine against OpenVINO's own benchmark_app, on the same model and CPU.

Both are measured in one session, alternating rounds, so the ratio is robust to the machine's noise;
the absolute numbers are context only. Two comparisons, VDSR 1x1x256x256 fp32 and int8 (the QDQ
model `vampy compile` writes):
- same configuration: `vampy run --engine openvino -i 1 -p 1` against `benchmark_app -hint latency`
  (one stream, all cores, the device's default precision: bf16 where the CPU has it);
- best against best: the best point of `vampy sweep --engines openvino` against the better of
  benchmark_app's two hints (latency, throughput).
vampy's figure is end to end (the uint8 -> float preprocessing of the vdsp file is inside it);
benchmark_app feeds a ready float tensor. Run: `.venv/bin/python -m pytest benchmarks/bench_engines.py --benchmark-only -s`.
"""
from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openvino", reason="the openvino extra is not installed (pip install 'vampy[openvino]')")

from vampy.config import RunConfig  # noqa: E402
from vampy.progress import NullProgress  # noqa: E402
from vampy.workflows.run import execute, prepare  # noqa: E402

ROUNDS = 3
ROUND_S = 6.0
VDSP = Path(__file__).resolve().parents[1] / "vdsp_params" / "official-vdsr-vdsp_params.json"
_THROUGHPUT = re.compile(r"Throughput:\s+([\d.]+)\s+FPS")


def benchmark_app() -> str:
    found = shutil.which("benchmark_app", path=str(Path(sys.executable).parent)) or shutil.which("benchmark_app")
    if found is None:
        pytest.skip("benchmark_app not found (it comes with the openvino package)")
    return found


def benchmark_app_qps(model: Path, hint: str, seconds: float = ROUND_S) -> float:
    out = subprocess.run([benchmark_app(), "-m", str(model), "-d", "CPU", "-hint", hint, "-t", str(int(seconds))],
                         capture_output=True, text=True, timeout=600, check=True).stdout
    match = _THROUGHPUT.search(out)
    assert match, f"no throughput in benchmark_app's output:\n{out[-2000:]}"
    return float(match.group(1))


def vampy_qps(model: Path, seconds: float = ROUND_S) -> float:
    cfg = RunConfig.flat(str(model), vdsp_params=str(VDSP), shapes=((3, 256, 256),), duration_s=seconds, warmup_requests=2,
                    engine="openvino")
    return execute(prepare(cfg), NullProgress()).throughput_qps


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_same_configuration_vs_benchmark_app(benchmark: Any, compiled: dict[str, Path], precision: str) -> None:
    model = compiled[precision]
    base, ours = [], []

    def one_round() -> None:
        base.append(benchmark_app_qps(model, "latency"))
        ours.append(vampy_qps(model))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    ratios = [v / b for v, b in zip(ours, base)]
    benchmark.extra_info.update(benchmark_app_qps=statistics.median(base), vampy_qps=statistics.median(ours),
                                ratio_median=statistics.median(ratios), ratios=ratios)
    print(f"\nVDSR {precision}: benchmark_app -hint latency {statistics.median(base):.2f} qps, vampy --engine openvino -i 1 -p 1 "
          f"{statistics.median(ours):.2f} qps, ratio {statistics.median(ratios):.3f} (rounds {[round(r, 3) for r in ratios]})")


def test_sweep_best_vs_benchmark_app_best(benchmark: Any, compiled: dict[str, Path]) -> None:
    import vampy

    model = compiled["fp32"]
    result: dict[str, float] = {}

    def one_round() -> None:
        result["benchmark_app"] = max(benchmark_app_qps(model, hint) for hint in ("latency", "throughput"))
        sweep = vampy.sweep(model=str(model), vdsp_params=str(VDSP), shape="3,256,256", instances="1,2", processes="1", batch="1",
                            threads="1,2", engines="openvino", point_duration=ROUND_S)
        assert sweep.winner is not None
        result["vampy"] = sweep.winner.throughput_qps
        result["winner"] = sweep.winner.point.label  # type: ignore[assignment]

    benchmark.pedantic(one_round, rounds=1, iterations=1)
    ratio = result["vampy"] / result["benchmark_app"]
    benchmark.extra_info.update(**result, ratio=ratio)
    print(f"\nVDSR fp32, best against best: benchmark_app {result['benchmark_app']:.2f} qps, vampy sweep {result['vampy']:.2f} qps "
          f"({result['winner']}), ratio {ratio:.3f}")
