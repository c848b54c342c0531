"""`vampy table`'s output: the rows of vampy/results/table.py as Markdown (with a legend of what the figures mean) or CSV."""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from vampy.results.table import FLOPS_PER_MAC, INCOMPLETE_MARK, MISSING, RANDOM_MARK, Row, Table

# (header, Row attribute, decimals); None decimals: text, left-aligned.
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("model", "model", None),
    ("engine", "engine", None),
    ("precision", "precision", None),
    ("calibration", "calibration", None),
    ("input", "input_shape", None),
    ("GFLOPs", "gflops", 3),
    ("params (M)", "params_m", 3),
    ("PSNR (dB)", "psnr_db", 3),
    ("SSIM", "ssim", 4),
    ("throughput (qps)", "throughput_qps", 2),
    ("e2e p50 (ms)", "e2e_p50_ms", 2),
    ("e2e p99 (ms)", "e2e_p99_ms", 2),
    ("size (MB)", "size_mb", 3),
)



ACCURACY_FIELDS = ("psnr_db", "ssim")



SPEED_FIELDS = ("throughput_qps", "e2e_p50_ms", "e2e_p99_ms")



def render_markdown(table: Table) -> str:
    """The table, then what its figures mean (the FLOPs convention, settings, marks)."""
    lines = ["| " + " | ".join(header for header, _, _ in COLUMNS) + " |"]
    lines.append("| " + " | ".join("---" if digits is None else "---:" for _, _, digits in COLUMNS) + " |")
    lines += ["| " + " | ".join(_md_escape(cell) for cell in _cells(row)) + " |" for row in table.rows]
    return "\n".join(lines) + "\n\n" + "".join(f"- {line}\n" for line in _legend(table.rows))



def _cells(row: Row) -> list[str]:
    cells = []
    for _, attr, digits in COLUMNS:
        value = getattr(row, attr)
        text = MISSING if value is None else (str(value) if digits is None else f"{value:.{digits}f}")
        if value is not None and attr in ACCURACY_FIELDS:
            text += _accuracy_mark(row)
        if value is not None and attr in SPEED_FIELDS and row.run_complete is False:
            text += " " + INCOMPLETE_MARK
        cells.append(text)
    return cells



def _accuracy_mark(row: Row) -> str:
    mark = f" {RANDOM_MARK}" if row.accuracy_meaningful is False else ""
    if row.eval_images_scored is not None and row.eval_images_total is not None and row.eval_images_scored < row.eval_images_total:
        mark += f" ({row.eval_images_scored}/{row.eval_images_total} images)"
    return mark



def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")



def _legend(rows: Sequence[Row]) -> list[str]:
    lines = [
        f"GFLOPs: 1 MAC = {FLOPS_PER_MAC} FLOPs, counting the multiply-accumulates of Conv, ConvTranspose, Gemm "
        "and MatMul in one forward pass at the input shape shown. params (M): weights, in millions.",
        "throughput: samples per second over the measured window; e2e p50/p99: request latency, "
        "from `vampy run --json`. size: mod.onnx in MB (10^6 bytes). -: no figure. engine and precision: what the run's "
        "sessions reported they ran (precision from the model folder when there is no run).",
    ]
    lines += _settings_lines("runs", [(r.model, r.run_settings) for r in rows])
    lines += _settings_lines("PSNR/SSIM", [(r.model, r.eval_settings) for r in rows])
    if any(r.accuracy_meaningful is False and r.psnr_db is not None for r in rows):
        lines.append(f"{RANDOM_MARK}: the model has seeded random weights (`vampy zoo` without --weights); "
                     "its PSNR and SSIM mean nothing, do not quote them.")
    if any(r.run_complete is False for r in rows):
        lines.append(f"{INCOMPLETE_MARK}: the run report says the run did not finish (see its incomplete_reason).")
    if any(_accuracy_mark(r).endswith("images)") for r in rows if r.psnr_db is not None):
        lines.append("(k/n images): the eval report lists images it could not score; the mean covers the k scored.")
    return lines



def _settings_lines(label: str, pairs: Sequence[tuple[str, str | None]]) -> list[str]:
    by_setting: dict[str, list[str]] = {}
    for model, setting in pairs:
        if setting is not None:
            by_setting.setdefault(setting, []).append(model)
    if len(by_setting) == 1:
        return [f"{label}: {next(iter(by_setting))}."]
    if not by_setting:
        return []
    return [f"{label}: " + "; ".join(f"{setting} ({', '.join(models)})" for setting, models in by_setting.items()) + "."]



CSV_FIELDS = (
    "model", "folder", "engine", "precision", "calibration", "input_shape", "gflops", "params_m", "psnr_db", "ssim",
    "accuracy_meaningful", "eval_images_scored", "eval_images_total", "throughput_qps", "e2e_p50_ms",
    "e2e_p99_ms", "run_complete", "size_mb", "run_report", "eval_report",
)



def render_csv(table: Table) -> str:
    """One line per row, full precision (repr), empty cells for missing figures, true/false flags."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for row in table.rows:
        writer.writerow([_csv_cell(getattr(row, name)) for name in CSV_FIELDS])
    return buffer.getvalue()



def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)
