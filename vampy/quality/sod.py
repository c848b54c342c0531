"""Salient-object presets (ZOO-EVAL.md 2.8): a writer's maps (SOD-1/SOD-2), then PySOD's table (SOD-0), in one command.

Stage 1, as the writer: output_0 of the output paired with datalist line i becomes the map
--draw_dir/<name>.png, pixel for pixel: SOD-1 (f3net and 5 more) rounds sigmoid(x)·255 half to even
(np.round, then cv2.imwrite of a grey PNG); SOD-2 (basnet official, isnet) truncates and clips x·255
(PIL 'F' -> 'RGB', an RGB PNG). Stage 2, as PySODEvalToolkit's eval.py with its default metric names:
the map read back is resized to its mask (--gt_dir/<name>.png, grey) with cv2 INTER_LINEAR when the
sizes differ, and pysodmetrics (the library the toolkit wraps) accumulates MAE, FmeasureV2's
fmeasure (beta 0.3, dynamic + adaptive), precision and recall (dynamic), E-measure, S-measure and the
weighted F-measure. `metrics` are the table's 13 columns, unrounded; each image row holds the same
13 for that image alone. --num_bits rounds the printed table only.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vampy.config import EvalConfig
from vampy.data.imaging import encode_png
from vampy.errors import InputError, UsageError
from vampy.formats.datalist import read_datalist
from vampy.formats.files import make_output_dir, write_bytes_atomic
from vampy.formats.npz import load_input_npz, read_npz_headers
from vampy.progress import Progress
from vampy.quality.conventions import image_size_hw
from vampy.quality.evaluate import OUTPUT_KEY, output_header_check, output_values_limit
from vampy.quality.families import SOD_METRICS, FamilyPreset, SodScoring
from vampy.quality.family_report import family_report, paired
from vampy.results.schema import EvalPresetReport, FileProblem, ScoredImage

PEAK = np.float32(255)
# The dynamic handlers of eval.py's default --metric-names (mae fmeasure precision recall em sm wfm), as its recorder adds them.
_HANDLERS: tuple[tuple[str, bool, dict[str, float]], ...] = (("fmeasure", True, {"beta": 0.3}), ("precision", False, {}),
                                                          ("recall", False, {}))
# An output's size is bounded by its mask's or this, the larger (a mask may be smaller than the model's map; a missing one
# still gets its map written, as by the writer).
OUTPUT_FLOOR_HW = (2048, 2048)


def pysod() -> Any:
    """The py_sod_metrics module, or a one-line UsageError naming the extra that installs it."""
    try:
        import py_sod_metrics
    except ImportError:
        raise UsageError("the sod_* presets score with pysodmetrics: pip install --no-deps 'pysodmetrics>=1.6' (its metadata caps "
                         "numpy, OpenCV and scikit-image below vampy's; in a clone of vampy: make setup-zoo-eval)") from None
    return py_sod_metrics


@dataclass
class Recorder:
    """PySOD's GrayscaleMetricRecorder for eval.py's default metrics: step uint8 (map, mask) pairs, then `results`."""

    lib: Any
    objects: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        fm = self.lib.FmeasureV2()
        for name, adaptive, extra in _HANDLERS:
            handler = self.lib.FmeasureHandler if name == "fmeasure" else getattr(self.lib, f"{name.capitalize()}Handler")
            fm.add_handler(handler_name=name, metric_handler=handler(with_dynamic=True, with_adaptive=adaptive, **extra))
        self.objects = {"mae": self.lib.MAE(), "fmeasurev2": fm, "em": self.lib.Emeasure(), "sm": self.lib.Smeasure(),
                        "wfm": self.lib.WeightedFmeasure()}

    def step(self, pred: np.ndarray, gt: np.ndarray) -> None:
        for metric in self.objects.values():
            metric.step(pred, gt)

    def results(self) -> dict[str, float]:
        """The 13 numbers of the table, in its column order (max/avg of the dynamic curves, adp of the adaptive value)."""
        out: dict[str, float] = {"mae": float(self.objects["mae"].get_results()["mae"])}
        for name, info in self.objects["fmeasurev2"].get_results().items():
            out[f"max{name}"], out[f"avg{name}"] = float(info["dynamic"].max()), float(info["dynamic"].mean())
            if info.get("adaptive") is not None:
                out[f"adp{name}"] = float(info["adaptive"])
        em = self.objects["em"].get_results()["em"]
        out.update(maxem=float(em["curve"].max()), avgem=float(em["curve"].mean()), adpem=float(em["adp"]))
        out.update(sm=float(self.objects["sm"].get_results()["sm"]), wfm=float(self.objects["wfm"].get_results()["wfm"]))
        return {key: out[key] for key in SOD_METRICS}


def evaluate_sod(cfg: EvalConfig, preset: FamilyPreset, s: SodScoring, progress: Progress) -> EvalPresetReport:
    """Write every paired output's map, score the maps that have a mask; the table covers those."""
    draw_dir = Path(str(cfg.draw_dir))
    if draw_dir.resolve() == Path(cfg.gt_dir).resolve():  # the maps would overwrite the masks of the same names
        raise UsageError(f"--draw_dir {draw_dir} is --gt_dir: the maps would overwrite the masks; give another folder")
    lib = pysod()
    pairs, failures = paired(read_datalist(Path(cfg.datalist)), Path(cfg.outputs_dir))
    make_output_dir(draw_dir, "--draw_dir")
    total = Recorder(lib)
    images: list[ScoredImage] = []
    written: dict[str, str] = {}
    progress.start("eval", len(pairs))
    for entry, output in pairs:
        name = map_name(entry.path.name)
        gt_path = Path(cfg.gt_dir) / f"{name}.png"
        try:
            if name in written:  # the writer overwrote the map; PySOD then scored the name once
                raise InputError(f"{entry.text}: writes {name}.png as line {written[name]} did; scored once")
            picture = write_map(_output_0(output, gt_path), s, str(output))
            write_bytes_atomic(draw_dir, f"{name}.png", encode_png(picture))
            written[name] = entry.text
            pred, gt = pair_with_mask(picture if picture.ndim == 2 else picture[:, :, 0], gt_path)
            own = Recorder(lib)
            own.step(pred, gt)
            total.step(pred, gt)
        except InputError as exc:
            failures.append(FileProblem(str(output), str(exc)))
        else:
            images.append(ScoredImage(index=entry.index, name=name, output_path=str(output), source_path=entry.text, gt_path=str(gt_path),
                                      height_px=gt.shape[0], width_px=gt.shape[1], metrics=own.results()))
        progress.advance()
    progress.finish()
    return family_report(cfg, preset, images, total.results() if images else {}, failures, len(written))


