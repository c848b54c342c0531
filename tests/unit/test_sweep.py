"""The sweep's search on deterministic fake measurements, its outputs, and the Pareto front."""
from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.sweep import GRID, Fake, poor_thread_scaling, two_core_machine
from vampy.config import RunConfig
from vampy.errors import Terminated, UsageError
from vampy.measure.pareto import dominates, pareto_front
from vampy.workflows.sweep import (
    MAX_GAIN,
    MIN_GAIN,
    Measurement,
    Point,
    SweepConfig,
    SweepResult,
    SweepSpace,
    auto_ladder,
    measurement_from_report,
    parse_values,
    search,
)
from vampy.workflows.sweep_run import run_command_line, sweep_csv, sweep_dict


def true_best(ladders: dict[str, tuple[int, ...]], surface: Callable[[Point], tuple[float, float]], bound: float | None = None) -> float:
    points = [Point(*v) for v in itertools.product(*(ladders[d] for d in ("instances", "processes", "batch", "threads")))]
    return max(q for q, p99 in map(surface, points) if bound is None or p99 <= bound)


# --- auto ---


def test_auto_finds_the_grid_optimum_with_at_most_half_the_points() -> None:
    grid = search(GRID, auto=False, measure=Fake())
    auto = search(GRID, auto=True, measure=Fake())
    assert grid.points_tried == 64 and grid.runs == 64
    assert auto.winner is not None and grid.winner is not None
    assert auto.winner.throughput_qps >= 0.97 * grid.winner.throughput_qps
    assert auto.points_tried <= grid.points_tried // 2
    # against the noiseless truth, too
    assert two_core_machine(auto.winner.point)[0] >= 0.97 * true_best(GRID, two_core_machine)


@pytest.mark.parametrize("surface", [two_core_machine, poor_thread_scaling])
@pytest.mark.parametrize("noise", [0.0, 0.02, 0.05])
def test_auto_on_other_surfaces_and_noise(surface: Callable[[Point], tuple[float, float]], noise: float) -> None:
    auto = search(GRID, True, Fake(surface, noise=noise))
    assert auto.winner is not None and auto.points_tried <= 32
    assert surface(auto.winner.point)[0] >= 0.97 * true_best(GRID, surface)


def test_auto_is_deterministic_and_logs_its_noise() -> None:
    a, b = search(GRID, True, Fake()), search(GRID, True, Fake())
    assert [m.point for m in a.rows] == [m.point for m in b.rows]
    assert a.noise == b.noise and a.threshold == b.threshold
    assert a.rows[0].point == a.rows[1].point and a.rows[1].role == "noise repeat"
    assert a.log[0].startswith("noise: i1 p1 b1 t1 twice")
    assert a.log[-1].startswith("auto: stopped at") and f"tried {a.points_tried} of the 64 points" in a.log[-1]
    steps = [line for line in a.log if "->" in line]
    assert len(steps) == len(set(steps))  # a later pass reads its cache without logging it again


def test_threshold_is_the_measured_noise_clamped() -> None:
    quiet = search(GRID, True, Fake(noise=0.0))
    assert quiet.noise == 0.0 and quiet.threshold == MIN_GAIN
    noisy = search(GRID, True, Fake(noise=0.4))
    assert noisy.noise is not None and noisy.threshold is not None
    assert noisy.threshold == min(max(noisy.noise, MIN_GAIN), MAX_GAIN)
    first, repeat = noisy.rows[0].throughput_qps, noisy.rows[1].throughput_qps
    assert noisy.noise == pytest.approx(abs(first - repeat) / ((first + repeat) / 2))


def test_a_plateau_does_not_stop_the_climb() -> None:
    """batch 2 is no better than 1, batch 4 is 30% better: one look past the plateau finds it."""
    def surface(p: Point) -> tuple[float, float]:
        return {1: 10.0, 2: 10.0, 4: 13.0, 8: 12.0}[p.batch] / p.threads, 10.0 * p.batch

    ladders = {"instances": (1,), "processes": (1,), "batch": (1, 2, 4, 8), "threads": (1, 2)}
    result = search(ladders, True, Fake(surface, noise=0.0))
    assert result.winner is not None and result.winner.point.batch == 4
    assert any("past a plateau" in line and "better" in line for line in result.log)


