"""Files in and out: bounded reads that never hang on a pipe, a nesting limit, atomic writes, output folders.

Input files:

open() on a FIFO waits until some process opens it for writing, so a FIFO named as a datalist, a
vdsp file, a compiler YAML or a report hung the command for ever. open_no_wait opens without
waiting and then switches back to ordinary blocking reads: a pipe that has a writer (bash's
`<(...)`, `cat file | vampy ... /dev/stdin`) is still read whole, and one without a writer reads
as empty, which each reader reports as an empty file. Regular files behave as with open(); where
the OS has no O_NONBLOCK (Windows), it is open() itself.
"""
from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO

from vampy.errors import InputError, OutputError

_NO_WAIT = getattr(os, "O_NONBLOCK", 0)


def open_no_wait(path: str | Path) -> BinaryIO:
    """The file opened for binary reading; OSError as open() raises it (IsADirectoryError naming the path)."""
    if not _NO_WAIT:
        return open(path, "rb")
    fd = os.open(path, os.O_RDONLY | _NO_WAIT)
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):  # os.open accepts a folder; open() refuses it
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_input_bytes(path: Path, fix: str, max_bytes: int | None = None) -> bytes:
    """A small input file's bytes: InputError when it is over max_bytes or empty; OSError as open() raises it.

    The stat check refuses a big regular file before reading it; the bounded read refuses what stat
    cannot size (st_size is 0 for /dev/zero and pipes). `fix` ends both messages.
    """
    if max_bytes is not None and path.stat().st_size > max_bytes:
        raise InputError(f"{path}: larger than {max_bytes} bytes; {fix}")
    with open_no_wait(path) as fh:
        data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
    if max_bytes is not None and len(data) > max_bytes:
        raise InputError(f"{path}: larger than {max_bytes} bytes; {fix}")
    if not data.strip():
        raise InputError(f"{path}: is empty (a pipe with no writer reads as empty); {fix}")
    return data


# Vendor vdsp files and compiler YAMLs nest 3-5 levels; 64 leaves room for any real file while
# refusing, in microseconds, the pathological inputs (100 kB of "[") that cost PyYAML half a
# second or more before it gives up with RecursionError.
MAX_NESTING = 64
_FLOW_BRACKETS = re.compile(r"[^\[\]{}]+")
_DASHES = re.compile(r"(?:- +)*")


def check_nesting(text: str, source: str, max_depth: int = MAX_NESTING) -> None:
    """InputError when JSON/YAML text nests deeper than max_depth, before any parser sees it.

    Counted lexically, so brackets inside quoted strings count too: a real vdsp file or compiler
    YAML has no run of dozens of unclosed brackets in a string. Block YAML nests by indentation
    and by "- - -" on one line; both are counted as PyYAML's composer would recurse on them.
    """
    flow = _deepest_flow(text, max_depth)
    block = _deepest_block(text, max_depth)
    # The larger of the two, not their sum: a flow collection 64 deep inside a block mapping 64
    # deep (128 levels) still parses in 7 ms, far from PyYAML's recursion limit, so the check
    # stays two simple passes (tests/unit/test_nesting.py parses that case).
    deepest = max(flow, block)
    if deepest > max_depth:
        raise InputError(f"{source}: nests deeper than {max_depth} levels; a vdsp file or compiler YAML needs a handful; fix the file")


def _deepest_flow(text: str, stop_at: int) -> int:
    depth = deepest = 0
    for ch in _FLOW_BRACKETS.sub("", text):
        depth = depth + 1 if ch in "[{" else max(0, depth - 1)
        if depth > deepest:
            deepest = depth
            if deepest > stop_at:
                break
    return deepest


def _deepest_block(text: str, stop_at: int) -> int:
    indents: list[int] = []  # the open block levels, by indentation
    deepest = 0
    for line in text.splitlines():
        content = line.lstrip(" ")
        if not content.strip() or content.startswith("#"):
            continue
        indent = len(line) - len(content)
        while indents and indents[-1] >= indent:
            indents.pop()
        indents.append(indent)
        dashes = _DASHES.match(content)
        assert dashes is not None  # the pattern matches the empty string
        deepest = max(deepest, len(indents) + dashes.group(0).count("-"))
        if deepest > stop_at:
            break
    return deepest


_TMP_SUFFIX = ".tmp"  # temp files never end in .npz, so a reader's *.npz glob never sees one



def _check_name(folder: Path, name: str) -> None:
    # Nothing is ever written outside the folder the user named.
    bad = not name or name in (".", "..") or "/" in name or "\\" in name or os.sep in name or "\0" in name
    if bad or (os.altsep is not None and os.altsep in name):
        raise OutputError(f"{folder}: refusing to write {name!r}: a file name must not contain a path separator")



def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask



def write_atomic(folder: Path, name: str, write: Callable[[IO[bytes]], object]) -> Path:
    """Write folder/name through a temp file in the same folder, then rename it into place."""
    folder = Path(folder)
    _check_name(folder, name)
    target = folder / name
    tmp_name: str | None = None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{name}.", suffix=_TMP_SUFFIX, delete=False) as tmp:
            tmp_name = tmp.name
            write(tmp)
        # NamedTemporaryFile makes 0600 files; outputs get the mode any new file would get.
        os.chmod(tmp_name, 0o666 & ~_umask())
        os.replace(tmp_name, target)
    except OSError as exc:
        raise OutputError(
            f"cannot write {target}: {exc.strerror or exc}; check that the folder exists, is writable and has space", exc.errno
        ) from None
    finally:
        if tmp_name is not None and os.path.exists(tmp_name):
            os.unlink(tmp_name)  # only when the rename did not happen
    return target



def write_bytes_atomic(folder: Path, name: str, data: bytes) -> Path:
    """Write bytes as folder/name, atomically (as write_npz_atomic)."""
    return write_atomic(folder, name, lambda fh: fh.write(data))



def make_output_dir(folder: Path, flag: str) -> None:
    """Create a folder the user named for outputs; one OutputError line naming the flag if not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{flag} {folder}: cannot create the folder ({exc.strerror or exc})") from None
    if not folder.is_dir():
        raise OutputError(f"{flag} {folder}: exists and is not a folder")
