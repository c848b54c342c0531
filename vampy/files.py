"""Opening user-named input files without hanging on a pipe that nobody writes to.

open() on a FIFO waits until some process opens it for writing, so a FIFO named as a datalist, a
vdsp file, a compiler YAML or a report hung the command for ever. open_no_wait opens without
waiting and then switches back to ordinary blocking reads: a pipe that has a writer (bash's
`<(...)`, `cat file | vampy ... /dev/stdin`) is still read whole, and one without a writer reads
as empty, which each reader reports as an empty file. Regular files behave as with open().
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO


def open_no_wait(path: str | Path) -> BinaryIO:
    """The file opened for binary reading; OSError as open() raises it."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
