"""int8 calibration ranges, computed sample by sample on the augmented model, through the Engine seam.

One min/max pass, plus one histogram pass for the histogram modes. The histograms use fixed edges
from the first pass: exactly the counts ONNX Runtime's calibrators get from one np.histogram over
all samples at once, without holding every intermediate tensor of every sample in memory (ORT's
HistogramCalibrater does; docs/compile.md "Why vampy calibrates itself" has the measurement).
Modes, reproducing ORT's own calibrators on the same histograms:
  max            min/max of each tensor (MinMaxCalibrater)
  kl_divergence  ORT's entropy calibrator; with its default 128 bins (and 128 quantized bins)
                 the search has a single candidate, the full range, so it equals max; set
                 backend.quantize.num_bins (e.g. 2048) for the TensorRT-style search
  percentile     ORT's percentile calibrator (histogram of |x|, 2048 bins) at calibrate_range
  mse            not in ORT (its 4th method, Distribution, is for float8 and gives no int8
                 range): the clipping range minimising the expected squared quantization error
                 (clipping + uniform rounding noise step^2/12) over a 2048-bin histogram
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from vampy.compiler.calibration_data import Samples
from vampy.config import QuantizeConfig
from vampy.engines import ort_build
from vampy.engines.base import EngineOptions, Session, get_engine
from vampy.engines.ort_build import Histogram
from vampy.progress import Progress

QUANT_LEVELS = 256  # uint8 and int8 activations both have 256 levels
DEFAULT_BINS = {"kl_divergence": 128, "percentile": 2048, "mse": 2048}  # ORT's defaults; mse: ours
MSE_CANDIDATES = 128
Ranges = dict[str, tuple[float, float]]


def histogram_bins(q: QuantizeConfig) -> int | None:
    """Bins of the histogram pass; None for max, which has none."""
    return None if q.calibrate_mode == "max" else q.num_bins or DEFAULT_BINS[q.calibrate_mode]


def calibrate(model_path: Path, samples: Samples, q: QuantizeConfig, work: Path, progress: Progress) -> tuple[Ranges, tuple[float, float]]:
    """The range of every tensor the quantizer needs, and the range of the feeds themselves."""
    augmented = work / "augmented.onnx"
    names = ort_build.write_augmented_model(model_path, augmented)
    # 0: the runtime's default threads; no graph optimisation: the augmented graph runs as written
    session = get_engine().open(augmented, EngineOptions(intra_threads=0, graph_optimization="none"))
    passes = 1 if q.calibrate_mode == "max" else 2
    progress.start(f"calibrating ({q.calibrate_mode}, {samples.count} samples)", samples.count * passes)
    extremes, input_range = _min_max_pass(session, names, samples, progress)
    bins = histogram_bins(q)
    if bins is None:
        ranges = extremes
    else:
        hists = _histogram_pass(session, names, samples, extremes, bins, q.calibrate_mode == "percentile", progress)
        ranges = _THRESHOLDS[q.calibrate_mode](hists, bins, q)
    progress.finish()
    return ranges, input_range


def _run_all(
    session: Session, names: Sequence[str], samples: Samples, progress: Progress
) -> Iterator[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
    for index in range(samples.count):
        feed = samples.make(index)
        values = dict(zip(session.output_names, session.run(feed)))
        yield feed, {name: values[name] for name in names}
        progress.advance()


def _min_max_pass(session: Session, names: Sequence[str], samples: Samples, progress: Progress) -> tuple[Ranges, tuple[float, float]]:
    lows = {n: np.inf for n in names}
    highs = {n: -np.inf for n in names}
    feed_range = [np.inf, -np.inf]
    for feed, values in _run_all(session, names, samples, progress):
        for name, value in values.items():
            lows[name] = min(lows[name], float(value.min()))
            highs[name] = max(highs[name], float(value.max()))
        for array in feed.values():
            feed_range = [min(feed_range[0], float(array.min())), max(feed_range[1], float(array.max()))]
    return {n: (lows[n], highs[n]) for n in names}, (feed_range[0], feed_range[1])


def _histogram_pass(
    session: Session, names: Sequence[str], samples: Samples, extremes: Ranges, bins: int, absolute: bool, progress: Progress
) -> dict[str, Histogram]:
    """Histograms over the whole set with fixed edges, in the layout ORT's HistogramCollector keeps."""
    edges = {n: _edges(extremes[n], bins, absolute) for n in names}
    counts = {n: np.zeros(bins, np.int64) for n in names}
    for _, values in _run_all(session, names, samples, progress):
        for name, value in values.items():
            data = np.abs(value) if absolute else value
            counts[name] += np.histogram(data, bins=edges[name])[0]
    out: dict[str, Histogram] = {}
    for name in names:
        low, high = (np.float32(v) for v in extremes[name])
        entry = (counts[name], edges[name], low, high)
        out[name] = entry if absolute else (*entry, edges[name][-1])
    return out


def _edges(extreme: tuple[float, float], bins: int, absolute: bool) -> np.ndarray:
    threshold = max(abs(extreme[0]), abs(extreme[1]))
    low = 0.0 if absolute else -threshold
    if threshold == 0.0:
        low, threshold = -0.5, 0.5  # what np.histogram does with an empty range
    return np.linspace(low, threshold, bins + 1, dtype=np.float32)


def _kl_thresholds(hists: dict[str, Histogram], bins: int, q: QuantizeConfig) -> Ranges:
    return ort_build.histogram_thresholds("entropy", hists, bins, q.calibrate_range * 100.0)


def _percentile_thresholds(hists: dict[str, Histogram], bins: int, q: QuantizeConfig) -> Ranges:
    return ort_build.histogram_thresholds("percentile", hists, bins, q.calibrate_range * 100.0)


def _mse_thresholds(hists: dict[str, Histogram], bins: int, q: QuantizeConfig) -> Ranges:
    return {name: mse_range(h[0], h[1], float(h[2]), float(h[3])) for name, h in hists.items()}


def mse_range(counts: np.ndarray, edges: np.ndarray, low: float, high: float, levels: int = QUANT_LEVELS) -> tuple[float, float]:
    """The range [a*low, a*high] (0 < a <= 1) with the least expected squared quantization error:
    values outside are clipped, values inside get uniform rounding noise of step^2 / 12."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high - low <= 0:
        return low, high
    centres = ((edges[:-1] + edges[1:]) / 2).astype(np.float64)[None, :]
    weights = counts.astype(np.float64)[None, :]
    scale = np.linspace(1.0 / MSE_CANDIDATES, 1.0, MSE_CANDIDATES)[:, None]
    lo, hi = low * scale, high * scale
    clipped = np.clip(centres, lo, hi)
    step = (hi - lo) / (levels - 1)
    inside = (centres >= lo) & (centres <= hi)
    error = (weights * (centres - clipped) ** 2).sum(axis=1) + (weights * inside).sum(axis=1) * (step[:, 0] ** 2) / 12.0
    best = int(np.argmin(error))
    return float(lo[best, 0]), float(hi[best, 0])


_THRESHOLDS: dict[str, Callable[[dict[str, Histogram], int, QuantizeConfig], Ranges]] = {
    "kl_divergence": _kl_thresholds,
    "percentile": _percentile_thresholds,
    "mse": _mse_thresholds,
}

__all__ = ["DEFAULT_BINS", "QUANT_LEVELS", "Ranges", "calibrate", "histogram_bins", "mse_range"]
