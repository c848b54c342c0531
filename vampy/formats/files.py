"""Files in and out: bounded reads that never hang on a pipe, a nesting limit, atomic writes, output folders.

Input files (read_bounded, the one reader of every small file vampy reads: reports, mod.json and
sidecars, scoring files, vdsp files, compiler YAMLs, datalists):

- A regular file is read up to a limit, decided from its size before anything is allocated.
- A character or block device (/dev/zero, /dev/urandom, a disk) is refused at once: it is never a file of ours.
- A pipe (a FIFO, bash's `<(...)`, `cat f | vampy ... /dev/stdin`) is read to its end, up to the
  same limit: one with no writer reads as empty (each reader reports an empty file), and one whose
  writer stays silent for PIPE_IDLE_S is refused. open() on a FIFO would wait for a writer for
  ever; open_no_wait opens without waiting.

Output files (write_file, the one writer): a temporary file created exclusively (O_CREAT|O_EXCL,
O_NOFOLLOW) under a random name in the target's folder, written, fsynced (reports, pages, models;
not the per-item outputs, PER_ITEM_DURABLE) and renamed over the target. A link planted at the
target or at any temporary name is never followed: the rename replaces the link itself and an
existing name is never opened. The folder itself may be a link the user chose.
"""
from __future__ import annotations

import errno
import json
import os
import re
import secrets
import select
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, BinaryIO

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


# Every reader has its own limit; this one is for a caller that names none (a report is the largest
# file vampy reads back: a 1M-line datalist run whose every line failed writes about 200 MB).
DEFAULT_MAX_BYTES = 1 << 28
# A pipe whose writer sends nothing for this long is refused: a live producer (`<(find ...)`, a
# decompressor) sends its first bytes well within it, a forgotten `sleep > fifo` never does.
PIPE_IDLE_S = 10.0
_PIPE_CHUNK_BYTES = 1 << 16


def read_bounded(path: str | Path, max_bytes: int, fix: str, idle_s: float = PIPE_IDLE_S, name: str | None = None) -> bytes:
    """A file's bytes, at most max_bytes; InputError for a device, a larger file or a silent pipe.

    OSError as open() raises it (FileNotFoundError, IsADirectoryError, PermissionError), so each
    reader keeps its own message for those. The InputError messages start with `name` (default: the
    path; a flag and the path where the user gave a flag) and end with `fix`.
    """
    name = str(path) if name is None else name
    with open_no_wait(path) as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            raise InputError(f"{name}: is a device, not a file; {fix}")
        if stat.S_ISFIFO(mode) and _NO_WAIT:
            data = _read_pipe(fh.fileno(), max_bytes, idle_s, f"{name}: ", fix)
        else:
            if stat.S_ISREG(mode) and os.fstat(fh.fileno()).st_size > max_bytes:
                raise InputError(f"{name}: larger than {max_bytes} bytes; {fix}")
            data = fh.read(max_bytes + 1)  # +1: a file that grew since fstat is still caught
    if len(data) > max_bytes:
        raise InputError(f"{name}: larger than {max_bytes} bytes; {fix}")
    return data


def _read_pipe(fd: int, max_bytes: int, idle_s: float, where: str, fix: str) -> bytes:
    """A pipe read to its end without blocking: never waits longer than idle_s for a byte."""
    os.set_blocking(fd, False)
    chunks: list[bytes] = []
    total_bytes = 0
    while total_bytes <= max_bytes:
        # Read first, wait only when told to: a FIFO that never had a writer reads as the end at
        # once, while select() would not report it (Linux signals no hang-up for it).
        try:
            chunk = os.read(fd, _PIPE_CHUNK_BYTES)
        except BlockingIOError:  # a writer is connected and has sent nothing yet
            if not _wait_readable(fd, idle_s):
                raise InputError(f"{where}a pipe that sent nothing for {idle_s:g} s; {fix}") from None
            continue
        if not chunk:
            break  # the end: every writer closed (or none ever opened it)
        chunks.append(chunk)
        total_bytes += len(chunk)
    return b"".join(chunks)


