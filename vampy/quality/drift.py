"""Output drift between two runs of the same inputs, per datalist line and output tensor, family-agnostic.

Every figure is computed in float64 from the two arrays as stored (fp16 and fp32 outputs alike),
with r the reference, t the test and d = r - t, all flattened:

- `max_abs` = max |d|, `mean_abs` = mean |d|;
- `rel_l2` = ||d|| / ||r|| (0 when both are 0, inf when only r is 0);
- `cosine` = <r, t> / (||r|| ||t||), clipped to [-1, 1] (1 when both are all zeros, 0 when one is);
- `snr_db` = 10 log10(sum r^2 / sum d^2): +inf when the arrays are identical, -inf when r is all
  zeros and t is not;
- `top1_agree`: for a 2-D score tensor [N, C] (C >= 2), the share of its N rows whose argmax agrees;
- `psnr_db` = 10 log10(R^2 / mean d^2) for an image-shaped tensor [N, C, H, W] (C 1 or 3, H and W
  at least 8), R the data range given (`--data_range`) or else the reference's own max - min on that
  line (none when that is 0): +inf when identical.

A NaN in either array makes the figures it touches NaN; NaN ranks as the worst and fails every gate.
JSON has no infinity: reports carry non-finite figures as the strings "inf", "-inf" and "nan"
(results/schema.json_safe), which Python's float() reads back.

Summaries over lines use the project's one percentile definition (measure/stats.PERCENTILE_METHOD,
nearest rank). The worst lines are ranked by their lowest `snr_db` over their tensors.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from vampy.errors import UsageError
from vampy.measure.stats import PERCENTILE_METHOD

METRICS = ("max_abs", "mean_abs", "rel_l2", "cosine", "snr_db", "top1_agree", "psnr_db")
SUMMARY_STATS = ("mean", "min", "p5", "p95", "max")
MIN_IMAGE_SIDE_PX = 8  # an [N, C, H, W] tensor smaller than this is a feature map, not a picture
IMAGE_CHANNELS = (1, 3)
DEFAULT_WORST = 10


@dataclass(frozen=True)
class TensorDrift:
    """The drift of one output tensor on one line (module docstring: the definitions)."""

    line: int  # the datalist index (0-based, the NNNNNN of output_NNNNNN.npz), or the sample index
    path: str  # the datalist line as written, or the sample's file names
    tensor: str  # output_0, output_1, ...
    shape: tuple[int, ...]
    max_abs: float
    mean_abs: float
    rel_l2: float
    cosine: float
    snr_db: float
    top1_agree: float | None = None
    psnr_db: float | None = None
    data_range: float | None = None  # the R psnr_db used

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["shape"] = list(self.shape)
        return data


def ratio_db(signal_energy: float, noise_energy: float) -> float:
    """10 log10(signal / noise), with the edge cases of the module docstring."""
    if math.isnan(signal_energy) or math.isnan(noise_energy):
        return math.nan
    if noise_energy == 0:
        return math.inf
    if signal_energy == 0:
        return -math.inf
    return 10.0 * math.log10(signal_energy / noise_energy)


def is_image(shape: Sequence[int]) -> bool:
    return len(shape) == 4 and shape[1] in IMAGE_CHANNELS and shape[2] >= MIN_IMAGE_SIDE_PX and shape[3] >= MIN_IMAGE_SIDE_PX


def is_scores(shape: Sequence[int]) -> bool:
    return len(shape) == 2 and shape[1] >= 2


def tensor_drift(
    reference: np.ndarray, test: np.ndarray, line: int, path: str, tensor: str, data_range: float | None = None,
) -> TensorDrift:
    """One tensor's drift; ValueError when the shapes differ (the caller names the files)."""
    if reference.shape != test.shape:
        raise ValueError(f"{tensor}: shape {list(reference.shape)} in the reference, {list(test.shape)} in the test")
    ref = np.asarray(reference, dtype=np.float64).ravel()
    tst = np.asarray(test, dtype=np.float64).ravel()
    diff = ref - tst
    ref_energy, test_energy, diff_energy = float(ref @ ref), float(tst @ tst), float(diff @ diff)
    shape = tuple(int(d) for d in reference.shape)
    psnr, used_range = _psnr(ref, diff_energy, shape, data_range)
    return TensorDrift(
        line=line, path=path, tensor=tensor, shape=shape,
        max_abs=float(np.max(np.abs(diff))) if diff.size else 0.0,
        mean_abs=float(np.mean(np.abs(diff))) if diff.size else 0.0,
        rel_l2=_rel_l2(ref_energy, diff_energy),
        cosine=_cosine(float(ref @ tst), ref_energy, test_energy),
        snr_db=ratio_db(ref_energy, diff_energy),
        top1_agree=_top1(reference, test) if is_scores(shape) else None,
        psnr_db=psnr, data_range=used_range,
    )