def test_a_clear_loss_stops_the_dimension() -> None:
    def surface(p: Point) -> tuple[float, float]:
        return 10.0 / p.instances, 1.0

    ladders = {"instances": (1, 2, 3, 4), "processes": (1,), "batch": (1,), "threads": (1,)}
    fake = Fake(surface, noise=0.0)
    result = search(ladders, True, fake)
    assert [p.instances for p in fake.calls] == [1, 1, 2]  # twice for noise, then one step that lost 50%
    assert result.winner is not None and result.winner.point.instances == 1


def test_steps_down_when_another_dimension_moved() -> None:
    """Threads grew first (a small gain); once instances grew too, one thread each is better: auto steps back down."""
    def surface(p: Point) -> tuple[float, float]:
        table = {(1, 1): 10.0, (1, 2): 12.0, (2, 2): 25.0, (3, 2): 20.0, (4, 2): 19.0, (2, 1): 30.0, (3, 1): 28.0, (4, 1): 27.0}
        return table[(p.instances, p.threads)], 1.0

    ladders = {"instances": (1, 2, 3, 4), "processes": (1,), "batch": (1,), "threads": (1, 2)}
    result = search(ladders, True, Fake(surface, noise=0.0))
    assert result.winner is not None and (result.winner.point.instances, result.winner.point.threads) == (2, 1)
    assert any("threads 2 -> 1 (down)" in line and "better" in line for line in result.log)


def test_p99_bound_picks_the_best_point_within_it_and_stops_growing_batch() -> None:
    bound = 300.0
    result = search(GRID, True, Fake(), max_p99_ms=bound)
    assert result.winner is not None and result.winner.e2e_p99_ms <= bound
    grid = search(GRID, False, Fake(), max_p99_ms=bound)
    assert grid.winner is not None
    assert result.winner.throughput_qps >= 0.97 * grid.winner.throughput_qps
    over = [m for m in result.rows if m.e2e_p99_ms > bound]
    for m in over:  # nothing larger than an over-bound point was tried along batch
        bigger = [r for r in result.rows if r.point == m.point.with_value("batch", m.point.batch + 1)]
        assert not bigger


def test_no_point_meets_the_bound() -> None:
    result = search(GRID, True, Fake(), max_p99_ms=1.0)
    assert result.winner is None and result.rows


def test_a_failed_point_stops_the_dimension_and_never_wins() -> None:
    fake = Fake(fail={Point(2, 1, 1, 2)})
    result = search(GRID, True, fake)
    failed = [m for m in result.rows if not m.ok]
    assert [m.point for m in failed] == [Point(2, 1, 1, 2)]
    assert Point(3, 1, 1, 2) not in fake.calls  # a failure is a stop, not a plateau
    assert result.winner is not None and result.winner.ok


def test_a_failed_first_point_ends_auto() -> None:
    result = search(GRID, True, Fake(fail={Point(1, 1, 1, 1)}))
    assert len(result.rows) == 1 and result.winner is None and "nothing to climb from" in result.log[-1]


def test_an_unstable_point_is_repeated_once_and_the_steadier_run_kept() -> None:
    point = Point(1, 1, 1, 1)
    fake = Fake(unstable={point})
    result = search({"instances": (1,), "processes": (1,), "batch": (1,), "threads": (1,)}, False, fake)
    assert fake.calls == [point, point]
    (row,) = result.rows
    assert len(row.runs_qps) == 2 and row.stable is True and row.max_deviation == 0.02
    assert result.runs == 2 and result.points_tried == 1
    assert "unstable" in result.log[0]


