from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vampy.measure.stats import Window, measured_window, percentile_ns, stability, summarize_latency, throughput_qps


def test_nearest_rank_percentiles() -> None:
    values = np.arange(1, 101, dtype=np.int64)[::-1].copy()  # unsorted on purpose
    assert [percentile_ns(values, q) for q in (1, 50, 90, 99, 99.5, 100)] == [1, 50, 90, 99, 100, 100]
    assert percentile_ns(np.array([7], np.int64), 50) == 7
    # same definition as numpy's inverted_cdf
    rng = np.random.default_rng(0)
    sample = rng.integers(0, 10**9, 1001)
    for q in (50, 90, 95, 99, 99.9):
        assert percentile_ns(sample, q) == int(np.percentile(sample, q, method="inverted_cdf"))


def test_percentile_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        percentile_ns(np.array([], np.int64), 50)
    with pytest.raises(ValueError):
        percentile_ns(np.array([1], np.int64), 0)


@given(st.lists(st.integers(0, 10**12), min_size=1, max_size=200))
@settings(max_examples=200, deadline=None)
def test_summary_invariants(values: list[int]) -> None:
    s = summarize_latency(np.array(values, np.int64), (50.0, 90.0, 99.0))
    p = s.percentiles_ns
    assert s.min_ns <= p[50.0] <= p[90.0] <= p[99.0] <= s.max_ns
    assert s.min_ns <= s.avg_ns <= s.max_ns
    assert all(v in values for v in p.values())


def test_throughput_over_common_window() -> None:
    start = np.array([0, 500_000_000], np.int64)
    end = np.array([1_000_000_000, 2_000_000_000], np.int64)
    window = measured_window(start, end)
    assert window == Window(0, 2_000_000_000)
    assert throughput_qps(10, window) == pytest.approx(5.0)
    assert throughput_qps(10, Window(0, 0)) == 0.0


def test_stability_detects_a_slow_half() -> None:
    n = 200
    steady_end = np.linspace(1e7, 1e9, n).astype(np.int64)
    ones = np.ones(n, np.int64)
    window = Window(0, 1_000_000_000)
    assert stability(steady_end, ones, window).stable is True
    # second half runs at a third of the rate
    first = np.linspace(1e7, 5e8, 150)
    second = np.linspace(5e8 + 1e7, 1e9, 50)
    uneven = np.concatenate([first, second]).astype(np.int64)
    result = stability(uneven, ones, window)
    assert result.stable is False and result.max_deviation > 0.05


def test_stability_needs_enough_samples() -> None:
    assert stability(np.array([1, 2], np.int64), np.ones(2, np.int64), Window(0, 3)).stable is None


def test_stability_is_not_fooled_by_rounding_on_short_runs() -> None:
    # 24 evenly spaced completions: any time-sliced count would be off by a whole request (12.5%)
    end = np.arange(1, 25, dtype=np.int64) * 450_000_000
    result = stability(end, np.ones(24, np.int64), Window(0, int(end[-1])))
    assert result.stable is True and result.max_deviation < 1e-9
    assert len(result.window_qps) == 3