def _rel_l2(ref_energy: float, diff_energy: float) -> float:
    if ref_energy == 0:
        return 0.0 if diff_energy == 0 else math.inf
    return math.sqrt(diff_energy / ref_energy)


def _cosine(cross: float, ref_energy: float, test_energy: float) -> float:
    if ref_energy == 0 or test_energy == 0:
        return 1.0 if ref_energy == test_energy == 0 else 0.0
    cosine = cross / math.sqrt(ref_energy * test_energy)
    return cosine if math.isnan(cosine) else min(1.0, max(-1.0, cosine))  # rounding can step past +-1


def _top1(reference: np.ndarray, test: np.ndarray) -> float:
    return float(np.mean(np.argmax(reference, axis=1) == np.argmax(test, axis=1)))


def _psnr(ref: np.ndarray, diff_energy: float, shape: tuple[int, ...], data_range: float | None) -> tuple[float | None, float | None]:
    if not is_image(shape) or ref.size == 0:
        return None, None
    span = data_range if data_range is not None else float(ref.max() - ref.min())
    if not span > 0:  # a flat reference has no range to measure against (NaN lands here too)
        return None, None
    return ratio_db(span * span * ref.size, diff_energy), span


# --- over lines ---


def _ranked_key(value: float) -> float:
    """NaN is the worst figure there is."""
    return -math.inf if math.isnan(value) else value


def line_snr_db(records: Sequence[TensorDrift]) -> dict[int, TensorDrift]:
    """Each line's worst tensor by snr_db."""
    worst: dict[int, TensorDrift] = {}
    for record in records:
        held = worst.get(record.line)
        if held is None or _ranked_key(record.snr_db) < _ranked_key(held.snr_db):
            worst[record.line] = record
    return worst


def worst_lines(records: Sequence[TensorDrift], count: int) -> list[TensorDrift]:
    """The `count` lines with the lowest snr_db (each as its worst tensor), lowest first; ties by line."""
    per_line = line_snr_db(records)
    return sorted(per_line.values(), key=lambda r: (_ranked_key(r.snr_db), r.line))[:count]


