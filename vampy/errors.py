"""One exception family for the whole engine; the CLI maps each kind to one exit code.

Every message is one line that names the flag, file or key at fault and says how to fix it.
"""
from __future__ import annotations

import reprlib


class VampyError(Exception):
    """Base of every error vampy reports to the user (never a traceback unless --debug)."""

    exit_code: int = 1


class UsageError(VampyError):
    """Bad flags, impossible flag combinations, bad values on the command line."""

    exit_code = 2


class InputError(VampyError):
    """A file the user named is missing, unreadable, corrupt, or holds unknown keys/values."""

    exit_code = 3


class ModelError(VampyError):
    """The model cannot be loaded, or cannot take the input the user asked for."""

    exit_code = 4


class WorkerError(VampyError):
    """A worker process failed (exception, crash, signal) during a run."""

    exit_code = 5


class PartialResult(VampyError):
    """The run finished but some entries failed; every good output was still written."""

    exit_code = 6


class OutputError(VampyError):
    """An output file or folder cannot be written (permissions, full disk, outside the folder)."""

    exit_code = 7

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno  # the OSError's, when there was one: tells a full disk from a bad name


class GateFailed(VampyError):
    """A quality or speed gate the user set was crossed (`vampy diff --min_snr_db`, `vampy compile
    --min_snr_db`, `vampy compare --fail_if_slower`, ...): the work finished and its report was
    written; the message names the gate, the threshold and what crossed it."""

    exit_code = 8


class Terminated(KeyboardInterrupt):
    """Raised in the main thread by the CLI's SIGTERM handler: stop like Ctrl-C, exit 143."""


# Documented in README "When things go wrong" and `vampy --help`; keep the three in step.
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "internal error (a bug: please report it with --debug output)",
    2: "usage error: bad flag, value or flag combination",
    3: "input error: missing, corrupt or invalid file (model list, vdsp, datalist, npz, YAML)",
    4: "model error: model cannot be loaded or cannot take the requested input",
    5: "worker failure: a worker process died or raised; partial report marked INCOMPLETE",
    6: "partial: the run finished but some entries failed (listed in the report)",
    7: "output error: an output file or folder cannot be written",
    8: "gate failed: a --min_*/--fail_if_* threshold was crossed (the report is written; the message names what crossed it)",
    130: "interrupted by Ctrl-C (SIGINT)",
    143: "terminated (SIGTERM)",
}


def short_repr(value: object, limit: int = 80) -> str:
    """A bounded repr for error messages about untrusted values: a YAML alias bomb or an integer
    past Python's digit limit must give a short message, never a hang or another exception."""
    shortener = reprlib.Repr()
    shortener.maxstring = shortener.maxother = limit
    try:
        return shortener.repr(value)[: limit + 20]
    except ValueError:  # int -> str beyond sys.get_int_max_str_digits()
        bits = value.bit_length() if isinstance(value, int) else None
        return f"an integer of {bits} bits" if bits is not None else f"a {type(value).__name__} too large to show"


# Where a library may put a whole graph or array dump on the first line of its message.
MAX_REASON_CHARS = 300


def first_line(exc: BaseException, max_chars: int | None = None) -> str:
    """The first line of a library's exception (its type name when it says nothing), for a one-line
    message; `max_chars` bounds it where the library may put a whole model dump on that line."""
    text = str(exc).strip() or type(exc).__name__
    line = text.splitlines()[0]
    return line if max_chars is None else line[:max_chars]