def test_a_contended_point_is_repeated_and_the_quiet_run_kept() -> None:
    point = Point(1, 1, 1, 2)
    ladders = {"instances": (1,), "processes": (1,), "batch": (1,), "threads": (1, 2)}
    result = search(ladders, True, Fake(noise=0.0, contended={point: 1}))
    (row,) = [m for m in result.rows if m.point == point]
    assert len(row.runs_qps) == 2 and row.runs_qps[0] == pytest.approx(row.runs_qps[1] / 2)
    assert row.others_cpu_percent == 1.0 and result.winner is row and not result.contended
    assert any("other processes used 50% of the machine, repeated" in line for line in result.log)
    # contended twice: still one repeat, and the point is reported as contended
    twice = search(ladders, False, Fake(noise=0.0, contended={point: 2}))
    assert [m.point for m in twice.contended] == [point] and twice.runs == 3


def test_grid_measures_every_point_once_in_order() -> None:
    ladders = {"instances": (1, 2), "processes": (1,), "batch": (1, 4), "threads": (1,)}
    fake = Fake()
    result = search(ladders, False, fake)
    assert fake.calls == [Point(1, 1, 1, 1), Point(1, 1, 4, 1), Point(2, 1, 1, 1), Point(2, 1, 4, 1)]
    assert result.mode == "grid" and result.noise is None


def test_ctrl_c_keeps_the_finished_points_and_reports_each_to_the_observer() -> None:
    seen: list[int] = []

    class Observer:
        def point_started(self, point: Point, index: int, total: int | None) -> None:
            assert total == 64

        def point_done(self, m: Measurement, partial: SweepResult) -> None:
            seen.append(len(partial.rows))

    result = search(GRID, False, Fake(interrupt_at=4), observer=Observer())
    assert result.interrupted == "interrupted (Ctrl-C)" and len(result.rows) == 3 and seen == [1, 2, 3]
    assert "stopped after 3" in result.log[-1]


def test_sigterm_is_named() -> None:
    def measure(point: Point) -> Measurement:
        raise Terminated

    assert search(GRID, True, measure).interrupted == "terminated (SIGTERM)"


def test_empty_dimension_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--batch"):
        search({**GRID, "batch": ()}, False, Fake())


# --- space, config ---


@pytest.mark.parametrize(("text", "values"), [("auto", None), ("AUTO", None), ("1,2,4", (1, 2, 4)), ("4,1,2,2", (1, 2, 4)),
                                              ("1-4", (1, 2, 3, 4)), ("1-2, 8", (1, 2, 8))])
def test_parse_values(text: str, values: tuple[int, ...] | None) -> None:
    assert parse_values(text, "instances") == values


@pytest.mark.parametrize("text", ["", "0", "x", "1,,2", "4-1", "1.5", "-1", "300", "auto,1"])
def test_parse_values_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="--instances"):
        parse_values(text, "instances")


def test_auto_ladders_follow_the_machine() -> None:
    assert auto_ladder("instances", 2) == (1, 2, 3, 4)
    assert auto_ladder("processes", 2) == (1, 2)
    assert auto_ladder("threads", 2) == (1, 2)
    assert auto_ladder("threads", 6) == (1, 2, 4, 6)
    assert auto_ladder("batch", 2) == (1, 2, 4, 8, 16, 32, 64)
    assert auto_ladder("instances", 8) == (1, 2, 3, 4, 6, 8, 12, 16)


def test_fixed_batch_model() -> None:
    assert SweepSpace().ladders(2, fixed_batch=1)["batch"] == (1,)
    assert SweepSpace(batch=(1,)).ladders(2, fixed_batch=1)["batch"] == (1,)
    with pytest.raises(UsageError, match="fixed at 1"):
        SweepSpace(batch=(1, 2)).ladders(2, fixed_batch=1)


def test_sweep_config_validation(tmp_path: Any) -> None:
    base = RunConfig.flat("m.onnx", duration_s=1.0)
    with pytest.raises(UsageError, match="--max_p99_ms"):
        SweepConfig(base, max_p99_ms=0)
    with pytest.raises(UsageError, match="--csv and --json"):
        SweepConfig(base, csv_path=str(tmp_path / "a"), json_path=str(tmp_path / "a"))
    with pytest.raises(UsageError, match="--search"):
        SweepConfig(base, strategy="random")
    assert SweepConfig(base).auto and not SweepConfig(base, SweepSpace((1,), (1,), (1,), (1,))).auto
    assert SweepConfig(base, SweepSpace((1, 2), (1,), (1,), (1,)), strategy="auto").auto
    assert not SweepConfig(base, strategy="grid").auto
    with pytest.raises(UsageError, match="--datalist"):
        SweepConfig(RunConfig.flat("m.onnx", datalist="d.txt"))


