"""`vampy diff REF_DIR TEST_DIR --datalist DL`: did the faster build lose accuracy, and on which inputs?"""
from __future__ import annotations

import math
import sys
from typing import Any

import typer

from vampy.cli.flags import command
from vampy.config.diff import BOX_HEADS
from vampy.config.flags import DIFF_FLAGS, diff_config_from, read_flags

DIFF_HELP = (
    "Compare two runs' outputs of one datalist line by line (output_NNNNNN.npz in each folder, every output_K array), "
    "for any model family: max_abs, mean_abs, rel_l2, cosine and SNR (dB) per line and tensor in float64, top-1 "
    "agreement for [N, C] score tensors, PSNR for image tensors; summaries over lines and the lowest-SNR lines. "
    "Detectors after NMS (class ids, scores, boxes) are also compared as boxes: matched by class and IoU, recall, "
    "precision, IoU, score and corner drift (--boxes, --box_score_min, --box_iou). "
    "Gates (--min_snr_db, --min_cosine, --min_top1_agree, --min_box_recall) exit 8 naming the lines below; a line with an output on one "
    "side only exits 6; an unreadable file exits 3. docs/validation.md."
)
# figure -> (column head, format): SNR and PSNR in dB to 0.01, cosine to six places (0.999 is not close enough to 1)
COLUMNS: dict[str, tuple[str, str]] = {
    "snr_db": ("SNR (dB)", ".2f"), "psnr_db": ("PSNR (dB)", ".2f"), "cosine": ("cosine", ".6f"), "rel_l2": ("rel L2", ".3g"),
    "max_abs": ("max |d|", ".4g"), "mean_abs": ("mean |d|", ".4g"), "top1_agree": ("top-1 agree", ".4f"),
}
# the boxes block's figures (vampy/quality/drift_boxes.py BOX_HEADS), the same way
_BOX_FORMATS = {"recall": ".4f", "precision": ".4f", "mean_iou": ".4f", "min_iou": ".4f", "max_score_diff": ".4g", "max_shift_px": ".3g"}
BOX_COLUMNS: dict[str, tuple[str, str]] = {metric: (head, _BOX_FORMATS[metric]) for metric, head in BOX_HEADS.items()}


def register(app: typer.Typer) -> None:
    app.command(name="diff", no_args_is_help=True, help=DIFF_HELP)(command(DIFF_FLAGS, diff_command))


def diff_command(json: str | None, html: str | None, quiet: bool, **flags: Any) -> None:
    """`vampy diff` with its declared flags (vampy/config/flags.py DIFF_FLAGS)."""
    from vampy.cli.progress import RichProgress
    from vampy.results.schema import check_writable, write_json
    from vampy.workflows.diff import diff_outputs, raise_for_outcome

    cfg = diff_config_from(read_flags("diff", DIFF_FLAGS, flags))
    if json:
        check_writable(json, "--json")  # before the work, not after it
    if html:
        from vampy.report.html import check_html_path

        check_html_path(html, "--html")
    with RichProgress(quiet=quiet) as progress:
        report = diff_outputs(cfg, progress)
    print_report(report.to_dict())
    if json:
        write_json(json, report.to_dict())
    if html:
        from vampy.report.html import write_page

        write_page([report.to_dict()], html)
    raise_for_outcome(report)


def fmt(metric: str, value: Any) -> str:
    from vampy.results.schema import json_float

    number = json_float(value)
    if number is None:
        return "-"
    spec = COLUMNS[metric][1] if metric in COLUMNS else BOX_COLUMNS[metric][1]
    return str(number) if not math.isfinite(number) else format(number, spec)