def map_name(npz_name: str) -> str:
    """The writer's map name: basename.replace('.npz', '.png') without its extension."""
    return os.path.splitext(npz_name.replace(".npz", ".png"))[0]


def _output_0(output: Path, gt_path: Path) -> np.ndarray:
    """output_0 as float32, refused from its header when not 4-D or far larger than its mask."""
    hw = image_size_hw(gt_path) if gt_path.is_file() else OUTPUT_FLOOR_HW
    limit = output_values_limit(hw, OUTPUT_FLOOR_HW)
    arrays = load_input_npz(output, keys=(OUTPUT_KEY,), check=output_header_check(OUTPUT_KEY, limit))
    if OUTPUT_KEY not in arrays:
        raise InputError(f"{output}: no key {OUTPUT_KEY} (keys: {', '.join(sorted(read_npz_headers(output)))})")
    return arrays[OUTPUT_KEY].astype(np.float32)


def write_map(out: np.ndarray, s: SodScoring, where: str) -> np.ndarray:
    """The writer's map as uint8: (H, W) grey for SOD-1's cv2.imwrite, (H, W, 3) equal channels for SOD-2's PIL RGB."""
    if not np.isfinite(out).all():
        raise InputError(f"{where}: {OUTPUT_KEY} holds NaN or infinite values")
    if s.writer == "sigmoid_round":
        x = np.squeeze(out)
        if x.ndim != 2:
            raise InputError(f"{where}: {OUTPUT_KEY} has shape {out.shape}; the writer squeezes it to one (H, W) map: (1, 1, H, W)")
        # torch.sigmoid's float32 CPU kernel is 1 / (1 + exp(-x)) in float32; its exp is nearer the correctly rounded one than
        # numpy's float32 exp, so exp is taken in float64 and rounded (checked on 4M values against torch 2.13: the maps,
        # np.round(sigmoid * 255) half to even, agreed on all; with numpy's float32 exp 2 differed)
        exp = np.exp(-x.astype(np.float64)).astype(np.float32)
        prob = np.float32(1) / (np.float32(1) + exp)
        return np.round(prob * PEAK).astype(np.uint8)
    if out.shape[0] < 1 or out.shape[1] < 1 or 0 in out.shape[2:]:
        raise InputError(f"{where}: {OUTPUT_KEY} has shape {out.shape}; the writer reads [0][0] of (1, 1, H, W)")
    grey = np.clip(out[0][0] * PEAK, 0, 255).astype(np.uint8)  # PIL 'F' -> 'RGB' truncates toward zero and clips
    return np.repeat(grey[:, :, None], 3, axis=2)


def pair_with_mask(pred: np.ndarray, gt_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(map at the mask's size, mask) as eval.py reads them: grey, the map resized with INTER_LINEAR when sizes differ."""
    if not gt_path.is_file():
        raise InputError(f"{gt_path}: no mask for this map (PySOD skipped such a map silently); the map is written")
    gt = cv2.imdecode(np.fromfile(gt_path, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)  # = cv2.imread(path, IMREAD_GRAYSCALE)
    if gt is None:
        raise InputError(f"{gt_path}: not an image OpenCV can decode")
    if pred.shape != gt.shape:
        pred = cv2.resize(pred, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_LINEAR).astype(np.uint8)
    return pred, gt


def vendor_table(metrics: dict[str, float], num_bits: int, dataset: str, method: str = "Method1") -> str:
    """eval.py's printed result: 'Dataset: NAME' and tabulate's github table of the values rounded to num_bits
    (numpy's round, printed with format 'g' as tabulate does; columns as wide as their header + 2)."""
    cells = [(key, format(float(np.round(metrics[key], num_bits)), "g")) for key in SOD_METRICS]
    first = max(len("methods") + 2, len(method))
    widths = [max(len(key) + 2, len(value)) for key, value in cells]
    header = "| " + "methods".ljust(first) + " | " + " | ".join(key.rjust(w) for (key, _), w in zip(cells, widths)) + " |"
    rule = "|" + "-" * (first + 2) + "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    row = "| " + method.ljust(first) + " | " + " | ".join(value.rjust(w) for (_, value), w in zip(cells, widths)) + " |"
    return f"All methods have been evaluated:\nDataset: {dataset}\n{header}\n{rule}\n{row}"