# --- outputs ---


def test_winner_command_line_is_shell_ready() -> None:
    base = RunConfig.flat("deploy weights/vdsr/mod", vdsp_params="v.json", shapes=((3, 256, 256),), duration_s=4.0)
    line = run_command_line(base, Point(2, 1, 4, 1))
    assert line == "vampy run -m 'deploy weights/vdsr/mod' --vdsp_params v.json -s '[3,256,256]' -i 2 -p 1 -b 4 --threads 1"
    two = RunConfig.flat("m.onnx", shapes=((1, 8), (1, 8)), token_dtype="int64")
    assert run_command_line(two, Point(1, 1, 1, 1)).endswith("-s '[[1,8],[1,8]]' -i 1 -p 1 -b 1 --threads 1 --dtype int64")


def test_csv_and_json_carry_every_point_and_the_winner() -> None:
    result = search(GRID, True, Fake(fail={Point(2, 1, 1, 2)}))
    cfg = SweepConfig(RunConfig.flat("m.onnx", duration_s=1.0))
    rows = list(csv.DictReader(io.StringIO(sweep_csv(result))))
    assert len(rows) == len(result.rows)
    assert sum(r["winner"] == "True" for r in rows) == 1
    assert any(r["error"] == "worker 0 died" for r in rows)
    data = sweep_dict(result, cfg)
    assert data["kind"] == "sweep" and data["complete"] and data["points_tried"] == result.points_tried
    assert data["winner"]["throughput_qps"] == max(r["throughput_qps"] for r in data["points"] if r["error"] is None)
    assert data["winner_command"].startswith("vampy run -m m.onnx")
    assert data["pareto"] == [k + 1 for k in result.pareto]


def test_low_latency_alternative() -> None:
    def row(i: int, qps: float, p99: float) -> Measurement:
        return Measurement(Point(i, 1, 1, 1), throughput_qps=qps, e2e_p99_ms=p99)

    ladders = dict.fromkeys(("instances", "processes", "batch", "threads"), (1,))
    result = SweepResult("grid", (row(1, 19.3, 60.0), row(2, 19.8, 410.0), row(3, 18.0, 50.0)), ladders)
    assert result.winner is result.rows[1] and result.low_latency_alternative is result.rows[0]  # 3% down, 7x faster
    data = sweep_dict(result, SweepConfig(RunConfig.flat("m.onnx", duration_s=1.0)))
    assert data["low_latency_command"].endswith("-i 1 -p 1 -b 1 --threads 1")
    alone = SweepResult("grid", (row(1, 10.0, 60.0), row(2, 19.8, 410.0)), ladders)
    assert alone.low_latency_alternative is None


def test_measurement_from_report() -> None:
    report: dict[str, Any] = {
        "complete": True, "incomplete_reason": None, "failed_workers": [], "throughput_qps": 12.5, "samples": 50, "forward_time_s": 4.0,
        "e2e": {"percentiles_us": {"p50": 1500.0, "p99": 4000.0}}, "model_latency": {"percentiles_us": {"p50": 1000.0, "p99": 3000.0}},
        "resources": {"cpu_percent_of_machine": 90.0, "rss_peak_mb": 120.0}, "stability": {"stable": True, "max_deviation": 0.01},
    }
    m = measurement_from_report(Point(1, 1, 1, 1), report)
    assert (m.throughput_qps, m.e2e_p50_ms, m.e2e_p99_ms, m.model_p99_ms, m.stable) == (12.5, 1.5, 4.0, 3.0, True)
    bursty = {**report, "stability": {"stable": False, "max_deviation": 9.0, "window_qps": [1.0] * 5}}
    assert measurement_from_report(Point(1, 1, 1, 1), bursty).stable is False  # 10 samples a window, 1 in flight
    assert measurement_from_report(Point(4, 1, 3, 1), bursty).stable is None  # 12 in flight: windows too short to judge
    failed = measurement_from_report(Point(1, 1, 1, 1),
                                     {**report, "complete": False, "incomplete_reason": "worker 0 died", "failed_workers": [{}]})
    assert failed.error == "worker 0 died" and not failed.ok
    with pytest.raises(KeyboardInterrupt):
        measurement_from_report(Point(1, 1, 1, 1), {**report, "complete": False, "incomplete_reason": "interrupted (Ctrl-C)"})
    with pytest.raises(Terminated):
        measurement_from_report(Point(1, 1, 1, 1), {**report, "complete": False, "incomplete_reason": "terminated (SIGTERM)"})