def summarize(records: Sequence[TensorDrift]) -> dict[str, dict[str, dict[str, float]]]:
    """tensor -> metric -> {lines, mean, min, p5, p95, max} over the lines that have the metric."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for tensor in dict.fromkeys(r.tensor for r in records):
        rows = [r for r in records if r.tensor == tensor]
        out[tensor] = {}
        for metric in METRICS:
            values = np.array([v for r in rows if (v := getattr(r, metric)) is not None], dtype=np.float64)
            if values.size:
                out[tensor][metric] = summary_of(values)
    return out


def summary_of(values: np.ndarray) -> dict[str, float]:
    """Mean, extremes and the 5th/95th nearest-rank percentiles; the mean of a set holding +inf is +inf."""
    with np.errstate(invalid="ignore"):  # inf - inf inside the mean is NaN, as it should be
        mean = float(np.mean(values))
    p5, p95 = (float(np.quantile(values, q, method=PERCENTILE_METHOD)) for q in (0.05, 0.95))  # type: ignore[call-overload]
    return {"lines": int(values.size), "mean": mean, "min": float(np.min(values)), "p5": p5, "p95": p95, "max": float(np.max(values))}


# --- gates ---


@dataclass(frozen=True)
class Gates:
    """Thresholds a build must meet; None: no gate."""

    min_snr_db: float | None = None
    min_cosine: float | None = None
    min_top1_agree: float | None = None  # a fraction of all [N, C] rows, over every line

    def __post_init__(self) -> None:
        if self.min_top1_agree is not None and not 0 <= self.min_top1_agree <= 1:
            raise UsageError(f"--min_top1_agree {self.min_top1_agree}: give a fraction between 0 and 1, e.g. 0.99")
        if self.min_cosine is not None and not -1 <= self.min_cosine <= 1:
            raise UsageError(f"--min_cosine {self.min_cosine}: give a value between -1 and 1, e.g. 0.999")

    def given(self) -> dict[str, float]:
        return {name: value for name, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class GateResult:
    gate: str  # the flag's name: min_snr_db, min_cosine, min_top1_agree
    threshold: float
    value: float  # the lowest line's figure; min_top1_agree: the agreement over every line
    passed: bool
    failing: tuple[dict[str, Any], ...]  # {line, path, tensor, value}, worst first

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failing": [dict(f) for f in self.failing]}

    def text(self, names: int = 5, unit: str = "line") -> str:
        """One line: the gate, its verdict, and the first `names` failing lines (or compile's samples: unit="sample")."""
        shown = ", ".join(f"{unit} {f['line']} ({f['path']}, {f['tensor']}: {_fmt(f['value'])})" for f in self.failing[:names])
        more = f" and {len(self.failing) - names} more" if len(self.failing) > names else ""
        verdict = "passed" if self.passed else "FAILED"
        what = "agreement" if self.gate == "min_top1_agree" else "lowest"
        head = f"--{self.gate} {self.threshold:g}: {verdict} ({what} {_fmt(self.value)})"
        return head + (f"; below: {shown}{more}" if self.failing and not self.passed else "")


def _fmt(value: float | str) -> str:
    if isinstance(value, str):  # "inf", "-inf", "nan" from a JSON report
        return value
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def evaluate_gates(records: Sequence[TensorDrift], gates: Gates) -> list[GateResult]:
    """Each given gate against every compared line; UsageError for --min_top1_agree without a score tensor."""
    results = []
    for name in ("min_snr_db", "min_cosine"):
        threshold = getattr(gates, name)
        if threshold is not None:
            results.append(_per_line_gate(records, name, name[len("min_"):], threshold))
    if gates.min_top1_agree is not None:
        results.append(_top1_gate(records, gates.min_top1_agree))
    return results


def _per_line_gate(records: Sequence[TensorDrift], gate: str, metric: str, threshold: float) -> GateResult:
    # `not >=` so that NaN fails
    failing = sorted((r for r in records if not getattr(r, metric) >= threshold), key=lambda r: (_ranked_key(getattr(r, metric)), r.line))
    values = [_ranked_key(getattr(r, metric)) for r in records]
    lowest = min(values) if values else math.inf
    return GateResult(gate, threshold, lowest, not failing, tuple(_failure(r, getattr(r, metric)) for r in failing))


def _top1_gate(records: Sequence[TensorDrift], threshold: float) -> GateResult:
    scored = [r for r in records if r.top1_agree is not None]
    if not scored:
        shapes = "; ".join(sorted({f"{r.tensor} {list(r.shape)}" for r in records})) or "none compared"
        raise UsageError(f"--min_top1_agree: no output is a [N, C] score tensor ({shapes}); top-1 agreement is for classifiers")
    rows = sum(r.shape[0] for r in scored)
    agreeing = sum(float(r.top1_agree or 0.0) * r.shape[0] for r in scored)
    overall = agreeing / rows if rows else 1.0
    # The lines named are those that disagree anywhere: what to look at when the share falls short.
    failing = sorted((r for r in scored if (r.top1_agree or 0.0) < 1.0), key=lambda r: (r.top1_agree or 0.0, r.line))
    return GateResult("min_top1_agree", threshold, overall, overall >= threshold, tuple(_failure(r, r.top1_agree or 0.0) for r in failing))


def _failure(record: TensorDrift, value: float) -> dict[str, Any]:
    return {"line": record.line, "path": record.path, "tensor": record.tensor, "value": value}


# --- pictures for the HTML page ---

MAX_PICTURE_SIDE_PX = 256


def picture_planes(reference: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
    """The first image of an [N, C, H, W] pair as uint8 pictures (H x W, or H x W x 3 in BGR for an
    RGB tensor): reference and test through one mapping (the reference's min..max to 0..255, so
    they compare), |difference| stretched so its maximum is white; that maximum is returned too.
    Long sides over MAX_PICTURE_SIDE_PX are subsampled (every k-th pixel). None for other shapes."""
    if reference.shape != test.shape or not is_image(reference.shape):
        return None
    ref = np.asarray(reference[0], dtype=np.float64)
    tst = np.asarray(test[0], dtype=np.float64)
    step = max(1, math.ceil(max(ref.shape[1:]) / MAX_PICTURE_SIDE_PX))
    ref, tst = ref[:, ::step, ::step], tst[:, ::step, ::step]
    if not (np.isfinite(ref).all() and np.isfinite(tst).all()):
        return None
    low, span = float(ref.min()), float(ref.max() - ref.min()) or 1.0
    diff = np.abs(ref - tst)
    peak = float(diff.max())
    planes = [_u8((ref - low) / span), _u8((tst - low) / span), _u8(diff / (peak or 1.0))]
    return planes[0], planes[1], planes[2], peak


def _u8(unit: np.ndarray) -> np.ndarray:
    """C x H x W in [0, 1] -> H x W (one channel) or H x W x 3 BGR (three, taken as RGB) uint8."""
    pixels = np.clip(np.rint(unit * 255.0), 0, 255).astype(np.uint8)
    return pixels[0] if pixels.shape[0] == 1 else np.ascontiguousarray(pixels[::-1].transpose(1, 2, 0))


__all__ = ["DEFAULT_WORST", "METRICS", "GateResult", "Gates", "TensorDrift", "evaluate_gates", "is_image", "is_scores",
           "picture_planes", "ratio_db", "summarize", "summary_of", "tensor_drift", "worst_lines"]
