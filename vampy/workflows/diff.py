"""`vampy diff REF_DIR TEST_DIR --datalist DL`: two runs' outputs of one datalist, compared line by line.

Line i of the datalist is output_{i:06d}.npz in each folder (what `vampy run --datalist` and vamp
write); every `output_k` array of it is compared (vampy/quality/drift.py: the figures). Files are
read one line at a time through the bounded npz reader, so memory stays one line deep.

Outcomes (the report is built, and written by the caller, before any of them is raised):
- a line whose output is missing on a side is named in `missing`: PartialResult (exit 6);
- a gate crossed: GateFailed (exit 8), naming the lines; it wins over 6, since missing lines can
  only hide more failures, never undo one;
- an unreadable npz, or two files that do not hold the same tensors: InputError (exit 3) at once.

Detectors after NMS (output_0 class ids [1,N,1], output_1 scores [1,N,1], output_2 boxes [1,N,4]):
with `--boxes auto` (that layout and no other output) or `on` (output_0..2 in that layout), each line
is also compared as detections (vampy/quality/drift_boxes.py) into the report's `boxes` block; the
element-wise figures of those tensors stay, with a note that rows may be reordered.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vampy.config.diff import DiffConfig
from vampy.errors import GateFailed, InputError, PartialResult, UsageError
from vampy.formats.datalist import DatalistEntry, output_name, read_datalist
from vampy.formats.npz import load_input_npz
from vampy.progress import NullProgress, Progress
from vampy.quality.drift import GateResult, Gates, TensorDrift, evaluate_gates, summarize, tensor_drift, worst_lines
from vampy.quality.drift_boxes import BOX_TENSORS, BoxDrift, box_block, is_box_layout, line_box_drift, recall_gate
from vampy.results.schema import DiffReport

_OUTPUT_KEY = re.compile(r"output_(\d+)$")
NAMED_IN_MESSAGE = 5  # lines a one-line error names before "and N more"


def diff_outputs(cfg: DiffConfig, progress: Progress | None = None) -> DiffReport:
    """Compare every datalist line's outputs; see the module docstring for what raises."""
    progress = progress or NullProgress()
    ref_dir, test_dir = _folder(cfg.ref_dir, "REF_DIR"), _folder(cfg.test_dir, "TEST_DIR")
    entries = read_datalist(Path(cfg.datalist))
    records: list[TensorDrift] = []
    box_records: list[BoxDrift] = []
    missing: list[dict[str, object]] = []
    progress.start("comparing outputs", len(entries))
    for entry in entries:
        name = output_name(entry.index)
        absent = [side for side, folder in (("reference", ref_dir), ("test", test_dir)) if not (folder / name).is_file()]
        if absent:
            missing.append({"line": entry.index, "path": entry.text, "file": name, "missing_in": " and ".join(absent)})
        else:
            tensors, boxes = _compare_line(entry, ref_dir / name, test_dir / name, cfg)
            records += tensors
            box_records += [boxes] if boxes is not None else []
        progress.advance()
    progress.finish()
    compared = len(entries) - len(missing)
    gates = evaluate_gates(records, Gates(cfg.min_snr_db, cfg.min_cosine, cfg.min_top1_agree)) + _box_gates(box_records, cfg, compared)
    compared_as_boxes = bool(box_records) or cfg.boxes == "on"  # on: every compared line was, or it raised
    return DiffReport(
        config=cfg.to_dict(), lines=len(entries), compared=compared,
        records=[r.to_dict() for r in records], summary=summarize(records),
        worst=[r.to_dict() for r in worst_lines(records, cfg.worst)], missing=missing, gates=[g.to_dict() for g in gates],
        notes=_notes(records, compared) + _box_notes(box_records),
        boxes=box_block(box_records, cfg.box_score_min, cfg.box_iou, cfg.worst) if compared_as_boxes else None,
    )


def _compare_line(entry: DatalistEntry, ref_path: Path, test_path: Path, cfg: DiffConfig) -> tuple[list[TensorDrift], BoxDrift | None]:
    """The element-wise figures of every tensor, and the detection figures where the box layout applies."""
    ref, test = _outputs(ref_path), _outputs(test_path)
    tensors = list(_line_drift(entry, ref, test, ref_path, test_path, cfg.data_range))
    if cfg.boxes == "off" or not _box_layout(entry, ref, cfg.boxes == "on"):
        return tensors, None
    return tensors, line_box_drift(ref, test, cfg.box_score_min, cfg.box_iou, entry.index, entry.text)


