"""Issue 7's measurement pieces, exactly: breakdown under a fake clock, arrival schedules,
open-loop verdicts, profiler traces, exported timestamps."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.models import conv_model
from vampy.data.inputs import InputPlan, InputSlot
from vampy.execution.worker import SharedCounters, WorkerSpec, _Driver, _PerfSource
from vampy.measure.profiling import op_times, read_trace
from vampy.measure.schedule import arrival_offsets_ns, arrivals_for, summarize_open_loop
from vampy.measure.timesheet import FIELDS, read, to_text


class FakeClock:
    """Every reading is 1000 ns after the previous one."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        self.now += 1000
        return self.now


class FakeEvent:
    def is_set(self) -> bool:
        return False

    def wait(self, timeout: float | None = None) -> bool:
        return False


def _driver_on(clock: FakeClock, tmp_path: Path, requests: int | None, duration_s: float | None) -> tuple[_Driver, SharedCounters]:
    """One instance of a tiny conv model, every stamp from `clock`."""
    from vampy.engines.base import EngineOptions, get_engine
    from vampy.execution.job import RunJob, StopRule

    model = conv_model(tmp_path / "m.onnx", in_ch=1, hw=(4, 4))
    slot = InputSlot("input", "image", (1, 4, 4), "float32", None, (1, 1, 4, 4))
    plan = InputPlan((slot,), None, None, 1, True)
    job = RunJob(str(model), "onnxruntime", "cpu", 0, processes=1, instances=1, intra_threads=1, plan=plan,
                 stop=StopRule(requests, duration_s, None), warmup_requests=0, seed=0)
    shared = SharedCounters(progress=[0], inflight=[0], stop_event=FakeEvent())
    session = get_engine().open(model, EngineOptions(intra_threads=1))
    driver = _Driver(WorkerSpec(job, 0), 0, session, np.random.default_rng(0), clock, shared)
    return driver, shared


def test_breakdown_phases_add_up_to_e2e_under_a_fake_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    driver, shared = _driver_on(clock, tmp_path, 3, None)
    driver.loop(_PerfSource(3, None, clock))
    cols = driver.record.arrays()
    assert cols["samples"].tolist() == [1, 1, 1]
    e2e = cols["end_ns"] - cols["arrival_ns"]
    phases = [cols["start_ns"] - cols["arrival_ns"], cols["model_start_ns"] - cols["start_ns"],
              cols["model_end_ns"] - cols["model_start_ns"], cols["end_ns"] - cols["model_end_ns"]]
    assert (sum(phases) == e2e).all()
    # closed loop: no queue; one clock reading per phase boundary
    assert phases[0].tolist() == [0, 0, 0] and phases[1].tolist() == [1000] * 3 and phases[2].tolist() == [1000] * 3
    assert shared.progress == [3] and shared.inflight == [0]


def test_a_duration_ends_the_closed_loop_at_its_deadline_under_a_fake_clock(tmp_path: Path) -> None:
    """-t without --iterations: requests go on until the clock reaches the deadline, none starts at or
    after it, and the loop then ends (it has no count to end it otherwise). The clock is the test's, so
    this is exact on any machine; the real clock's -t is only checked to end a run (test_run_perf)."""
    clock = FakeClock()
    driver, shared = _driver_on(clock, tmp_path, None, 50e-6)
    deadline_ns = clock() + 50_000  # as the worker sets it: its clock when the source is made, plus -t
    driver.loop(_PerfSource(None, deadline_ns, clock))
    cols = driver.record.arrays()
    assert cols["start_ns"].size >= 2 and shared.progress == [cols["start_ns"].size]  # several requests, each counted
    assert (cols["start_ns"] < deadline_ns).all()  # none started at or after the deadline
    assert clock.now >= deadline_ns  # the loop ended because the deadline came
    # ... at the first check after it: only the last request may end past the deadline
    assert (cols["end_ns"][:-1] < deadline_ns).all()


def test_constant_arrivals_are_evenly_spaced() -> None:
    offsets = arrival_offsets_ns(250.0, 5, "constant", np.random.default_rng(0))
    assert offsets.tolist() == [0, 4_000_000, 8_000_000, 12_000_000, 16_000_000]


