"""npz files in and out: untrusted inputs checked before numpy allocates anything, outputs written atomically.

npz files are untrusted data: never unpickled, and every member's declared size is checked
against a limit and against the archive's own sizes before numpy allocates anything.
"""
from __future__ import annotations

import contextlib
import math
import os
import stat
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from vampy.errors import InputError, first_line
from vampy.formats.files import PER_ITEM_DURABLE, open_no_wait, write_atomic

MAX_NPZ_BYTES = 1 << 30



MAX_NPZ_MEMBERS = 1024



class NpzError(InputError):
    """An npz that cannot be used. `reason` is the short text for a failures list (no path)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason



@dataclass(frozen=True)
class NpyHeader:
    """What one npz member declares in its .npy header, read before numpy allocates anything."""

    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def values(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.values * self.dtype.itemsize


# A caller's own rule on each member's declared shape and dtype (the model's rank, a bound from the
# ground truth): a reason refuses the file before any array is allocated; None accepts the member.
HeaderCheck = Callable[[str, NpyHeader], str | None]


def read_npz_headers(path: Path, max_bytes: int = MAX_NPZ_BYTES) -> dict[str, NpyHeader]:
    """Every member's declared shape and dtype, checked as load_input_npz checks them; nothing allocated."""
    path = Path(path)
    with _opened(path) as fh:
        return _checked_headers(path, fh, max_bytes, None)


def load_input_npz(
    path: Path, max_bytes: int = MAX_NPZ_BYTES, keys: Collection[str] | None = None, check: HeaderCheck | None = None,
) -> dict[str, np.ndarray]:
    """The arrays of an npz (only `keys` where given: the others are never allocated), each member's
    header checked before allocation (the limits, then `check`); NpzError (an InputError) when unusable.

    The file is opened once: the bytes checked are the bytes loaded, whatever happens to the path.
    """
    path = Path(path)
    with _opened(path) as fh:
        headers = _checked_headers(path, fh, max_bytes, check)
        wanted = [key for key in headers if keys is None or key in keys]
        fh.seek(0)
        with _reading(path), np.load(fh, allow_pickle=False) as npz:
            return {key: npz[key] for key in wanted}


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[BinaryIO]:
    """The npz opened once for every read, or NpzError: a folder, a device, a pipe or a socket are refused."""
    with _reading(path):
        fh = open_no_wait(path)  # a FIFO would block open() for ever; its type is refused just below
    try:
        _check_regular_file(path, os.fstat(fh.fileno()).st_mode)
        yield fh
    finally:
        fh.close()