def _box_layout(entry: DatalistEntry, outputs: dict[int, np.ndarray], required: bool) -> bool:
    """auto: exactly output_0..2 in the layout; on (required): output_0..2 in it, or UsageError naming the shapes."""
    shapes = {k: tuple(int(d) for d in a.shape) for k, a in outputs.items()}
    if is_box_layout(shapes, exact=not required):
        return True
    if required:
        found = ", ".join(f"output_{k} {list(s)}" for k, s in sorted(shapes.items()))
        raise UsageError(f"--boxes on: line {entry.index} ({entry.text}) holds {found}; the box comparison needs class ids "
                         "output_0 [1,N,1], scores output_1 [1,N,1] and boxes output_2 [1,N,4] (NMS extra ops)")
    return False


def _box_gates(box_records: list[BoxDrift], cfg: DiffConfig, compared: int) -> list[GateResult]:
    """The --min_box_recall gate; a usage error when lines were compared and none held detections (with none
    compared at all, the missing lines are the message: exit 6)."""
    if cfg.min_box_recall is None or compared == 0:
        return []
    if not box_records:
        raise UsageError(f"--min_box_recall: no line's outputs are detections after NMS ({', '.join(BOX_TENSORS)} as class ids "
                         "[1,N,1], scores [1,N,1], boxes [1,N,4]); give --boxes on to require that layout")
    return [recall_gate(box_records, cfg.min_box_recall)]


def _box_notes(box_records: list[BoxDrift]) -> list[str]:
    if not box_records:
        return []
    return [f"{', '.join(BOX_TENSORS)} are detections after NMS, compared as boxes too (the boxes block): their rows may be "
            "reordered or shifted between the sides (a near-tie, a box kept on one side only), so their element-wise figures "
            "and SNR gates can be poor while the detections agree"]


def raise_for_outcome(report: DiffReport) -> None:
    """GateFailed (8) for a crossed gate, else PartialResult (6) for missing lines; nothing when all is well."""
    failed = [GateResult(**{**g, "failing": tuple(g["failing"])}) for g in report.failed_gates]
    gone = f"; {len(report.missing)} line(s) missing on a side ({_missing_text(report)})" if report.missing else ""
    if failed:
        raise GateFailed("; ".join(g.text() for g in failed) + gone)
    if report.missing:
        raise PartialResult(f"{report.compared} of {report.lines} datalist lines compared{gone}")


def _missing_text(report: DiffReport) -> str:
    named = ", ".join(f"line {m['line']} {m['path']} ({m['file']} not in the {m['missing_in']} folder)"
                      for m in report.missing[:NAMED_IN_MESSAGE])
    more = len(report.missing) - NAMED_IN_MESSAGE
    return named + (f" and {more} more" if more > 0 else "")


def _folder(path: str, what: str) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        kind = "is a file" if folder.exists() else "no such folder"
        raise InputError(f"{what} {folder}: {kind}; give the --path_output folder of a `vampy run --datalist` (output_NNNNNN.npz)")
    return folder


def _outputs(path: Path) -> dict[int, np.ndarray]:
    """output_k arrays by k; InputError (via the bounded reader) for an unreadable file."""
    arrays = load_input_npz(path)
    found = {int(m.group(1)): array for key, array in arrays.items() if (m := _OUTPUT_KEY.match(key))}
    if not found:
        keys = ", ".join(sorted(arrays)[:8])
        raise InputError(f"{path}: holds no output_K array (keys: {keys}); not an output of `vampy run --datalist`")
    return found


def _line_drift(entry: DatalistEntry, ref: dict[int, np.ndarray], test: dict[int, np.ndarray], ref_path: Path, test_path: Path,
                data_range: float | None) -> Iterator[TensorDrift]:
    if set(ref) != set(test):
        names = (", ".join(f"output_{k}" for k in sorted(side)) for side in (ref, test))
        raise InputError(f"line {entry.index} ({entry.text}): {ref_path} holds {next(names)} but {test_path} holds {next(names)}; "
                         "compare outputs of the same model")
    for k in sorted(ref):
        try:
            yield tensor_drift(ref[k], test[k], entry.index, entry.text, f"output_{k}", data_range)
        except ValueError as exc:
            where = f"line {entry.index} ({entry.text})"
            raise InputError(f"{where}: {exc} ({ref_path}, {test_path}); compare outputs of the same model") from None


def _notes(records: list[TensorDrift], compared: int) -> list[str]:
    notes = []
    identical = {r.line for r in records} - {r.line for r in records if r.max_abs != 0}
    if compared and len(identical) == compared:
        notes.append("every compared line is identical on both sides (SNR +inf): the same build, or the same engine and precision")
    elif identical:
        notes.append(f"{len(identical)} of {compared} compared lines are identical on both sides (SNR +inf)")
    return notes


__all__ = ["diff_outputs", "raise_for_outcome"]
