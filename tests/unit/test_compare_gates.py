"""`vampy compare --fail_if_slower PCT` / `--fail_if_p99_higher PCT`: the CI gates' rule, on constructed reports.

The rule (measure/compare.py): report B fails when its figure moved the wrong way by more than PCT percent
of A's AND the bootstrap interval of that change excludes zero. It is tested here on reports built from
made-up latencies (tests/support/reports.make_report), not on two real runs: the interval covers
within-run noise only, and two real runs on a busy 2-core machine can differ by more than any PCT a test
could pick, so a "rerun passes" test on real runs could flake. What a real rerun may do is modelled
instead: independent noise (another seed) and a between-run shift below PCT.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import exit_code as _vampy
from tests.support.reports import make_report
from vampy.errors import InputError, UsageError
from vampy.measure.compare import Test as BootstrapTest  # not a pytest class
from vampy.measure.compare import compare, p99_gate, slower_gate

NAMES = ["a", "b"]


def _half_threads(seed: int) -> dict:
    """The same model with half the threads on a compute-bound load: half the throughput, twice the latency."""
    report = make_report(seed, median_ms=20.0, qps=50.0)
    report["intra_threads"] = 1
    return report


def test_half_the_threads_fails_and_a_rerun_passes() -> None:
    base = make_report(1)
    slow = compare([base, _half_threads(2)], NAMES, fail_if_slower_pct=25, fail_if_p99_higher_pct=25)
    assert [g.failed for g in slow.gates] == [True, True] and len(slow.failed_gates) == 2
    assert "FAILED, slower by more than 25%: throughput -50.0%" in slow.gates[0].text
    rerun = compare([base, make_report(2)], NAMES, fail_if_slower_pct=25, fail_if_p99_higher_pct=25)  # same config, new noise
    assert [g.failed for g in rerun.gates] == [False, False] and "passed" in rerun.gates[0].text


def test_a_real_but_small_shift_passes() -> None:
    """A rerun on a busier machine: 8% slower, beyond its own noise (significant) but under the 25% margin."""
    busier = make_report(2, median_ms=10.8, qps=100 / 1.08)
    result = compare([make_report(1), busier], NAMES, fail_if_slower_pct=25)
    assert result.tests_of(1)[0].significant and not result.gates[0].failed
    assert compare([make_report(1), busier], NAMES, fail_if_slower_pct=5).gates[0].failed  # a tighter margin catches it


def test_faster_never_fails() -> None:
    result = compare([make_report(1), make_report(2, median_ms=5.0, qps=200.0)], NAMES, fail_if_slower_pct=0, fail_if_p99_higher_pct=0)
    assert not any(g.failed for g in result.gates)


def _t(metric: str, change: float, low: float, high: float) -> BootstrapTest:
    return BootstrapTest(metric, 1, change, low, high, low > 0 or high < 0)


@pytest.mark.parametrize(
    ("throughput", "median", "failed"),
    [
        (_t("throughput", -0.40, -0.45, -0.35), _t("median e2e latency", 0.02, -0.01, 0.05), True),  # throughput alone decides
        (_t("throughput", -0.40, -0.80, 0.10), _t("median e2e latency", 0.02, -0.01, 0.05), False),  # beyond PCT, but within the noise
        (_t("throughput", -0.10, -0.12, -0.08), _t("median e2e latency", 0.30, 0.25, 0.35), True),  # latency alone decides
        (_t("throughput", -0.20, -0.22, -0.18), _t("median e2e latency", 0.24, 0.20, 0.28), False),  # significant, under 25%
    ],
)
def test_slower_rule_on_given_intervals(throughput: BootstrapTest, median: BootstrapTest, failed: bool) -> None:
    assert slower_gate(1, 25, [throughput, median], NAMES).failed is failed


def test_p99_rule_and_cannot_judge() -> None:
    assert p99_gate(1, 10, _t("p99 e2e latency", 0.5, 0.2, 0.8), NAMES).failed
    assert not p99_gate(1, 10, _t("p99 e2e latency", 0.5, -0.1, 0.8), NAMES).failed
    blind = BootstrapTest("throughput", 1, -0.5, None, None, None, "too few windows")
    with pytest.raises(InputError, match="neither throughput nor median latency can be judged"):
        slower_gate(1, 25, [blind, BootstrapTest("median e2e latency", 1, 0.5, None, None, None, "no e2e histogram")], NAMES)
    no_histogram = make_report(2)
    del no_histogram["histograms"]
    with pytest.raises(InputError, match="b: no e2e latency histogram"):
        compare([make_report(1), no_histogram], NAMES, fail_if_p99_higher_pct=25)


def test_gates_are_off_by_default_and_checked() -> None:
    assert compare([make_report(1), _half_threads(2)], NAMES).gates == ()
    with pytest.raises(UsageError, match="--fail_if_slower -1"):
        compare([make_report(1), make_report(2)], NAMES, fail_if_slower_pct=-1)


def test_cli_exit_codes_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, rerun, half = (tmp_path / n for n in ("base.json", "rerun.json", "half.json"))
    base.write_text(json.dumps(make_report(1)))
    rerun.write_text(json.dumps(make_report(2)))
    half.write_text(json.dumps(_half_threads(3)))
    out = tmp_path / "c.json"
    assert _vampy(["compare", str(base), str(rerun), "--fail_if_slower", "25", "--fail_if_p99_higher", "25"]) == 0
    assert "gate --fail_if_slower 25: rerun vs base: passed" in capsys.readouterr().out
    assert _vampy(["compare", str(base), str(half), "--fail_if_slower", "25", "--json", str(out)]) == 8
    err = capsys.readouterr().err
    assert "--fail_if_slower 25: half vs base: FAILED" in err and len(err.strip().splitlines()) == 1
    gates = json.loads(out.read_text())["gates"]  # written before the exit
    assert [(g["gate"], g["report"], g["failed"]) for g in gates] == [("fail_if_slower", 1, True)]
    page = tmp_path / "c.html"
    assert _vampy(["compare", str(base), str(half), "--fail_if_p99_higher", "25", "--html", str(page)]) == 8
    assert "Gate --fail_if_p99_higher 25: half vs base: FAILED" in page.read_text()
    # three reports: each is gated against the first; one failure is enough
    assert _vampy(["compare", str(base), str(rerun), str(half), "--fail_if_slower", "25"]) == 8
    assert "half vs base" in capsys.readouterr().err
    assert _vampy(["compare", str(base), str(rerun)]) == 0  # no gate, no exit 8 whatever the change