def _checked_headers(path: Path, fh: BinaryIO, max_bytes: int, check: HeaderCheck | None) -> dict[str, NpyHeader]:
    with _reading(path), zipfile.ZipFile(fh) as archive:
        return _check_members(path, archive, max_bytes, check)


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Every way zipfile and numpy fail on a damaged or hostile file, as one NpzError line."""
    try:
        yield
    except NpzError:
        raise
    except FileNotFoundError:
        raise NpzError(path, "no such file") from None
    except IsADirectoryError:
        raise NpzError(path, "is a folder, not an npz file") from None
    except zipfile.BadZipFile:
        raise NpzError(path, "not an npz file (not a zip archive)") from None
    except ValueError as exc:
        # numpy raises ValueError for object arrays under allow_pickle=False and for bad headers.
        raise NpzError(path, f"corrupt or unsupported npz ({first_line(exc)})") from None
    except (OSError, EOFError, zlib.error, RuntimeError, NotImplementedError) as exc:
        raise NpzError(path, f"corrupt npz ({first_line(exc)})") from None


def _check_regular_file(path: Path, mode: int) -> None:
    # Reading /dev/zero never ends; a pipe or socket is not an archive one can seek in.
    if stat.S_ISDIR(mode):
        raise NpzError(path, "is a folder, not an npz file")
    if not stat.S_ISREG(mode):
        raise NpzError(path, "is not a regular file (a device, pipe or socket); give an npz file")


def _check_members(path: Path, archive: zipfile.ZipFile, max_bytes: int, check: HeaderCheck | None) -> dict[str, NpyHeader]:
    # Every entry, folders included: np.load reads each one, so each must pass the checks.
    members = archive.infolist()
    if not members:
        raise NpzError(path, "holds no arrays")
    if len(members) > MAX_NPZ_MEMBERS:
        raise NpzError(path, f"holds {len(members)} members; vampy reads at most {MAX_NPZ_MEMBERS}")
    total_bytes = 0
    headers: dict[str, NpyHeader] = {}
    for info in members:
        key, header = _declared(path, archive, info, max_bytes, check)
        headers[key] = header
        total_bytes += header.nbytes
        if total_bytes > max_bytes:
            raise NpzError(path, f"its arrays declare {total_bytes} bytes in all, over the {max_bytes}-byte limit")
    return headers


def _declared(
    path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int, check: HeaderCheck | None,
) -> tuple[str, NpyHeader]:
    """Read one member's .npy header (a few hundred bytes): its key and what it declares, checked
    (the caller's rule first, so its message names what the caller expected)."""
    key = info.filename.removesuffix(".npy")
    with archive.open(info) as member:
        shape, dtype, header_bytes = _read_npy_header(path, key, member)
    if dtype.hasobject:
        raise NpzError(path, f"array {key!r} holds Python objects (a pickle); vampy never unpickles (allow_pickle=False)")
    if any(d < 0 for d in shape):
        # numpy's header parser accepts them, and the product can wrap into a huge allocation.
        raise NpzError(path, f"array {key!r} declares shape {shape} with a negative dimension (forged)")
    header = NpyHeader(shape, dtype)
    reason = check(key, header) if check is not None else None
    if reason is not None:
        raise NpzError(path, reason)
    declared_bytes = header.nbytes
    if declared_bytes > max_bytes:
        raise NpzError(path, f"array {key!r} declares shape {shape} {dtype} = {declared_bytes} bytes, over the {max_bytes}-byte limit")
    if header_bytes + declared_bytes > info.file_size:
        raise NpzError(
            path,
            f"array {key!r} declares {declared_bytes} bytes but the archive holds {info.file_size - header_bytes} (truncated or forged)",
        )
    return key, header


def _read_npy_header(path: Path, key: str, member: IO[bytes]) -> tuple[tuple[int, ...], np.dtype, int]:
    try:
        version = npy_format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = npy_format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = npy_format.read_array_header_2_0(member)
        else:
            raise NpzError(path, f"array {key!r} uses .npy format {version[0]}.{version[1]}; vampy reads 1.0 and 2.0")
    except NpzError:
        raise
    except Exception as exc:  # noqa: BLE001 - numpy's header parser also raises SyntaxError, tokenize.TokenError, ...
        raise NpzError(path, f"member {key!r} is not a valid .npy array ({first_line(exc)})") from None
    # The stream position is now just past the header: magic + length field + header text.
    return tuple(int(d) for d in shape), np.dtype(dtype), member.tell()



def write_npz_atomic(folder: Path, name: str, arrays: Mapping[str, np.ndarray], durable: bool = PER_ITEM_DURABLE) -> Path:
    """Save arrays as folder/name (uncompressed npz) through the one safe writer (formats/files.py):
    never a partial file under that name, never written through a link; durable: fsynced first
    (off by default for these per-line outputs: files.PER_ITEM_DURABLE says why)."""
    members: dict[str, Any] = dict(arrays)  # Any: numpy's stubs type **kwds as savez's own keywords
    return write_atomic(folder, name, lambda fh: np.savez(fh, **members), durable)



def is_valid_output(path: Path, expected_keys: Sequence[str]) -> bool:
    """For --resume: the file exists, loads safely and holds exactly the expected keys."""
    if not Path(path).is_file():
        return False
    try:
        arrays = load_input_npz(Path(path))
    except InputError:
        return False
    return set(arrays) == set(expected_keys)