def _wait_readable(fd: int, timeout_s: float) -> bool:
    """True when fd has data (or its end) within timeout_s; poll() where the OS has it, since select()
    refuses descriptors past 1023, which a long-lived process may hand out."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(timeout_s * 1000))
    ready, _, _ = select.select([fd], [], [], timeout_s)
    return bool(ready)


def read_input_bytes(path: Path, fix: str, max_bytes: int | None = None) -> bytes:
    """A small input file's bytes through read_bounded (max_bytes None: DEFAULT_MAX_BYTES); InputError
    when it is a device, too large, a silent pipe or empty; OSError as open() raises it."""
    data = read_bounded(path, DEFAULT_MAX_BYTES if max_bytes is None else max_bytes, fix)
    if not data.strip():
        raise InputError(f"{path}: is empty (a pipe with no writer reads as empty); {fix}")
    return data


def read_text_file(path: Path, max_bytes: int, name: str, kind: str, fix: str = "", refuse_binary: bool = False) -> str:
    """A small text file (datalist, label file, vdsp file) as UTF-8, a BOM dropped, through read_bounded.

    Every failure is one InputError that starts with `name` (the path, or the flag and the path) and says
    what a `kind` file is; `fix`, when given, ends it. refuse_binary: a NUL byte means a binary file (an npz
    given as a datalist), refused before it is decoded.
    """
    tail = f"; {fix}" if fix else ""
    try:
        data = read_bounded(path, max_bytes, f"not a {kind} file{tail}", name=name)
    except FileNotFoundError:
        raise InputError(f"{name}: no such {kind} file{tail}") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a folder, not a {kind} file{tail}") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read the {kind} file ({exc.strerror or exc}){tail}") from None
    if refuse_binary and b"\0" in data:
        raise InputError(f"{name}: looks binary (an npz?); a {kind} file is text{tail}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text (byte {exc.start}); save the {kind} file as UTF-8") from None


# Vendor vdsp files and compiler YAMLs nest 3-5 levels; 64 leaves room for any real file while
# refusing, in microseconds, the pathological inputs (100 kB of "[") that cost PyYAML half a
# second or more before it gives up with RecursionError.
MAX_NESTING = 64
_FLOW_BRACKETS = re.compile(r"[^\[\]{}]+")
_DASHES = re.compile(r"(?:- +)*")


_YAML_NEEDS = "a vdsp file or compiler YAML needs a handful"


def check_nesting(text: str, source: str, max_depth: int = MAX_NESTING, needs: str = _YAML_NEEDS) -> None:
    """InputError when JSON/YAML text nests deeper than max_depth, before any parser sees it.

    Counted lexically, so brackets inside quoted strings count too: a real vdsp file or compiler
    YAML has no run of dozens of unclosed brackets in a string. Block YAML nests by indentation
    and by "- - -" on one line; both are counted as PyYAML's composer would recurse on them.
    `needs` says how deep a real file of this kind goes, for the message.
    """
    flow = _deepest_flow(text, max_depth)
    block = _deepest_block(text, max_depth)
    # The larger of the two, not their sum: a flow collection 64 deep inside a block mapping 64
    # deep (128 levels) still parses in 7 ms, far from PyYAML's recursion limit, so the check
    # stays two simple passes (tests/unit/test_nesting.py parses that case).
    deepest = max(flow, block)
    if deepest > max_depth:
        raise InputError(f"{source}: nests deeper than {max_depth} levels; {needs}; fix the file")


# A JSON string, escapes included (unrolled so the regex engine never backtracks).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


def check_json_nesting(text: str, source: str, needs: str, max_depth: int = MAX_NESTING) -> None:
    """InputError when JSON text nests deeper than max_depth, before json.loads recurses into it.

    Strings are taken out first, so brackets inside them never count (a report's failure reasons
    may hold any text); indentation means nothing in JSON, so only brackets are counted.
    """
    if _deepest_flow(_JSON_STRING.sub("", text), max_depth) > max_depth:
        raise InputError(f"{source}: nests deeper than {max_depth} levels; {needs}; fix or regenerate the file")


def parse_json(data: bytes, source: str, needs: str, max_depth: int = MAX_NESTING) -> Any:
    """UTF-8 JSON bytes -> the value, the nesting checked first; InputError (never the file's text) otherwise."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 text (byte {exc.start}); not a JSON file") from None
    check_json_nesting(text, source, needs, max_depth)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # The decoder's message is a fixed phrase and a position, never the file's text.
        raise InputError(f"{source}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


# What a key of a file vampy reads looks like: a name, an index, a dotted path. A "key" with other
# characters (`root:$6$...:19000:::`) is some other file's content and is never echoed.
_KEY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")


def shown_key(key: object) -> str:
    """A key of an untrusted file as a message may show it: the key itself when it looks like a key
    name, else a placeholder, so an error about a file that is not ours never prints its text."""
    if isinstance(key, bool) or key is None:
        return str(key).lower() if key is not None else "null"
    if isinstance(key, int) and abs(key) < 10**18:
        return str(key)
    if isinstance(key, str) and _KEY_NAME.fullmatch(key):
        return key
    return "(a key that is not a name, not shown)"


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
# O_NOFOLLOW where the OS has it: O_EXCL alone already refuses an existing name, links included,
# so this only says the same thing twice; O_CLOEXEC keeps the descriptor out of spawned workers.
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_TMP_NAME_ATTEMPTS = 16  # a random 64-bit name taken 16 times running means someone is planting them
_TMP_STEM_CHARS = 200  # keeps ".{name}.{16 hex}.tmp" under the 255-byte name limit


def _check_name(folder: Path, name: str) -> None:
    # Nothing is ever written outside the folder the user named.
    bad = not name or name in (".", "..") or "/" in name or "\\" in name or os.sep in name or "\0" in name
    if bad or (os.altsep is not None and os.altsep in name):
        raise OutputError(f"{folder}: refusing to write {name!r}: a file name must not contain a path separator")


def temp_name(name: str) -> str:
    """The hidden temporary name write_file uses for `name`: `.NAME.<16 hex>.tmp` (random each time),
    so a `.NAME.*.tmp` glob finds what a killed writer left."""
    return f".{name[:_TMP_STEM_CHARS]}.{secrets.token_hex(8)}{_TMP_SUFFIX}"


def _create_temp(folder: Path, name: str) -> tuple[int, Path]:
    """A new, empty temporary file in folder, opened for writing; never an existing name or a link."""
    for _ in range(_TMP_NAME_ATTEMPTS):
        candidate = folder / temp_name(name)
        try:
            # Mode 0666: the umask decides, as for any ordinary file (mkstemp would make it private).
            return os.open(candidate, _CREATE_FLAGS, 0o666), candidate
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f"{_TMP_NAME_ATTEMPTS} random temporary names all taken", str(folder))


def write_file(target: str | Path, write: Callable[[IO[bytes]], object], durable: bool = True) -> Path:
    """The one safe writer: target written whole or not at all, never through a link; OSError as the OS raised it.

    `write` fills a new temporary file beside the target (see the module doc); then fsync (durable:
    after a crash the target holds the old or the new content, never an empty file) and a rename
    over the target. The temporary file is removed when anything fails.
    """
    target = Path(target)
    fd, tmp = _create_temp(target.parent, target.name)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, target)  # rename() replaces a link at the target; it never writes through it
    except BaseException:
        tmp.unlink(missing_ok=True)  # only when the rename did not happen
        raise
    return target