def print_report(r: dict[str, Any]) -> None:
    """The summary per output tensor, the worst lines, missing lines and gates (the JSON has every line)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=140, highlight=False, markup=False)  # paths are data: '[x]' is no style
    cfg = r["config"]
    # plain lines are written as they are (rich would wrap a long path); tables go through rich
    sys.stdout.write(f"vampy diff: {cfg['test_dir']} against {cfg['ref_dir']}, {r['compared']} of {r['lines']} datalist lines compared\n")
    for tensor, figures in r["summary"].items():
        table = Table(title=f"{tensor}: over {max(f['lines'] for f in figures.values())} lines", title_justify="left")
        table.add_column("")
        for stat in ("mean", "min", "p5", "p95", "max"):
            table.add_column(stat, justify="right")
        for metric, stats in figures.items():
            table.add_row(COLUMNS[metric][0], *[fmt(metric, stats[s]) for s in ("mean", "min", "p5", "p95", "max")])
        console.print(table)
    if r["worst"]:
        shown = [m for m in COLUMNS if any(w.get(m) is not None for w in r["worst"])]
        table = Table(title=f"the {len(r['worst'])} lowest-SNR lines (each line's worst tensor)", title_justify="left")
        for head in ("line", "path", "tensor", *(COLUMNS[m][0] for m in shown)):
            # paths fold instead of being cut: the lines' differences are often at their ends
            table.add_column(head, justify="left" if head in ("path", "tensor") else "right",
                             overflow="fold" if head == "path" else "ellipsis")
        for w in r["worst"]:
            table.add_row(str(w["line"]), str(w["path"]), str(w["tensor"]), *[fmt(m, w.get(m)) for m in shown])
        console.print(table)
    if r.get("boxes") is not None:
        print_boxes(console, r["boxes"])
    lines = [f"missing: line {m['line']} {m['path']}: {m['file']} not in the {m['missing_in']} folder" for m in r["missing"]]
    lines += [_gate_line(g) for g in r["gates"]]
    lines += [f"note: {note}" for note in r["notes"]]
    sys.stdout.write("".join(f"{line}\n" for line in lines))


def _gate_line(g: dict[str, Any]) -> str:
    from vampy.quality.drift import GateResult
    from vampy.results.schema import json_float

    value = json_float(g["value"])
    return "gate " + GateResult(g["gate"], g["threshold"], math.nan if value is None else value, g["passed"], tuple(g["failing"])).text()


def print_boxes(console: Any, boxes: dict[str, Any]) -> None:
    """The detections block: settings and totals, the summary over lines, the lines with the lowest recall."""
    from rich.table import Table

    t = boxes["totals"]
    sys.stdout.write(f"boxes ({', '.join(boxes['tensors'])}): score >= {boxes['score_min']:g}, match at IoU >= {boxes['iou_min']:g}; "
                     f"{t['matched']} of {t['reference']} reference and {t['test']} test detections matched over {boxes['lines']} "
                     f"lines: recall {fmt('recall', t['recall'])}, precision {fmt('precision', t['precision'])}\n")
    if boxes["summary"]:
        table = Table(title=f"boxes: over {boxes['lines']} lines", title_justify="left")
        for head in ("", "lines", "mean", "min", "p5", "p95", "max"):
            table.add_column(head, justify="left" if not head else "right")
        for metric, stats in boxes["summary"].items():
            figures = [fmt(metric, stats[s]) for s in ("mean", "min", "p5", "p95", "max")]
            table.add_row(BOX_COLUMNS[metric][0], str(stats["lines"]), *figures)
        console.print(table)
    if boxes["worst"]:
        table = Table(title=f"the {len(boxes['worst'])} lines with the lowest box recall (then min IoU)", title_justify="left")
        for head in ("line", "path", "ref", "test", "match", *(h for h, _ in BOX_COLUMNS.values())):
            table.add_column(head, justify="left" if head == "path" else "right", overflow="fold" if head == "path" else "ellipsis")
        for w in boxes["worst"]:
            counts = (str(w[k]) for k in ("line", "path", "ref_count", "test_count", "matched"))
            table.add_row(*counts, *[fmt(m, w.get(m)) for m in BOX_COLUMNS])
        console.print(table)
