"""Datalist reading, safe npz loading, atomic writes, resume validity, and the image2npz engine."""
from __future__ import annotations

import errno
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from numpy.lib import format as npy_format

from vampy.config import Image2NpzConfig
from vampy.data.image2npz import images_to_npz
from vampy.errors import InputError, OutputError, UsageError
from vampy.formats.datalist import output_name, read_datalist
from vampy.formats.files import write_bytes_atomic
from vampy.formats.npz import NpzError, is_valid_output, load_input_npz, write_npz_atomic

# --- read_datalist ---


def test_absolute_and_relative_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lists = tmp_path / "lists"
    (lists / "npz").mkdir(parents=True)
    (lists / "npz" / "a.npz").touch()
    cwd = tmp_path / "cwd"
    (cwd / "only_here").mkdir(parents=True)
    (cwd / "only_here" / "b.npz").touch()
    monkeypatch.chdir(cwd)
    absolute = tmp_path / "abs.npz"
    datalist = lists / "d.txt"
    datalist.write_text(f"npz/a.npz\nonly_here/b.npz\n{absolute}\nnowhere/c.npz\n")
    entries = read_datalist(datalist)
    assert [e.path for e in entries] == [
        lists / "npz" / "a.npz",  # beside the datalist first
        cwd / "only_here" / "b.npz",  # else the current directory
        absolute,
        lists / "nowhere" / "c.npz",  # missing both ways: the datalist's folder, so errors name it
    ]
    assert [e.text for e in entries] == ["npz/a.npz", "only_here/b.npz", str(absolute), "nowhere/c.npz"]


def test_datalist_relative_to_a_relative_datalist_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.npz").touch()
    (tmp_path / "sub" / "d.txt").write_text("x.npz\n")
    monkeypatch.chdir(tmp_path)
    (entry,) = read_datalist(Path("sub/d.txt"))
    assert entry.path == tmp_path / "sub" / "x.npz" and entry.path.is_absolute()


def test_blank_lines_do_not_count(tmp_path: Path) -> None:
    datalist = tmp_path / "d.txt"
    datalist.write_text("\ufeff/a.npz\n\n   \n/b.npz\r\n  /c d.npz  \n\n")
    entries = read_datalist(datalist)
    assert [(e.index, e.line_no, e.text) for e in entries] == [(0, 1, "/a.npz"), (1, 4, "/b.npz"), (2, 5, "/c d.npz")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such datalist"),
        (b"", "no entries"),
        (b"\n  \n", "no entries"),
        (b"PK\x03\x04\x00\x00binary", "looks binary"),
        (b"\xff\xfe/a.npz\n", "not UTF-8"),
    ],
)
def test_bad_datalists(tmp_path: Path, content: bytes | None, message: str) -> None:
    datalist = tmp_path / "d.txt"
    if content is not None:
        datalist.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        read_datalist(datalist)
    assert "d.txt" in str(info.value)


def test_datalist_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder"):
        read_datalist(tmp_path)


# --- load_input_npz ---


def _npz_with_header(path: Path, shape: tuple[int, ...], descr: str = "<f4", payload: bytes = b"\0" * 16) -> None:
    member = io.BytesIO()
    npy_format.write_array_header_1_0(member, {"descr": descr, "fortran_order": False, "shape": shape})
    member.write(payload)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("input_0.npy", member.getvalue())


def test_loads_every_array(tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    np.savez(path, input_0=np.arange(12, dtype=np.uint8).reshape(1, 3, 4), input_1=np.ones(3, np.int64))
    arrays = load_input_npz(path)
    assert sorted(arrays) == ["input_0", "input_1"] and arrays["input_0"].shape == (1, 3, 4)
    compressed = tmp_path / "c.npz"
    np.savez_compressed(compressed, input_0=np.zeros((3, 64, 64), np.uint8))
    assert load_input_npz(compressed)["input_0"].shape == (3, 64, 64)


def test_pickled_npz_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    np.savez(path, input_0=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(NpzError, match="pickle") as info:
        load_input_npz(path)
    assert info.value.reason.startswith("array 'input_0' holds Python objects") and str(path) in str(info.value)


def test_oversize_header_is_refused_before_allocation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bomb.npz"
    _npz_with_header(path, (1 << 40,))

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("np.load must not run on a file whose header is refused")

    monkeypatch.setattr(np, "load", never)
    with pytest.raises(NpzError, match="over the 1024-byte limit"):
        load_input_npz(path, max_bytes=1024)
    with pytest.raises(NpzError, match="over the"):
        load_input_npz(path)  # 4 TiB declared: over the default limit too


def test_header_larger_than_the_archive_member_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "forged.npz"
    _npz_with_header(path, (1000, 1000))  # 4 MB declared, 16 bytes stored
    monkeypatch.setattr(np, "load", lambda *a, **k: (_ for _ in ()).throw(AssertionError("allocated")))
    with pytest.raises(NpzError, match="truncated or forged"):
        load_input_npz(path)


def test_total_of_members_is_limited(tmp_path: Path) -> None:
    path = tmp_path / "two.npz"
    np.savez(path, a=np.zeros(100, np.uint8), b=np.zeros(100, np.uint8))
    with pytest.raises(NpzError, match="200 bytes in all"):
        load_input_npz(path, max_bytes=150)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_text("hello"), "not an npz file"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: zipfile.ZipFile(p, "w").close(), "holds no arrays"),
        (lambda p: zipfile.ZipFile(p, "w").writestr("input_0.npy", b"no magic here"), "not a valid .npy"),
    ],
)
def test_unusable_npz(tmp_path: Path, make: Any, reason: str) -> None:
    path = tmp_path / "x.npz"
    make(path)
    with pytest.raises(InputError, match=reason) as info:
        load_input_npz(path)
    assert isinstance(info.value, NpzError) and reason in info.value.reason and str(path) in str(info.value)


