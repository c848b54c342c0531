"""compare on constructed run reports: a known difference, none, and the bootstrap's pieces."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.support.reports import make_report
from vampy.errors import UsageError
from vampy.measure.compare import compare, histogram_inverse_cdf, median_replicates, throughput_replicates, unique_names


def test_a_known_difference_is_significant() -> None:
    a = make_report(1)
    b = make_report(2, median_ms=11.0, qps=90.0)
    result = compare([a, b], ["a", "b"])
    throughput, median = result.tests_of(1)
    assert throughput.metric == "throughput" and throughput.significant is True
    assert throughput.change == pytest.approx(-0.10)
    assert throughput.ci_low is not None and throughput.ci_high is not None
    assert throughput.ci_low < -0.10 < throughput.ci_high < 0
    assert median.metric == "median e2e latency" and median.significant is True
    assert median.ci_low is not None and median.ci_high is not None
    assert 0 < median.ci_low < 0.10 < median.ci_high
    assert result.verdict(1).startswith("b vs a: significant difference in throughput (-10.0%), median e2e latency (+")


def test_no_difference_says_so() -> None:
    a, b = make_report(1), make_report(2)
    result = compare([a, b], ["a", "b"])
    assert [t.significant for t in result.tests_of(1)] == [False, False]
    assert result.verdict(1) == "b vs a: no significant difference"
    for t in result.tests_of(1):
        assert t.ci_low is not None and t.ci_high is not None and t.ci_low < 0 < t.ci_high
        assert t.ci_high - t.ci_low < 0.05  # 4000 requests, 10 windows at 1%: a tight interval


def test_a_report_against_itself() -> None:
    a = make_report(3)
    result = compare([a, a], ["a", "a2"])
    assert result.verdict(1) == "a2 vs a: no significant difference"
    assert all(t.change == 0 for t in result.tests_of(1))


def test_the_verdict_is_deterministic_and_a_third_report_does_not_change_the_second() -> None:
    a, b, c = make_report(1), make_report(2, median_ms=10.2), make_report(4, qps=80.0)
    two = compare([a, b], ["a", "b"])
    three = compare([a, b, c], ["a", "b", "c"])
    assert two.tests == compare([a, b], ["a", "b"]).tests
    assert two.tests_of(1) == three.tests_of(1)
    assert compare([a, b], ["a", "b"], seed=1).tests != two.tests


def test_min_change_turns_a_small_significant_change_off() -> None:
    a, b = make_report(1, n=20000), make_report(2, median_ms=10.3, n=20000)
    strict = compare([a, b], ["a", "b"])
    assert strict.tests_of(1)[1].significant is True
    loose = compare([a, b], ["a", "b"], min_change=0.05)
    assert loose.tests_of(1)[1].significant is False and "--min_change" in loose.tests_of(1)[1].note


def test_too_few_windows_cannot_judge_throughput() -> None:
    a, b = make_report(1, windows=0), make_report(2, qps=50.0, windows=0)
    result = compare([a, b], ["a", "b"])
    throughput, median = result.tests_of(1)
    assert throughput.significant is None and "stability windows" in throughput.text()
    assert median.significant is False


def test_windows_shorter_than_the_requests_in_flight_cannot_judge_throughput() -> None:
    a, b = make_report(1), make_report(2, qps=50.0)
    b.update(instances=4, batch_size=64)  # 400 samples a window, 256 in flight
    throughput = compare([a, b], ["a", "b"]).tests_of(1)[0]
    assert throughput.significant is None and "b: 400 samples a window, fewer than twice the 256 in flight" in throughput.note


def test_metrics_side_by_side_and_changes() -> None:
    a, b = make_report(1), make_report(2, qps=120.0)
    result = compare([a, b], ["a", "b"])
    rows = {m.label: m for m in result.metrics}
    assert rows["throughput (qps)"].values == (100.0, 120.0)
    assert rows["throughput (qps)"].change(1) == pytest.approx(0.2)
    assert rows["e2e p50 (ms)"].values[0] == pytest.approx(a["e2e"]["percentiles_us"]["p50"] / 1e3)
    assert rows["memory peak (MB)"].change(1) == 0
    assert "verdicts" in result.to_dict() and result.to_dict()["kind"] == "compare"


def test_notes_name_differing_models_and_incomplete_runs() -> None:
    a, b = make_report(1), make_report(2)
    b["model"] = {"path": "other/mod.onnx"}
    b["complete"], b["incomplete_reason"] = False, "interrupted (Ctrl-C)"
    notes = compare([a, b], ["a", "b"]).notes
    assert any("differ in model" in n for n in notes) and any("b is INCOMPLETE" in n for n in notes)


@pytest.mark.parametrize(("kwargs", "needle"),
                         [({"confidence": 1.0}, "--confidence"), ({"resamples": 5}, "--resamples"), ({"min_change": -0.1}, "--min_change")])
def test_bad_parameters(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        compare([make_report(1), make_report(2)], ["a", "b"], **kwargs)


def test_one_report_is_not_a_comparison() -> None:
    with pytest.raises(UsageError, match="at least two"):
        compare([make_report(1)], ["a"])


def test_histogram_inverse_cdf() -> None:
    edges, counts = [1.0, 10.0, 100.0], [1, 1]
    u = np.array([1e-9, 0.25, 0.5, 0.75, 1.0])
    values = histogram_inverse_cdf(edges, counts, u)
    assert values == pytest.approx([1.0, 10**0.5, 10.0, 10**1.5, 100.0], rel=1e-6)
    empty_middle = histogram_inverse_cdf([1.0, 2.0, 4.0, 8.0], [2, 0, 2], np.array([0.5, 0.5000001]))
    assert empty_middle[0] == pytest.approx(2.0) and empty_middle[1] >= 4.0  # no mass where no request was


def test_median_replicates_centre_on_the_median() -> None:
    report = make_report(5, n=10000)
    reps = median_replicates(report["histograms"]["e2e"], np.random.default_rng(0), 2000)
    assert reps is not None
    assert np.median(reps) == pytest.approx(report["e2e"]["percentiles_us"]["p50"], rel=0.01)
    assert median_replicates({"edges_us": [], "counts": []}, np.random.default_rng(0), 10) is None


def test_throughput_replicates_are_harmonic_means() -> None:
    reps = throughput_replicates([100.0, 100.0, 100.0], np.random.default_rng(0), 50)
    assert reps is not None and np.allclose(reps, 100.0)
    assert throughput_replicates([100.0, 50.0], np.random.default_rng(0), 50) is None
    two_rates = throughput_replicates([100.0, 50.0, 100.0, 50.0], np.random.default_rng(0), 4000)
    assert two_rates is not None and 50 < np.median(two_rates) < 75  # harmonic mean of 100 and 50 is 66.7


def test_unique_names() -> None:
    assert unique_names(["a/run.json", "b/run.json", "c.json"]) == ["a/run.json", "b/run.json", "c"]


def test_different_engines_are_never_called_a_plain_regression() -> None:
    from vampy.measure.compare import compare as compare_reports
    from vampy.measure.compare import engine_label

    base = _engine_report("onnxruntime", "fp32", qps=5.0)
    other = _engine_report("openvino", "bf16", qps=20.0)
    result = compare_reports([base, other], ["ort", "ov"], resamples=200)
    assert result.engines == ("onnxruntime fp32", "openvino bf16")
    verdict = result.verdict(1)
    assert verdict.startswith("ov vs ort (different engines: openvino bf16 vs onnxruntime fp32; not a regression of either)")
    assert any("different engines" in n for n in result.notes)
    assert list(result.to_dict()["engines"]) == ["onnxruntime fp32", "openvino bf16"]
    same = compare_reports([base, _engine_report("onnxruntime", "fp32", qps=5.1)], ["a", "b"], resamples=200)
    assert "different engines" not in same.verdict(1) and not any("different engines" in n for n in same.notes)
    assert engine_label({}) == "onnxruntime"  # a report from before the engine block
    old = dict(base)
    del old["engine"]
    against_old = compare_reports([old, base], ["old", "new"], resamples=200)
    assert "different engines" not in against_old.verdict(1)  # the same system: a regression is called one
    int8 = compare_reports([base, _engine_report("onnxruntime", "int8", qps=15.0)], ["fp32", "int8"], resamples=200)
    assert "different engines" not in int8.verdict(1) and any("different precisions" in n for n in int8.notes)


def _engine_report(engine: str, precision: str, qps: float) -> dict:
    windows = [qps * (1 + 0.01 * k) for k in (-1, 0, 1, 0, -1)]
    return {
        "kind": "run", "complete": True, "samples": 100, "throughput_qps": qps, "instances": 1, "processes": 1, "batch_size": 1,
        "intra_threads": 2, "model": {"path": "m.onnx"}, "inputs": {"inputs": []},
        "e2e": {"avg_us": 1e6 / qps, "percentiles_us": {"p50": 1e6 / qps, "p99": 1.1e6 / qps}},
        "model_latency": {"avg_us": 1e6 / qps, "percentiles_us": {"p50": 1e6 / qps, "p99": 1.1e6 / qps}},
        "histograms": {"e2e": {"edges_us": [0.9e6 / qps, 1.0e6 / qps, 1.1e6 / qps], "counts": [50, 50]}},
        "stability": {"stable": True, "max_deviation": 0.01, "window_qps": windows, "window_samples": [20] * 5},
        "engine": {"engine": engine, "version": "x", "device": "cpu", "precision": precision, "intra_threads": 2, "providers": []},
    }
