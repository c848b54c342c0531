"""Datalists, input/output npz files, and `vampy image2npz` (images -> npz + datalist).

Datalist format (vamp's): plain UTF-8 text, one npz path per line, in processing order.
- Blank (whitespace-only) lines are skipped and do not count: an entry's `index` is its 0-based
  position among the non-blank lines, and output_%06d.npz is named by that index. `line_no` keeps
  the 1-based line number in the file for messages.
- A relative line is resolved against the datalist file's folder when the file exists there,
  else against the current directory when it exists there, else (missing either way) against
  the datalist's folder, so the error names the path the datalist meant.

npz files are untrusted data: never unpickled, and every member's declared size is checked
against a limit and against the archive's own sizes before numpy allocates anything.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vampy.errors import InputError
from vampy.formats.files import read_text_file

# output_%06d.npz sorts in datalist order only up to six digits; more lines would break
# the readers' `sorted(glob(...))` pairing, so longer datalists are refused.
MAX_DATALIST_ENTRIES = 1_000_000
MAX_DATALIST_BYTES = 1 << 28  # 268 bytes a line at the entry limit; stops /dev/zero and the like


@dataclass(frozen=True)
class DatalistEntry:
    index: int  # 0-based among non-blank lines: the output_%06d.npz number
    line_no: int  # 1-based line number in the file, for messages
    text: str  # the line as written, surrounding whitespace removed
    path: Path  # absolute, resolved as the module doc says


# --- datalist ---


def read_datalist(path: Path) -> list[DatalistEntry]:
    """Entries of a datalist file; InputError naming the file when missing, binary, or empty."""
    text = _read_text(path)
    folder = Path(os.path.abspath(path)).parent
    entries = [
        DatalistEntry(index, line_no, line, _resolve(line, folder))
        for index, (line_no, line) in enumerate((n, s.strip()) for n, s in enumerate(text.splitlines(), 1) if s.strip())
    ]
    if not entries:
        raise InputError(f"{path}: the datalist has no entries; expected one npz path per line")
    if len(entries) > MAX_DATALIST_ENTRIES:
        raise InputError(
            f"{path}: {len(entries)} entries; output names sort in datalist order only up to {MAX_DATALIST_ENTRIES}, split the datalist"
        )
    return entries


def _read_text(path: Path) -> str:
    return read_text_file(Path(path), MAX_DATALIST_BYTES, str(path), "datalist", "the datalist is a text file with one npz path per line",
                          refuse_binary=True)


def _resolve(line: str, folder: Path) -> Path:
    try:
        candidate = Path(line).expanduser()
    except RuntimeError:  # `~nosuchuser/x.npz`: keep it as written; loading it names the path
        candidate = Path(line)
    if candidate.is_absolute():
        return Path(os.path.normpath(candidate))
    beside = Path(os.path.normpath(folder / candidate))
    if _exists(beside):
        return beside
    from_cwd = Path(os.path.abspath(candidate))
    return from_cwd if _exists(from_cwd) else beside


def _exists(path: Path) -> bool:
    # Path.exists() raises for a name too long (ENAMETOOLONG) or a denied folder (EACCES).
    try:
        return path.exists()
    except OSError:
        return False


# --- npz in ---


# --- npz and files out ---


def output_name(index: int) -> str:
    """vamp's output file name for a datalist index: output_000000.npz, output_000001.npz, ..."""
    if not 0 <= index < MAX_DATALIST_ENTRIES:
        raise ValueError(f"datalist index {index} is outside 0..{MAX_DATALIST_ENTRIES - 1}")
    return f"output_{index:06d}.npz"


# --- image2npz ---


