"""Opening user-named input files without hanging on a pipe that nobody writes to.

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
import stat
from pathlib import Path
from typing import BinaryIO

from vampy.errors import InputError

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