def test_truncated_npz_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "t.npz"
    np.savez(path, input_0=np.arange(4096, dtype=np.float32))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(NpzError):
        load_input_npz(path)


def test_corrupt_member_bytes(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    np.savez_compressed(path, input_0=np.arange(4096, dtype=np.float32))
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 32] = b"\xa5" * 32
    path.write_bytes(bytes(data))
    with pytest.raises(NpzError, match="corrupt|not a valid"):
        load_input_npz(path)


# --- output names and atomic writes ---


def test_output_names_sort_in_index_order() -> None:
    assert output_name(0) == "output_000000.npz" and output_name(123456) == "output_123456.npz"
    names = [output_name(i) for i in (5, 10, 999_999, 0, 100_000)]
    assert sorted(names) == [output_name(i) for i in (0, 5, 10, 100_000, 999_999)]
    for bad in (-1, 1_000_000):
        with pytest.raises(ValueError):
            output_name(bad)


def test_write_npz_atomic_round_trip(tmp_path: Path) -> None:
    arrays: dict[str, np.ndarray] = {"output_0": np.ones((1, 1, 4, 4), np.float16), "output_1": np.arange(3)}
    path = write_npz_atomic(tmp_path, "output_000000.npz", arrays)
    assert path == tmp_path / "output_000000.npz"
    loaded = load_input_npz(path)
    assert loaded["output_0"].dtype == np.float16 and np.array_equal(loaded["output_1"], np.arange(3))
    assert os.listdir(tmp_path) == ["output_000000.npz"]


@pytest.mark.parametrize("name", ["../escape.npz", "sub/x.npz", "..", "", "a\\b.npz", f"{os.sep}abs.npz"])
def test_names_with_separators_are_refused(tmp_path: Path, name: str) -> None:
    inner = tmp_path / "out"
    inner.mkdir()
    with pytest.raises(OutputError, match="path separator"):
        write_npz_atomic(inner, name, {"output_0": np.zeros(1)})
    assert os.listdir(inner) == [] and sorted(os.listdir(tmp_path)) == ["out"]


def test_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "output_000001.npz"
    write_npz_atomic(tmp_path, target.name, {"output_0": np.zeros(3)})
    before = target.read_bytes()

    def disk_full(fh: Any, **arrays: Any) -> None:
        fh.write(b"PK\x03\x04 half an archive")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OutputError, match=r"output_000001\.npz: No space left"):
        write_npz_atomic(tmp_path, target.name, {"output_0": np.ones(3)})
    with pytest.raises(OutputError, match="output_000002.npz"):
        write_npz_atomic(tmp_path, "output_000002.npz", {"output_0": np.ones(3)})
    assert os.listdir(tmp_path) == [target.name]  # no temp file, no half-written new file
    assert target.read_bytes() == before  # the old complete file is untouched


def test_write_into_missing_folder_is_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="absent"):
        write_npz_atomic(tmp_path / "absent", "a.npz", {"x": np.zeros(1)})
    with pytest.raises(OutputError, match="absent"):
        write_bytes_atomic(tmp_path / "absent", "a.png", b"x")


def test_write_bytes_atomic(tmp_path: Path) -> None:
    assert write_bytes_atomic(tmp_path, "a.txt", b"hello").read_bytes() == b"hello"


# --- resume ---


def test_is_valid_output(tmp_path: Path) -> None:
    keys = ["output_0", "output_1"]
    good = write_npz_atomic(tmp_path, "good.npz", {"output_0": np.zeros(2), "output_1": np.zeros(1)})
    assert is_valid_output(good, keys)
    assert not is_valid_output(tmp_path / "missing.npz", keys)
    assert not is_valid_output(write_npz_atomic(tmp_path, "fewer.npz", {"output_0": np.zeros(2)}), keys)
    extra = write_npz_atomic(tmp_path, "extra.npz", {"output_0": np.zeros(2), "output_1": np.zeros(1), "output_2": np.zeros(1)})
    assert not is_valid_output(extra, keys)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:-40])
    assert not is_valid_output(truncated, keys)
    assert not is_valid_output(tmp_path, keys)


