"""vampy/quality/drift.py: each figure equals an independent float64 computation, the edge cases are the
documented ones, worst lines rank by SNR, and each gate passes or fails on its threshold."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vampy.errors import UsageError
from vampy.quality.drift import Gates, evaluate_gates, is_image, is_scores, picture_planes, summarize, summary_of, tensor_drift, worst_lines
from vampy.results.schema import json_float, json_safe


def _reference(ref: np.ndarray, test: np.ndarray) -> dict[str, float]:
    """The definitions, written out again with plain numpy sums in float64."""
    r, t = ref.astype(np.float64).ravel(), test.astype(np.float64).ravel()
    d = r - t
    return {
        "max_abs": float(np.abs(d).max()), "mean_abs": float(np.abs(d).sum() / d.size),
        "rel_l2": float(np.sqrt(np.sum(d * d)) / np.sqrt(np.sum(r * r))),
        "cosine": float(np.sum(r * t) / (np.sqrt(np.sum(r * r)) * np.sqrt(np.sum(t * t)))),
        "snr_db": float(10 * np.log10(np.sum(r * r) / np.sum(d * d))),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_figures_equal_an_independent_float64_computation(dtype: type) -> None:
    rng = np.random.default_rng(3)
    ref = rng.standard_normal((1, 3, 16, 20)).astype(dtype)
    test = (ref.astype(np.float64) + rng.normal(0, 0.05, ref.shape)).astype(dtype)
    got = tensor_drift(ref, test, 7, "a/b.npz", "output_0")
    for name, value in _reference(ref, test).items():
        assert getattr(got, name) == pytest.approx(value, rel=1e-12, abs=1e-15), name
    r, d = ref.astype(np.float64), ref.astype(np.float64) - test.astype(np.float64)
    data_range = float(r.max() - r.min())
    assert got.psnr_db == pytest.approx(10 * np.log10(data_range**2 / np.mean(d * d)), rel=1e-12)
    assert got.data_range == data_range and got.top1_agree is None
    assert (got.line, got.path, got.tensor, got.shape) == (7, "a/b.npz", "output_0", (1, 3, 16, 20))


def test_psnr_with_a_given_data_range() -> None:
    ref = np.linspace(0, 1, 64, dtype=np.float32).reshape(1, 1, 8, 8)
    test = ref + np.float32(0.01)
    got = tensor_drift(ref, test, 0, "p", "output_0", data_range=255.0)
    d = ref.astype(np.float64) - test.astype(np.float64)
    assert got.psnr_db == pytest.approx(10 * np.log10(255.0**2 / np.mean(d * d)), rel=1e-12) and got.data_range == 255.0


def test_top1_agreement_of_score_rows() -> None:
    ref = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5], [0.0, 0.0, 1.0]], dtype=np.float32)
    test = ref.copy()
    test[1] = [0.1, 0.8, 0.1]  # row 1's argmax moves from 0 to 1
    got = tensor_drift(ref, test, 0, "p", "output_0")
    assert got.top1_agree == 0.75 and got.psnr_db is None


def test_identical_and_zero_edge_cases() -> None:
    ref = np.arange(12, dtype=np.float32).reshape(3, 4)
    same = tensor_drift(ref, ref.copy(), 0, "p", "output_0")
    assert (same.snr_db, same.max_abs, same.rel_l2, same.cosine, same.top1_agree) == (math.inf, 0.0, 0.0, 1.0, 1.0)
    zeros = np.zeros((2, 3), np.float32)
    both = tensor_drift(zeros, zeros, 0, "p", "output_0")
    assert (both.snr_db, both.rel_l2, both.cosine) == (math.inf, 0.0, 1.0)
    one = tensor_drift(zeros, zeros + 1, 0, "p", "output_0")
    assert (one.snr_db, one.rel_l2, one.cosine) == (-math.inf, math.inf, 0.0)
    flat = np.full((1, 1, 8, 8), 3.0, np.float32)
    assert tensor_drift(flat, flat + 1, 0, "p", "output_0").psnr_db is None  # no range to measure against
    nan = ref.copy()
    nan[0, 0] = np.nan
    assert math.isnan(tensor_drift(ref, nan, 0, "p", "output_0").snr_db)


def test_shapes_must_match_and_what_counts_as_image_or_scores() -> None:
    with pytest.raises(ValueError, match=r"shape \[1, 4\] in the reference, \[1, 5\] in the test"):
        tensor_drift(np.zeros((1, 4)), np.zeros((1, 5)), 0, "p", "output_0")
    assert is_image((1, 3, 8, 8)) and is_image((2, 1, 256, 256)) and not is_image((1, 4, 8, 8)) and not is_image((1, 3, 4, 4))
    assert is_scores((1, 1000)) and is_scores((8, 2)) and not is_scores((1, 1)) and not is_scores((1, 3, 8))


def _records(snrs: list[float]) -> list:
    """One [1, 1, 8, 8] tensor per line whose SNR is (about) the given dB."""
    rng = np.random.default_rng(0)
    out = []
    for line, snr in enumerate(snrs):
        ref = rng.standard_normal((1, 1, 8, 8))
        noise = rng.standard_normal(ref.shape)
        noise *= math.sqrt(np.sum(ref * ref) / np.sum(noise * noise) / 10 ** (snr / 10)) if math.isfinite(snr) else 0.0
        out.append(tensor_drift(ref, ref + noise, line, f"in/{line}.npz", "output_0"))
    return out


def test_worst_lines_rank_by_snr_lowest_first() -> None:
    records = _records([40.0, 20.0, math.inf, 30.0, 10.0])
    worst = worst_lines(records, 3)
    assert [r.line for r in worst] == [4, 1, 3]
    assert [round(r.snr_db, 6) for r in worst] == [10.0, 20.0, 30.0]
    assert [r.line for r in worst_lines(records, 10)] == [4, 1, 3, 0, 2]


def test_worst_line_is_its_worst_tensor() -> None:
    records = _records([40.0, 20.0])
    second = _records([5.0, 50.0])
    for r in second:
        object.__setattr__(r, "tensor", "output_1")
    worst = worst_lines([*records, *second], 2)
    assert [(r.line, r.tensor) for r in worst] == [(0, "output_1"), (1, "output_0")]


def test_summaries_use_the_nearest_rank_percentile() -> None:
    values = np.arange(1, 41, dtype=np.float64)  # 40 lines: p5 is the 2nd value, p95 the 38th
    stats = summary_of(values)
    assert stats == {"lines": 40, "mean": 20.5, "min": 1.0, "p5": 2.0, "p95": 38.0, "max": 40.0}
    summary = summarize(_records([40.0, 20.0, 30.0]))
    assert summary["output_0"]["snr_db"]["min"] == pytest.approx(20.0) and summary["output_0"]["snr_db"]["lines"] == 3
    assert "top1_agree" not in summary["output_0"] and "psnr_db" in summary["output_0"]


@pytest.mark.parametrize(("threshold", "passed", "failing"), [(25.0, False, [1]), (15.0, True, []), (45.0, False, [1, 3, 0])])
def test_snr_gate(threshold: float, passed: bool, failing: list[int]) -> None:
    (gate,) = evaluate_gates(_records([40.0, 20.0, math.inf, 30.0]), Gates(min_snr_db=threshold))
    assert gate.passed is passed and [f["line"] for f in gate.failing] == failing
    assert gate.value == pytest.approx(20.0)
    assert ("FAILED" in gate.text()) is not passed


def test_cosine_gate_and_nan_fails_every_gate() -> None:
    records = _records([40.0, 20.0])
    (ok,) = evaluate_gates(records, Gates(min_cosine=0.9))
    (bad,) = evaluate_gates(records, Gates(min_cosine=0.999))
    assert ok.passed and not bad.passed and [f["line"] for f in bad.failing] == [1]
    ref = np.ones((1, 1, 8, 8))
    broken = ref.copy()
    broken[0, 0, 0, 0] = np.nan
    nan_record = tensor_drift(ref, broken, 9, "nan.npz", "output_0")
    for gates in (Gates(min_snr_db=-1000.0), Gates(min_cosine=-1.0)):
        (gate,) = evaluate_gates([*records, nan_record], gates)
        assert not gate.passed and gate.failing[0]["line"] == 9


def test_top1_gate_is_the_share_over_all_rows() -> None:
    ref = np.eye(4, dtype=np.float32)[None, 0]  # [1, 4], argmax 0
    wrong = np.eye(4, dtype=np.float32)[None, 1]
    records = [tensor_drift(ref, ref if k != 2 else wrong, k, f"{k}.npz", "output_0") for k in range(4)]
    (passed,) = evaluate_gates(records, Gates(min_top1_agree=0.75))
    (failed,) = evaluate_gates(records, Gates(min_top1_agree=0.8))
    assert passed.passed and passed.value == 0.75 and not failed.passed
    assert [f["line"] for f in failed.failing] == [2] and "agreement 0.75" in failed.text()
    with pytest.raises(UsageError, match=r"no output is a \[N, C\] score tensor \(output_0 \[1, 1, 8, 8\]\)"):
        evaluate_gates(_records([30.0]), Gates(min_top1_agree=0.9))
    with pytest.raises(UsageError, match="between 0 and 1"):
        Gates(min_top1_agree=1.5)


def test_json_carries_infinity_as_strings() -> None:
    record = tensor_drift(np.ones((1, 3)), np.ones((1, 3)), 0, "p", "output_0").to_dict()
    text = json.dumps(json_safe(record), allow_nan=False)  # strict JSON: no Infinity token
    back = json.loads(text)
    assert back["snr_db"] == "inf" and json_float(back["snr_db"]) == math.inf and json_float(None) is None
    assert json_safe({"a": [-math.inf, math.nan, 1.5]}) == {"a": ["-inf", "nan", 1.5]}


def test_pictures_share_one_mapping_and_stretch_the_difference() -> None:
    ref = np.linspace(0, 1, 3 * 16 * 16, dtype=np.float32).reshape(1, 3, 16, 16)
    test = ref.copy()
    test[0, :, 0, 0] += 0.5
    ref_px, test_px, diff_px, peak = picture_planes(ref, test)  # type: ignore[misc]
    assert ref_px.shape == (16, 16, 3) and ref_px.dtype == np.uint8 and peak == pytest.approx(0.5)
    # the reference's min..max -> 0..255 over all channels; RGB planes come out as BGR pixels
    assert ref_px[-1, -1, 0] == 255 and ref_px[0, 0, 2] == 0 and ref_px[-1, -1, 2] == 85
    assert diff_px.max() == 255 and diff_px[1:, 1:].max() == 0
    big = np.zeros((1, 1, 600, 40), np.float32)
    assert picture_planes(big, big)[0].shape == (200, 14)  # type: ignore[index]  # every 3rd pixel
    assert picture_planes(np.zeros((1, 10)), np.zeros((1, 10))) is None