# --- Pareto front ---


def test_pareto_front_on_constructed_points() -> None:
    # (throughput, p99): 0 and 2 and 4 are the front; 1 is dominated by 0; 3 by 2; 5 duplicates 4
    points = [(10.0, 5.0), (9.0, 6.0), (20.0, 10.0), (15.0, 12.0), (25.0, 30.0), (25.0, 30.0)]
    assert pareto_front(points) == [0, 2, 4, 5]
    assert pareto_front([]) == []
    assert pareto_front([(1.0, 1.0)]) == [0]
    # equal latency: only the higher throughput survives
    assert pareto_front([(5.0, 1.0), (6.0, 1.0)]) == [1]


@given(st.lists(st.tuples(st.integers(0, 20).map(float), st.integers(0, 20).map(float)), max_size=40))
@settings(max_examples=200, deadline=None)
def test_pareto_front_matches_brute_force(points: list[tuple[float, float]]) -> None:
    brute = {k for k, p in enumerate(points) if not any(dominates(q, p) for q in points)}
    assert set(pareto_front(points)) == brute


def test_sweep_pareto_ignores_failed_points() -> None:
    result = search(GRID, False, Fake(fail={Point(4, 2, 4, 2)}))
    front = [result.rows[k] for k in result.pareto]
    assert front and all(m.ok for m in front)
    assert max(front, key=lambda m: m.throughput_qps).throughput_qps == max(m.throughput_qps for m in result.rows)
    assert all(not math.isnan(m.e2e_p99_ms) for m in front)


def test_others_cpu_percent_and_contended_points() -> None:
    from vampy.workflows.sweep import CONTENDED_PERCENT
    from vampy.workflows.sweep_run import others_cpu_percent

    # 10 s on 2 cores: the machine was busy 15 CPU s, 5 of them ours -> others used half the machine
    assert others_cpu_percent((0.0, 0.0, 0.0), (10.0, 15.0, 5.0), n_cores=2) == 50.0
    assert others_cpu_percent((0.0, 0.0, 0.0), (10.0, 5.0, 6.0), n_cores=2) == 0.0  # clock skew never goes negative
    assert others_cpu_percent((5.0, 0.0, 0.0), (5.0, 1.0, 0.0), n_cores=2) is None
    quiet = Measurement(Point(1, 1, 1, 1), throughput_qps=1.0, others_cpu_percent=CONTENDED_PERCENT)
    busy = Measurement(Point(2, 1, 1, 1), throughput_qps=1.0, others_cpu_percent=CONTENDED_PERCENT + 1)
    result = SweepResult("grid", (quiet, busy), dict.fromkeys(("instances", "processes", "batch", "threads"), (1,)))
    assert result.contended == [busy]
    assert sweep_dict(result, SweepConfig(RunConfig.flat("m.onnx", duration_s=1.0)))["contended_points"] == 1


# --- --ray: points on several kinds of machine are ranked per kind (issue 16) ---

BIG, SMALL = "Xeon 8480, 112 logical cores, 512 GiB", "Xeon E5, 8 logical cores, 32 GiB"


def on_kind(kind: str, node: str, qps: float, p99: float, **point: int) -> Measurement:
    values = {"instances": 1, "processes": 1, "batch": 1, "threads": 1, **point}
    return Measurement(Point(**values), throughput_qps=qps, e2e_p99_ms=p99, node=node, node_kind=kind, runs_qps=(qps,))


