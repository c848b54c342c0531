"""`vampy table`'s output: the rows of vampy/results/table.py as Markdown (with a legend of what the figures mean) or CSV."""
from __future__ import annotations

import csv
import io
import math
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



# Shown only when a model folder's mod.json has compile's drift check, so tables without one keep their columns.
DRIFT_COLUMN: tuple[str, str, int | None] = ("drift SNR min (dB)", "drift_snr_min_db", 2)
DRIFT_CSV_FIELDS = ("drift_snr_min_db", "drift_snr_mean_db", "drift_samples")


def has_drift(rows: Sequence[Row]) -> bool:
    return any(r.drift_snr_min_db is not None for r in rows)


# Shown only when a row's eval is a zoo family preset's (classification, segmentation, ...): "<metric name> <value>".
HEADLINE_COLUMN: tuple[str, str, int | None] = ("eval metric", "metric_value", 4)
HEADLINE_CSV_FIELDS = ("metric_name", "metric_value")


def has_headline(rows: Sequence[Row]) -> bool:
    return any(r.metric_name is not None for r in rows)


def columns_for(rows: Sequence[Row]) -> tuple[tuple[str, str, int | None], ...]:
    """COLUMNS, with the drift column before size when any row has one, and the family metric after SSIM when any has one."""
    columns = (*COLUMNS[:-1], DRIFT_COLUMN, COLUMNS[-1]) if has_drift(rows) else COLUMNS
    if has_headline(rows):
        after_ssim = [attr for _, attr, _ in columns].index("ssim") + 1
        columns = (*columns[:after_ssim], HEADLINE_COLUMN, *columns[after_ssim:])
    return columns


ACCURACY_FIELDS = ("psnr_db", "ssim", "metric_value")



SPEED_FIELDS = ("throughput_qps", "e2e_p50_ms", "e2e_p99_ms")



def render_markdown(table: Table) -> str:
    """The table, then what its figures mean (the FLOPs convention, settings, marks)."""
    columns = columns_for(table.rows)
    lines = ["| " + " | ".join(header for header, _, _ in columns) + " |"]
    lines.append("| " + " | ".join("---" if digits is None else "---:" for _, _, digits in columns) + " |")
    lines += ["| " + " | ".join(_md_escape(cell) for cell in _cells(row, columns)) + " |" for row in table.rows]
    return "\n".join(lines) + "\n\n" + "".join(f"- {line}\n" for line in _legend(table.rows))



def _cells(row: Row, columns: Sequence[tuple[str, str, int | None]] = COLUMNS) -> list[str]:
    cells = []
    for _, attr, digits in columns:
        value = getattr(row, attr)
        text = MISSING if value is None else (str(value) if digits is None or not math.isfinite(value) else f"{value:.{digits}f}")
        if attr == "metric_value" and row.metric_name is not None:
            text = f"{row.metric_name} {text}"  # the value means nothing without its name (pixacc %, mae 0..1, ...)
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
    if has_headline(rows):
        lines.append("eval metric: the headline metric of a zoo family preset's eval (`vampy eval --preset NAME`), named and scaled "
                     "as that family's script prints it (percentages where it prints x100; docs/eval.md).")
        if any(r.accuracy_meaningful is False and r.metric_value is not None for r in rows) and not any(
                r.accuracy_meaningful is False and r.psnr_db is not None for r in rows):
            lines.append(f"{RANDOM_MARK}: the model has seeded random weights (`vampy zoo` without --weights); its metrics mean "
                         "nothing, do not quote them.")
    if has_drift(rows):
        lines.append("drift SNR min: the lowest SNR (dB) of the compiled model's outputs against the float model it was built from, "
                     "over `vampy compile`'s check samples (mod.json `drift`; inf: identical; docs/validation.md).")
    if any(r.run_complete is False for r in rows):
        lines.append(f"{INCOMPLETE_MARK}: the run report says the run did not finish (see its incomplete_reason).")
    if any(_accuracy_mark(r).endswith("images)") for r in rows if r.psnr_db is not None or r.metric_value is not None):
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
    fields = CSV_FIELDS + (DRIFT_CSV_FIELDS if has_drift(table.rows) else ()) + (HEADLINE_CSV_FIELDS if has_headline(table.rows) else ())
    writer.writerow(fields)
    for row in table.rows:
        writer.writerow([_csv_cell(getattr(row, name)) for name in fields])
    return buffer.getvalue()



def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)
