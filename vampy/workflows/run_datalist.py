"""The parent's side of `vampy run --datalist`: shards of lines (after --resume), the output folder
checked before any work, and failures.json afterwards. The workers' side is execution/datalist_task.py
(inputs, sinks, the npz writer) driven by execution/request.py's timed request.
"""
from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vampy.config.run import MAX_SAMPLE_ELEMENTS
from vampy.data.npz_inputs import NpzMatch, match_npz
from vampy.errors import OutputError, VampyError
from vampy.execution.job import DatalistTask
from vampy.formats.datalist import output_name, read_datalist
from vampy.formats.files import make_output_dir
from vampy.formats.npz import NpyHeader, is_valid_output, load_input_npz
from vampy.results.schema import write_json

if TYPE_CHECKING:
    from vampy.config.run import DatalistOptions
    from vampy.measure.records import RawRun
    from vampy.models.info import ModelInfo


FAILURES_FILE = "failures.json"



def prepare_tasks(cfg: DatalistOptions, batch_size: int, info: ModelInfo) -> tuple[tuple[DatalistTask, ...], int, int]:
    """Read the datalist, skip what --resume finds done, cut the rest into batches of -b lines."""
    entries = read_datalist(Path(cfg.datalist or ""))
    out_dir = Path(cfg.path_output) if cfg.path_output else None
    if out_dir is not None:
        _make_output_dir(out_dir)
    keys = [f"output_{k}" for k in range(len(info.outputs))]
    pending = [
        (e.index, str(e.path))
        for e in entries
        if not (cfg.resume and out_dir is not None and is_valid_output(out_dir / output_name(e.index), keys))
    ]
    b = batch_size
    tasks = tuple(DatalistTask(tuple(pending[i : i + b])) for i in range(0, len(pending), b))
    return tasks, len(entries), len(entries) - len(pending)



def first_sample_match(tasks: tuple[DatalistTask, ...], info: ModelInfo, index_bounds: Mapping[str, int]) -> NpzMatch | None:
    """Which npz member feeds which input, read off the first readable datalist entry and checked against
    the model here, before any process starts (InputError in one line); None when no entry is readable
    (each line will fail on its own)."""
    for task in tasks:
        for _, path in task.items:
            try:
                arrays = load_input_npz(Path(path), check=_probe_bound)
            except VampyError:
                continue
            return match_npz(path, arrays, info, index_bounds)
    return None


def _probe_bound(key: str, header: NpyHeader) -> str | None:
    """The first sample is read before the plan exists: only -s's own limit on a sample's elements holds
    (a 1 MB npz declaring 2^30 values is refused from its header, never allocated)."""
    if header.values > MAX_SAMPLE_ELEMENTS:
        return f"member '{key}' declares {header.values} values, over the {MAX_SAMPLE_ELEMENTS} a sample may hold"
    return None



def _make_output_dir(out_dir: Path) -> None:
    make_output_dir(out_dir, "--path_output")
    _probe_writable(out_dir)
    # A run killed mid-write leaves its hidden temp file (formats/files.temp_name: `.output_NNNNNN.npz.<hex>.tmp`);
    # the finished outputs never need it. A link planted under such a name is removed itself, never followed.
    for stale in out_dir.glob(".output_*.tmp"):
        stale.unlink(missing_ok=True)



def _probe_writable(out_dir: Path) -> None:
    """Fail before any inference when the folder cannot take a file (read-only, no permission)."""
    try:
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".vampy-probe-", suffix=".tmp"):
            pass
    except OSError as exc:
        raise OutputError(f"--path_output {out_dir}: cannot write there ({exc.strerror or exc})", exc.errno) from None



def finish_datalist(cfg: DatalistOptions, raw: RawRun, lines: int, skipped: int) -> dict[str, Any]:
    failures = sorted((f for r in raw.results for f in r.failures), key=lambda f: f[0])
    fatal = next((r.fatal_output_error for r in raw.results if r.fatal_output_error), None)
    summary = {
        "lines": lines,
        "skipped": skipped,
        "written": sum(r.outputs_written for r in raw.results),
        "failures": [{"index": i, "path": p, "reason": why} for i, p, why in failures],
        "path_output": cfg.path_output,
        "fatal_output_error": fatal,
    }
    if cfg.path_output:
        # Always rewritten, so a stale list from an earlier run never outlives its fix; when the
        # folder itself refuses files, the list lives in the report alone.
        try:
            write_json(Path(cfg.path_output) / FAILURES_FILE, {"failures": summary["failures"], "lines": lines})
        except OutputError as exc:
            summary["failures_file_error"] = str(exc)
    return summary