# --- images_to_npz ---


def _images(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for k, name in enumerate(names):
        cv2.imwrite(str(folder / name), rng.integers(0, 256, (6 + k, 8, 3)).astype(np.uint8))


def test_images_to_npz_writes_sorted_npz_and_absolute_datalist(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _images(data, ["b.png", "a.png", "c.bmp"])
    (data / "broken.png").write_bytes(b"not a png")
    (data / "notes.txt").write_text("matches the pattern but is no image")
    calls: list[tuple[str, Any]] = []

    class Recorder:
        def start(self, description: str, total: int | None) -> None:
            calls.append(("start", total))

        def advance(self, steps: int = 1) -> None:
            calls.append(("advance", steps))

        def finish(self) -> None:
            calls.append(("finish", None))

    cfg = Image2NpzConfig(str(data), "*", str(tmp_path / "npz"), str(tmp_path / "lists" / "d.txt"), mode="y3")
    result = images_to_npz(cfg, Recorder())
    assert [Path(p).name for p in result.written] == ["a.npz", "b.npz", "c.npz"]
    assert [Path(s.path).name for s in result.skipped] == ["broken.png", "notes.txt"]
    assert all("not an image" in s.reason for s in result.skipped)
    lines = (tmp_path / "lists" / "d.txt").read_text().splitlines()
    assert lines == [str(tmp_path / "npz" / n) for n in ("a.npz", "b.npz", "c.npz")]
    a = np.load(tmp_path / "npz" / "b.npz")
    assert a.files == ["input_0"] and a["input_0"].dtype == np.uint8 and a["input_0"].shape == (3, 6, 8)
    assert calls[0] == ("start", 5) and calls.count(("advance", 1)) == 5 and calls[-1] == ("finish", None)
    assert [e.path for e in read_datalist(tmp_path / "lists" / "d.txt")] == [Path(p) for p in result.written]


def test_images_to_npz_relative_datalist(tmp_path: Path) -> None:
    _images(tmp_path / "data", ["x_scale_4.bmp", "y_scale_4.bmp", "y_scale_2.bmp"])
    cfg = Image2NpzConfig(str(tmp_path / "data"), "*_scale_4.bmp", str(tmp_path / "work" / "npz"), str(tmp_path / "lists" / "d.txt"),
                          mode="gray", ycbcr="bt601", relative=True)
    result = images_to_npz(cfg)
    assert (tmp_path / "lists" / "d.txt").read_text() == "../work/npz/x_scale_4.npz\n../work/npz/y_scale_4.npz\n"
    assert np.load(result.written[0])["input_0"].shape == (1, 6, 8)
    assert [e.path for e in read_datalist(tmp_path / "lists" / "d.txt")] == [Path(p) for p in result.written]


def test_images_with_the_same_stem_are_not_overwritten(tmp_path: Path) -> None:
    _images(tmp_path / "data", ["a.png", "a.bmp"])
    result = images_to_npz(Image2NpzConfig(str(tmp_path / "data"), "*", str(tmp_path / "npz"), str(tmp_path / "d.txt")))
    assert len(result.written) == 1 and "same output name a.npz" in result.skipped[0].reason


@pytest.mark.parametrize(
    ("setup", "pattern", "error", "message"),
    [
        ("none", "*.png", InputError, "no such folder"),
        ("empty", "*.png", InputError, "no file in"),
        ("junk", "*", InputError, "none of the 1 matching files"),
    ],
)
def test_images_to_npz_errors(tmp_path: Path, setup: str, pattern: str, error: type[Exception], message: str) -> None:
    data = tmp_path / "data"
    if setup != "none":
        data.mkdir()
    if setup == "junk":
        (data / "a.png").write_text("junk")
    with pytest.raises(error, match=message):
        images_to_npz(Image2NpzConfig(str(data), pattern, str(tmp_path / "npz"), str(tmp_path / "d.txt")))
    assert not (tmp_path / "d.txt").exists()


def test_target_that_is_a_file_is_output_error(tmp_path: Path) -> None:
    _images(tmp_path / "data", ["a.png"])
    (tmp_path / "npz").write_text("a file")
    with pytest.raises(OutputError, match="--target_path"):
        images_to_npz(Image2NpzConfig(str(tmp_path / "data"), "*", str(tmp_path / "npz"), str(tmp_path / "d.txt")))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"mode": "bgr"}, "--mode bgr"), ({"ycbcr": "yuv"}, "--ycbcr yuv"), ({"pattern": " "}, "--pattern is empty"),
     ({"pattern": "/etc/*"}, "relative")],
)
def test_image2npz_config_validation(kwargs: dict[str, str], message: str) -> None:
    base: dict[str, Any] = {"dataset_dir": "d", "pattern": "*", "target_dir": "t", "datalist_path": "l.txt"}
    with pytest.raises(UsageError, match=message):
        Image2NpzConfig(**{**base, **kwargs})
