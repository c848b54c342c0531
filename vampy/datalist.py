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

import glob as globlib
import io
import math
import os
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Mapping, Sequence

import numpy as np
from numpy.lib import format as npy_format

from vampy.config import Image2NpzConfig
from vampy.errors import InputError, OutputError
from vampy.files import open_no_wait
from vampy.imaging import image_to_chw, read_image
from vampy.progress import NullProgress, Progress
from vampy.report import FileProblem, Image2NpzResult

MAX_NPZ_BYTES = 1 << 30
MAX_NPZ_MEMBERS = 1024
# output_%06d.npz sorts in datalist order only up to six digits; more lines would break
# the readers' `sorted(glob(...))` pairing, so longer datalists are refused.
MAX_DATALIST_ENTRIES = 1_000_000
MAX_DATALIST_BYTES = 1 << 28  # 268 bytes a line at the entry limit; stops /dev/zero and the like
_READ_CHUNK_BYTES = 1 << 20
_TMP_SUFFIX = ".tmp"  # temp files never end in .npz, so a reader's *.npz glob never sees one


@dataclass(frozen=True)
class DatalistEntry:
    index: int  # 0-based among non-blank lines: the output_%06d.npz number
    line_no: int  # 1-based line number in the file, for messages
    text: str  # the line as written, surrounding whitespace removed
    path: Path  # absolute, resolved as the module doc says


class NpzError(InputError):
    """An npz that cannot be used. `reason` is the short text for a failures list (no path)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


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
        raise InputError(f"{path}: {len(entries)} entries; output names sort in datalist order only up to {MAX_DATALIST_ENTRIES}, split the datalist")
    return entries


def _read_text(path: Path) -> str:
    try:
        data = _read_bounded(Path(path))
    except FileNotFoundError:
        raise InputError(f"{path}: no such datalist file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder; the datalist is a text file with one npz path per line") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the datalist ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); save the datalist as UTF-8") from None


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, read in chunks so a device such as /dev/zero fails fast instead of filling memory."""
    chunks: list[bytes] = []
    total_bytes = 0
    with open_no_wait(path) as fh:
        while chunk := fh.read(_READ_CHUNK_BYTES):
            if b"\0" in chunk:
                raise InputError(f"{path}: looks binary (an npz?); the datalist is a text file with one npz path per line")
            total_bytes += len(chunk)
            if total_bytes > MAX_DATALIST_BYTES:
                raise InputError(f"{path}: more than {MAX_DATALIST_BYTES} bytes; not a datalist (one npz path per line)")
            chunks.append(chunk)
    return b"".join(chunks)


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
        raise NpzError(path, f"corrupt or unsupported npz ({_first_line(exc)})") from None
    except (OSError, EOFError, zlib.error, RuntimeError, NotImplementedError) as exc:
        raise NpzError(path, f"corrupt npz ({_first_line(exc)})") from None
    return arrays


def _check_regular_file(path: Path) -> None:
    # stat never blocks; opening a FIFO does, and reading /dev/zero never ends.
    mode = path.stat().st_mode
    if stat.S_ISDIR(mode):
        raise NpzError(path, "is a folder, not an npz file")
    if not stat.S_ISREG(mode):
        raise NpzError(path, "is not a regular file (a device, pipe or socket); give an npz file")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
        raise NpzError(path, f"array {key!r} declares {declared_bytes} bytes but the archive holds {info.file_size - header_bytes} (truncated or forged)")
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
        raise NpzError(path, f"member {key!r} is not a valid .npy array ({_first_line(exc)})") from None
    # The stream position is now just past the header: magic + length field + header text.
    return tuple(int(d) for d in shape), np.dtype(dtype), member.tell()


# --- npz and files out ---


def output_name(index: int) -> str:
    """vamp's output file name for a datalist index: output_000000.npz, output_000001.npz, ..."""
    if not 0 <= index < MAX_DATALIST_ENTRIES:
        raise ValueError(f"datalist index {index} is outside 0..{MAX_DATALIST_ENTRIES - 1}")
    return "output_%06d.npz" % index


def _check_name(folder: Path, name: str) -> None:
    # Nothing is ever written outside the folder the user named.
    bad = not name or name in (".", "..") or "/" in name or "\\" in name or os.sep in name or "\0" in name
    if bad or (os.altsep is not None and os.altsep in name):
        raise OutputError(f"{folder}: refusing to write {name!r}: a file name must not contain a path separator")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_atomic(folder: Path, name: str, write: Callable[[IO[bytes]], object]) -> Path:
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
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}; check that the folder exists, is writable and has space", exc.errno) from None
    finally:
        if tmp_name is not None and os.path.exists(tmp_name):
            os.unlink(tmp_name)  # only when the rename did not happen
    return target