# Per-item outputs (an npz per datalist line, a PNG per image) are not fsynced by default: there are
# thousands, an fsync costs 0.5-5 ms each (measured here: 0.7 ms a write without, 4 ms with), and each
# is re-made by re-running (--resume re-checks every npz and redoes a damaged one). Reports, lists,
# pages and models (write_file's default) are fsynced.
PER_ITEM_DURABLE = False


def write_atomic(folder: Path, name: str, write: Callable[[IO[bytes]], object], durable: bool = PER_ITEM_DURABLE) -> Path:
    """Write folder/name through write_file (never through a link, whole or not at all); a bad name or an
    OS refusal is one OutputError line (with its errno). durable: fsync first (see PER_ITEM_DURABLE)."""
    folder = Path(folder)
    _check_name(folder, name)
    target = folder / name
    try:
        return write_file(target, write, durable)
    except OSError as exc:
        raise OutputError(
            f"cannot write {target}: {exc.strerror or exc}; check that the folder exists, is writable and has space", exc.errno
        ) from None


def write_bytes_atomic(folder: Path, name: str, data: bytes, durable: bool = PER_ITEM_DURABLE) -> Path:
    """Write bytes as folder/name, atomically (as write_atomic)."""
    return write_atomic(folder, name, lambda fh: fh.write(data), durable)



def make_output_dir(folder: Path, flag: str) -> None:
    """Create a folder the user named for outputs; one OutputError line naming the flag if not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{flag} {folder}: cannot create the folder ({exc.strerror or exc})") from None
    if not folder.is_dir():
        raise OutputError(f"{flag} {folder}: exists and is not a folder")