def test_poisson_gaps_follow_the_exponential_law() -> None:
    rate = 1000.0
    offsets = arrival_offsets_ns(rate, 4000, "poisson", np.random.default_rng(42))
    gaps_s = np.diff(np.concatenate([[0], offsets])) / 1e9
    assert (gaps_s >= 0).all()
    assert abs(gaps_s.mean() * rate - 1) < 0.05
    # Kolmogorov-Smirnov against Exp(rate), 1% level: D < 1.63 / sqrt(n)
    x = np.sort(gaps_s)
    cdf = 1 - np.exp(-rate * x)
    n = x.size
    d = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    assert d < 1.63 / math.sqrt(n)
    # and a constant schedule is far from it, so the test can fail
    const = np.full(n, 1 / rate)
    d_const = np.max(np.abs(np.arange(1, n + 1) / n - (1 - np.exp(-rate * const))))
    assert d_const > 1.63 / math.sqrt(n)


def test_duration_schedules_stop_at_the_duration() -> None:
    offsets = arrivals_for(100.0, "poisson", np.random.default_rng(1), None, 2.0)
    assert offsets.max() < 2_000_000_000 and 140 < offsets.size < 260
    assert arrivals_for(100.0, "constant", np.random.default_rng(1), 7, None).size == 7
    with pytest.raises(ValueError):
        arrival_offsets_ns(10.0, 3, "bursty", np.random.default_rng(0))


def test_open_loop_verdicts() -> None:
    arrival = np.arange(300, dtype=np.int64) * 1_000_000
    kept_up = summarize_open_loop(arrival, arrival + 200_000, 1000.0, 990.0, "constant")
    assert kept_up.sustained and not kept_up.queue_wait_growing and kept_up.peak_backlog == 1
    falling_behind = summarize_open_loop(arrival, arrival * 2, 1000.0, 500.0, "constant")
    assert not falling_behind.sustained and falling_behind.queue_wait_growing and falling_behind.peak_backlog > 50


def trace(events: list[dict[str, Any]], path: Path) -> Path:
    path.write_text(json.dumps(events))
    return path


def test_profile_trace_is_aggregated_by_operator(tmp_path: Path) -> None:
    events = [
        {"cat": "Session", "name": "model_run", "dur": 999},
        {"cat": "Node", "name": "conv1_kernel_time", "dur": 30, "args": {"op_name": "Conv"}},
        {"cat": "Node", "name": "conv1_fence_before", "dur": 5, "args": {"op_name": "Conv"}},
        {"cat": "Node", "name": "conv2_kernel_time", "dur": 60, "args": {"op_name": "Conv"}},
        {"cat": "Node", "name": "relu_kernel_time", "dur": 10, "args": {"op_name": "Relu"}},
    ]
    ops = op_times(read_trace(trace(events, tmp_path / "p.json")))
    assert [(o.op_type, o.total_us, o.calls) for o in ops] == [("Conv", 90.0, 2), ("Relu", 10.0, 1)]
    assert ops[0].share == pytest.approx(0.9)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(Exception, match="not a readable ONNX Runtime profile"):
        read_trace(tmp_path / "bad.json")


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_export_times_round_trip(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(3)
    columns = {name: rng.integers(0, 2**62, 50) for name in FIELDS}
    path = tmp_path / f"t{suffix}"
    path.write_text(to_text(columns, path))
    back = read(path)
    order = np.argsort(columns["arrival_ns"], kind="stable")
    for name in FIELDS:
        assert back[name].tolist() == columns[name][order].tolist()


def test_loadgen_rank_rule_differs_from_nearest_rank_only_on_whole_ranks() -> None:
    from vampy.measure.stats import percentile_ns
    from vampy.workflows.loadgen import loadgen_rank_ns

    values = np.arange(1, 101, dtype=np.int64)  # n * q / 100 is whole for q = 90
    assert percentile_ns(values, 90) == 90 and loadgen_rank_ns(values, 90) == 91
    odd = np.arange(1, 102, dtype=np.int64)  # n = 101: 90.9 -> both take the 91st
    assert percentile_ns(odd, 90) == loadgen_rank_ns(odd, 90) == 91