def write_npz_atomic(folder: Path, name: str, arrays: Mapping[str, np.ndarray]) -> Path:
    """Save arrays as folder/name (uncompressed npz); never leaves a partial file under that name."""
    members: dict[str, Any] = dict(arrays)  # Any: numpy's stubs type **kwds as savez's own keywords
    return _write_atomic(folder, name, lambda fh: np.savez(fh, **members))


def write_bytes_atomic(folder: Path, name: str, data: bytes) -> Path:
    """Write bytes as folder/name, atomically (as write_npz_atomic)."""
    return _write_atomic(folder, name, lambda fh: fh.write(data))


def is_valid_output(path: Path, expected_keys: Sequence[str]) -> bool:
    """For --resume: the file exists, loads safely and holds exactly the expected keys."""
    if not Path(path).is_file():
        return False
    try:
        arrays = load_input_npz(Path(path))
    except InputError:
        return False
    return set(arrays) == set(expected_keys)


# --- image2npz ---


def images_to_npz(cfg: Image2NpzConfig, progress: Progress | None = None) -> Image2NpzResult:
    """Write NAME.npz (input_0: uint8 CHW) per matching image, sorted by name, then the datalist."""
    progress = progress or NullProgress()
    images = _matching_images(Path(cfg.dataset_dir), cfg.pattern)
    target = Path(cfg.target_dir)
    make_output_dir(target, "--target_path")
    written: list[Path] = []
    skipped: list[FileProblem] = []
    progress.start("image2npz", len(images))
    for image_path, name in _output_names(images, skipped):
        try:
            chw = image_to_chw(read_image(image_path), cfg.mode, cfg.ycbcr)
        except InputError as exc:
            skipped.append(FileProblem(str(image_path), str(exc)))
        else:
            written.append(write_npz_atomic(target, name, {"input_0": chw}))
        progress.advance()
    progress.finish()
    if not written:
        raise InputError(f"{cfg.dataset_dir}: none of the {len(images)} matching files could be read as an image (first: {skipped[0].reason})")
    datalist = _write_datalist(Path(cfg.datalist_path), written, cfg.relative)
    return Image2NpzResult(
        str(datalist), str(target), cfg.mode, cfg.ycbcr, tuple(str(p) for p in written),
        tuple(sorted(skipped, key=lambda s: s.path)),
    )


def _matching_images(dataset_dir: Path, pattern: str) -> list[Path]:
    if not dataset_dir.is_dir():
        raise InputError(f"--dataset_path {dataset_dir}: no such folder")
    matches = [Path(p) for p in globlib.glob(os.path.join(globlib.escape(str(dataset_dir)), pattern), recursive=True)]
    files = sorted((p for p in matches if p.is_file()), key=lambda p: p.relative_to(dataset_dir).as_posix())
    if not files:
        raise InputError(f"--pattern {pattern!r}: no file in {dataset_dir} matches")
    return files


def _output_names(images: list[Path], skipped: list[FileProblem]) -> list[tuple[Path, str]]:
    """NAME.npz per image; a second image with the same NAME (a.png, a.jpg) is skipped, not overwritten."""
    first_by_name: dict[str, Path] = {}
    pairs: list[tuple[Path, str]] = []
    for image in images:
        name = f"{image.stem}.npz"
        if name in first_by_name:
            skipped.append(FileProblem(str(image), f"{image}: same output name {name} as {first_by_name[name]}; rename one of them"))
            continue
        first_by_name[name] = image
        pairs.append((image, name))
    return pairs


def make_output_dir(folder: Path, flag: str) -> None:
    """Create a folder the user named for outputs; one OutputError line naming the flag if not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{flag} {folder}: cannot create the folder ({exc.strerror or exc})") from None
    if not folder.is_dir():
        raise OutputError(f"{flag} {folder}: exists and is not a folder")


def _write_datalist(datalist: Path, npz_paths: list[Path], relative: bool) -> Path:
    folder = Path(os.path.abspath(datalist)).parent
    make_output_dir(folder, "--text_path")
    if relative:
        lines = [Path(os.path.relpath(os.path.abspath(p), folder)).as_posix() for p in npz_paths]
    else:
        lines = [os.path.abspath(p) for p in npz_paths]
    buffer = io.StringIO()
    buffer.writelines(f"{line}\n" for line in lines)
    return _write_atomic(folder, datalist.name, lambda fh: fh.write(buffer.getvalue().encode("utf-8")))
