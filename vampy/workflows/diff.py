"""`vampy diff REF_DIR TEST_DIR --datalist DL`: two runs' outputs of one datalist, compared line by line.

Line i of the datalist is output_{i:06d}.npz in each folder (what `vampy run --datalist` and vamp
write); every `output_k` array of it is compared (vampy/quality/drift.py: the figures). Files are
read one line at a time through the bounded npz reader, so memory stays one line deep.

Outcomes (the report is built, and written by the caller, before any of them is raised):
- a line whose output is missing on a side is named in `missing`: PartialResult (exit 6);
- a gate crossed: GateFailed (exit 8), naming the lines; it wins over 6, since missing lines can
  only hide more failures, never undo one;
- an unreadable npz, or two files that do not hold the same tensors: InputError (exit 3) at once.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vampy.config.diff import DiffConfig
from vampy.errors import GateFailed, InputError, PartialResult
from vampy.formats.datalist import DatalistEntry, output_name, read_datalist
from vampy.formats.npz import load_input_npz
from vampy.progress import NullProgress, Progress
from vampy.quality.drift import GateResult, Gates, TensorDrift, evaluate_gates, summarize, tensor_drift, worst_lines
from vampy.results.schema import DiffReport

_OUTPUT_KEY = re.compile(r"output_(\d+)$")
NAMED_IN_MESSAGE = 5  # lines a one-line error names before "and N more"


def diff_outputs(cfg: DiffConfig, progress: Progress | None = None) -> DiffReport:
    """Compare every datalist line's outputs; see the module docstring for what raises."""
    progress = progress or NullProgress()
    ref_dir, test_dir = _folder(cfg.ref_dir, "REF_DIR"), _folder(cfg.test_dir, "TEST_DIR")
    entries = read_datalist(Path(cfg.datalist))
    records: list[TensorDrift] = []
    missing: list[dict[str, object]] = []
    progress.start("comparing outputs", len(entries))
    for entry in entries:
        name = output_name(entry.index)
        absent = [side for side, folder in (("reference", ref_dir), ("test", test_dir)) if not (folder / name).is_file()]
        if absent:
            missing.append({"line": entry.index, "path": entry.text, "file": name, "missing_in": " and ".join(absent)})
        else:
            records += _line_drift(entry, ref_dir / name, test_dir / name, cfg.data_range)
        progress.advance()
    progress.finish()
    gates = evaluate_gates(records, Gates(cfg.min_snr_db, cfg.min_cosine, cfg.min_top1_agree))
    return DiffReport(
        config=cfg.to_dict(), lines=len(entries), compared=len(entries) - len(missing),
        records=[r.to_dict() for r in records], summary=summarize(records),
        worst=[r.to_dict() for r in worst_lines(records, cfg.worst)], missing=missing, gates=[g.to_dict() for g in gates],
        notes=_notes(records, len(entries) - len(missing)),
    )


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


def _line_drift(entry: DatalistEntry, ref_path: Path, test_path: Path, data_range: float | None) -> Iterator[TensorDrift]:
    ref, test = _outputs(ref_path), _outputs(test_path)
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
