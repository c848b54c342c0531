"""The HTML page's part for a `vampy diff` report: summaries, the worst lines, gates, and the worst
lines' pictures (reference, test, |difference|) where the outputs are images.

The pictures are drawn from the output npz files when they can still be found (as written, else
beside the report): read with the bounded npz reader, mapped to pixels by quality/drift.py and
encoded by data/imaging.py (this package imports no OpenCV).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from vampy.config.diff import BOX_HEADS
from vampy.errors import VampyError
from vampy.report.html.types import Source, data_uri
from vampy.results.schema import json_float

MAX_PICTURED_LINES = 4
SHOWN_FIGURES = (("snr_db", "SNR (dB)"), ("psnr_db", "PSNR (dB)"), ("cosine", "cosine"), ("rel_l2", "rel L2"),
                 ("max_abs", "max |d|"), ("mean_abs", "mean |d|"), ("top1_agree", "top-1 agree"))
STATS = ("mean", "min", "p5", "p95", "max")


def diff_section(source: Source) -> dict[str, Any]:
    d = source.data
    cfg = d["config"]
    worst = [w for w in d.get("worst") or [] if isinstance(w, dict)]
    columns = [(key, head) for key, head in SHOWN_FIGURES if any(w.get(key) is not None for w in worst)]
    return {
        "label": source.label, "ref_dir": cfg.get("ref_dir"), "test_dir": cfg.get("test_dir"), "lines": d.get("lines"),
        "compared": d.get("compared"), "summaries": _summaries(d.get("summary") or {}), "stats": STATS,
        "worst_heads": [head for _, head in columns],
        "worst": [[w.get("line"), w.get("path"), w.get("tensor"), *[_figure(w.get(key)) for key, _ in columns]] for w in worst],
        "gates": [_gate(g) for g in d.get("gates") or [] if isinstance(g, dict)],
        "missing": [f"line {m.get('line')} {m.get('path')}: {m.get('file')} not in the {m.get('missing_in')} folder"
                    for m in d.get("missing") or [] if isinstance(m, dict)],
        "notes": list(d.get("notes") or []),
        "pictures": _pictures(worst[:MAX_PICTURED_LINES], cfg, source.path),
        "boxes": _boxes(d.get("boxes")),
    }


# the detections block's figures, headed as the terminal heads them
BOX_FIGURES = tuple(BOX_HEADS.items())


def _boxes(block: Any) -> dict[str, Any] | None:
    """Detectors compared as boxes: settings, totals, the summary over lines and the lowest-recall lines."""
    if not isinstance(block, dict):
        return None
    summary = block.get("summary") or {}
    worst = [w for w in block.get("worst") or [] if isinstance(w, dict)]
    return {
        "score_min": block.get("score_min"), "iou_min": block.get("iou_min"), "lines": block.get("lines"),
        "totals": block.get("totals") or {}, "stats": STATS,
        "rows": [(head, [_figure(summary[key].get(s)) for s in STATS]) for key, head in BOX_FIGURES if isinstance(summary.get(key), dict)],
        "worst_heads": ["line", "path", "ref", "test", "matched", *(head for _, head in BOX_FIGURES)],
        "worst": [[w.get("line"), w.get("path"), w.get("ref_count"), w.get("test_count"), w.get("matched"),
                   *(_figure(w.get(key)) for key, _ in BOX_FIGURES)] for w in worst],
    }


def _figure(value: Any) -> Any:
    """Numbers stay numbers (the template formats them); "inf" and friends stay as written."""
    number = json_float(value)
    return value if number is None or isinstance(value, str) else number


def _summaries(summary: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for tensor, figures in summary.items():
        rows = [(head, [_figure(figures[key].get(s)) for s in STATS]) for key, head in SHOWN_FIGURES if key in figures]
        lines = max((int(f.get("lines", 0)) for f in figures.values()), default=0)
        out.append({"tensor": tensor, "lines": lines, "rows": rows})
    return out


def _gate(g: dict[str, Any]) -> dict[str, Any]:
    failing = [f"line {f.get('line')} ({f.get('path')}, {f.get('tensor')}: {_figure(f.get('value'))})" for f in g.get("failing") or []]
    return {"gate": g.get("gate"), "threshold": g.get("threshold"), "value": _figure(g.get("value")), "passed": bool(g.get("passed")),
            "failing": failing}


def _pictures(worst: list[dict[str, Any]], cfg: dict[str, Any], report_path: Path | None) -> list[dict[str, Any]]:
    from vampy.formats.datalist import output_name

    out = []
    for w in worst:
        try:
            name = output_name(int(w["line"]))
        except (KeyError, TypeError, ValueError):
            continue
        files = [_find(Path(str(cfg.get(side))) / name, report_path) for side in ("ref_dir", "test_dir")]
        tiles = _tiles(files[0], files[1], str(w.get("tensor")))
        if tiles:
            out.append({"line": w.get("line"), "path": w.get("path"), "tensor": w.get("tensor"), "snr_db": _figure(w.get("snr_db")),
                        "tiles": tiles})
    return out


def _tiles(ref_file: Path | None, test_file: Path | None, tensor: str) -> list[tuple[str, str]]:
    from vampy.data.imaging import encode_png
    from vampy.formats.npz import load_input_npz
    from vampy.quality.drift import picture_planes

    if ref_file is None or test_file is None:
        return []
    try:
        ref, test = load_input_npz(ref_file).get(tensor), load_input_npz(test_file).get(tensor)
        planes = picture_planes(ref, test) if ref is not None and test is not None else None
        if planes is None:
            return []
        ref_px, test_px, diff_px, peak = planes
        captions = ("reference", "test", f"|difference| (white = {peak:.3g})")
        return [(c, data_uri("image/png", encode_png(p))) for c, p in zip(captions, (ref_px, test_px, diff_px))]
    except (VampyError, ValueError):  # gone, unreadable or not encodable: no pictures, the page goes on
        return []


def _find(path: Path, report_path: Path | None) -> Path | None:
    """As written (relative to where the command ran, usually here), else beside the report."""
    if path.is_file():
        return path
    if report_path is not None and not path.is_absolute() and (report_path.parent / path).is_file():
        return report_path.parent / path
    return None