def test_points_on_two_kinds_of_machine_are_ranked_per_kind_never_together() -> None:
    rows = (
        on_kind(BIG, "10.0.0.1", 900.0, 5.0, instances=1), on_kind(BIG, "10.0.0.2", 1200.0, 9.0, instances=2),
        on_kind(SMALL, "10.0.0.3", 100.0, 2.0, instances=1), on_kind(SMALL, "10.0.0.3", 150.0, 4.0, instances=2),
        Measurement(Point(4, 1, 1, 1), error="on node 10.0.0.3: boom", node="10.0.0.3", node_kind=SMALL),
    )
    result = SweepResult("grid", rows, {"instances": (1, 2, 4), "processes": (1,), "batch": (1,), "threads": (1,)})
    assert result.node_kinds == [BIG, SMALL]
    assert result.winner is None  # one ranking across kinds would compare machines, not configurations
    winners = result.winners_by_node_kind
    assert winners[BIG] is rows[1] and winners[SMALL] is rows[3]
    # One Pareto front per kind: the small machine's points are not dominated by the big one's.
    assert result.pareto == [0, 1, 2, 3]
    cfg = SweepConfig(base=RunConfig.flat("m.onnx"), space=SweepSpace((1, 2, 4), (1,), (1,), (1,)))
    data = sweep_dict(result, cfg)
    assert data["winner"] is None and data["node_kinds"] == [BIG, SMALL]
    assert ([(e["node_kind"], e["winner"]["node"], e["winner"]["instances"]) for e in data["winners_by_node_kind"]]
            == [(BIG, "10.0.0.2", 2), (SMALL, "10.0.0.3", 2)])
    assert "-i 2" in data["winners_by_node_kind"][1]["winner_command"]
    assert [r["winner"] for r in data["points"]] == [False, True, False, True, False]
    table = list(csv.DictReader(io.StringIO(sweep_csv(result))))
    assert [(r["node"], r["node_kind"]) for r in table] == [(m.node, m.node_kind) for m in rows]
    # A bound that only the small machine's slow point fails leaves each kind its own winner.
    bounded = SweepResult("grid", rows, result.ladders, max_p99_ms=3.0)
    assert bounded.winners_by_node_kind == {SMALL: rows[2]}


def test_the_printed_summary_says_the_points_ran_on_two_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    from vampy.cli.sweep_cmd import _print

    rows = (on_kind(BIG, "10.0.0.1", 900.0, 5.0), on_kind(SMALL, "10.0.0.3", 150.0, 4.0, instances=2))
    result = SweepResult("grid", rows, {"instances": (1, 2), "processes": (1,), "batch": (1,), "threads": (1,)})
    _print(sweep_dict(result, SweepConfig(base=RunConfig.flat("m.onnx"), space=SweepSpace((1, 2), (1,), (1,), (1,)))))
    out = capsys.readouterr().out
    assert "the points ran on 2 kinds of machine: ranked per kind" in out
    assert f"winner on {BIG}: i1 p1 b1 t1 onnxruntime (node 10.0.0.1)" in out and f"winner on {SMALL}: i2" in out
    assert "\nwinner:" not in out


def test_points_on_one_kind_have_one_winner_naming_its_node() -> None:
    rows = (on_kind(BIG, "10.0.0.1", 900.0, 5.0), on_kind(BIG, "10.0.0.2", 1200.0, 9.0, instances=2))
    result = SweepResult("grid", rows, {"instances": (1, 2), "processes": (1,), "batch": (1,), "threads": (1,)})
    assert result.winner is rows[1] and result.winners == [rows[1]] and result.winners_by_node_kind == {BIG: rows[1]}
    assert sweep_dict(result, SweepConfig(base=RunConfig.flat("m.onnx")))["winner"]["node"] == "10.0.0.2"


def test_the_ray_address_of_a_sweep_is_checked() -> None:
    assert SweepConfig(base=RunConfig.flat("m.onnx"), ray_address="ray://10.0.0.5:10001").ray_address == "ray://10.0.0.5:10001"
    for bad in ("", "head node"):
        with pytest.raises(UsageError, match="HOST:PORT"):
            SweepConfig(base=RunConfig.flat("m.onnx"), ray_address=bad)
