"""npz files in and out: untrusted inputs checked before numpy allocates anything, outputs written atomically.

npz files are untrusted data: never unpickled, and every member's declared size is checked
against a limit and against the archive's own sizes before numpy allocates anything.
"""
from __future__ import annotations

import math
import stat
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy_format

from vampy.errors import InputError, first_line
from vampy.formats.files import write_atomic

MAX_NPZ_BYTES = 1 << 30



MAX_NPZ_MEMBERS = 1024



class NpzError(InputError):
    """An npz that cannot be used. `reason` is the short text for a failures list (no path)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason



def load_input_npz(path: Path, max_bytes: int = MAX_NPZ_BYTES) -> dict[str, np.ndarray]:
    """All arrays of an npz, checked before allocation; NpzError (an InputError) when unusable."""
    path = Path(path)
    try:
        _check_regular_file(path)
        with zipfile.ZipFile(path) as archive:
            _check_members(path, archive, max_bytes)
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
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
    return arrays



def _check_regular_file(path: Path) -> None:
    # stat never blocks; opening a FIFO does, and reading /dev/zero never ends.
    mode = path.stat().st_mode
    if stat.S_ISDIR(mode):
        raise NpzError(path, "is a folder, not an npz file")
    if not stat.S_ISREG(mode):
        raise NpzError(path, "is not a regular file (a device, pipe or socket); give an npz file")





def _check_members(path: Path, archive: zipfile.ZipFile, max_bytes: int) -> None:
    # Every entry, folders included: np.load reads each one, so each must pass the checks.
    members = archive.infolist()
    if not members:
        raise NpzError(path, "holds no arrays")
    if len(members) > MAX_NPZ_MEMBERS:
        raise NpzError(path, f"holds {len(members)} members; vampy reads at most {MAX_NPZ_MEMBERS}")
    total_bytes = 0
    for info in members:
        total_bytes += _declared_bytes(path, archive, info, max_bytes)
        if total_bytes > max_bytes:
            raise NpzError(path, f"its arrays declare {total_bytes} bytes in all, over the {max_bytes}-byte limit")



def _declared_bytes(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int) -> int:
    """Read one member's .npy header (a few hundred bytes) and return the size it declares."""
    key = info.filename.removesuffix(".npy")
    with archive.open(info) as member:
        shape, dtype, header_bytes = _read_npy_header(path, key, member)
    if dtype.hasobject:
        raise NpzError(path, f"array {key!r} holds Python objects (a pickle); vampy never unpickles (allow_pickle=False)")
    if any(d < 0 for d in shape):
        # numpy's header parser accepts them, and the product can wrap into a huge allocation.
        raise NpzError(path, f"array {key!r} declares shape {shape} with a negative dimension (forged)")
    declared_bytes = math.prod(shape) * dtype.itemsize
    if declared_bytes > max_bytes:
        raise NpzError(path, f"array {key!r} declares shape {shape} {dtype} = {declared_bytes} bytes, over the {max_bytes}-byte limit")
    if header_bytes + declared_bytes > info.file_size:
        raise NpzError(
            path,
            f"array {key!r} declares {declared_bytes} bytes but the archive holds {info.file_size - header_bytes} (truncated or forged)",
        )
    return declared_bytes



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



def write_npz_atomic(folder: Path, name: str, arrays: Mapping[str, np.ndarray]) -> Path:
    """Save arrays as folder/name (uncompressed npz); never leaves a partial file under that name."""
    members: dict[str, Any] = dict(arrays)  # Any: numpy's stubs type **kwds as savez's own keywords
    return write_atomic(folder, name, lambda fh: np.savez(fh, **members))



def is_valid_output(path: Path, expected_keys: Sequence[str]) -> bool:
    """For --resume: the file exists, loads safely and holds exactly the expected keys."""
    if not Path(path).is_file():
        return False
    try:
        arrays = load_input_npz(Path(path))
    except InputError:
        return False
    return set(arrays) == set(expected_keys)
