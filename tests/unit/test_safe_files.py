"""formats/files.py's one writer and one reader, and formats/npz.py's header checks, on their own.

The writer never follows a link, at the target or at a temporary name, and leaves nothing behind
when it fails; the reader refuses devices, bounds regular files and pipes, and ends on a silent
pipe; JSON nesting is counted outside strings; messages never carry a file's text.
"""
from __future__ import annotations

import fnmatch
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vampy.errors import InputError, OutputError
from vampy.formats import files
from vampy.formats.files import (
    MAX_NESTING,
    check_json_nesting,
    parse_json,
    read_bounded,
    read_input_bytes,
    shown_key,
    temp_name,
    write_atomic,
    write_file,
)
from vampy.formats.npz import NpyHeader, NpzError, load_input_npz, read_npz_headers, write_npz_atomic

VICTIM_TEXT = b"outside the folder\n"


@pytest.fixture
def victim(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "victim"
    path.write_bytes(VICTIM_TEXT)
    yield path
    assert path.read_bytes() == VICTIM_TEXT and not path.is_symlink()


# --- the writer ---


def test_a_link_at_the_target_is_replaced_not_followed(tmp_path: Path, victim: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "r.json").symlink_to(victim)
    write_file(out / "r.json", lambda fh: fh.write(b"{}"))
    assert not (out / "r.json").is_symlink() and (out / "r.json").read_bytes() == b"{}"


def test_a_link_at_the_temporary_name_is_never_opened(tmp_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone who guessed the random name: the exclusive create refuses it and the next name is used."""
    out = tmp_path / "out"
    out.mkdir()
    tokens = iter(["planted", "planted", "fresh"])
    monkeypatch.setattr(files.secrets, "token_hex", lambda _n: next(tokens))
    (out / ".r.json.planted.tmp").symlink_to(victim)
    write_file(out / "r.json", lambda fh: fh.write(b"{}"))
    assert (out / "r.json").read_bytes() == b"{}"
    assert (out / ".r.json.planted.tmp").is_symlink()  # left alone, never written through


def test_every_temporary_name_taken_is_one_output_error(tmp_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files.secrets, "token_hex", lambda _n: "planted")
    (tmp_path / ".r.json.planted.tmp").symlink_to(victim)
    with pytest.raises(OutputError, match="cannot write .*r.json: .*random temporary names all taken"):
        write_atomic(tmp_path, "r.json", lambda fh: fh.write(b"{}"))
    assert not (tmp_path / "r.json").exists()


def test_a_failed_write_leaves_the_target_and_no_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_bytes(b"old")

    def fail(fh: object) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match="No space left on device") as caught:
        write_atomic(tmp_path, "r.json", fail)
    assert caught.value.errno == 28
    assert (tmp_path / "r.json").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_the_folder_may_be_a_link_the_user_chose(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "out").symlink_to(real)
    write_file(tmp_path / "out" / "a.txt", lambda fh: fh.write(b"x"))
    assert (real / "a.txt").read_bytes() == b"x"


def test_new_files_get_the_mode_the_umask_gives(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        path = write_file(tmp_path / "a.txt", lambda fh: fh.write(b"x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_temporary_names_match_the_stale_cleanup_glob_and_fit_a_name() -> None:
    """run_datalist removes `.output_*.tmp` left by a killed run: the writer's names must match it."""
    assert fnmatch.fnmatch(temp_name("output_000001.npz"), ".output_*.tmp")
    assert not fnmatch.fnmatch(temp_name("output_000001.npz"), "*.npz")  # never seen by a reader's *.npz glob
    assert temp_name("a") != temp_name("a")
    assert len(temp_name("x" * 255).encode()) <= 255


def test_reports_are_fsynced_per_line_outputs_are_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    monkeypatch.setattr(files.os, "fsync", lambda fd: synced.append(fd))
    write_file(tmp_path / "r.json", lambda fh: fh.write(b"{}"))
    assert len(synced) == 1
    write_npz_atomic(tmp_path, "output_000000.npz", {"output_0": np.zeros(2)})
    assert len(synced) == 1  # files.PER_ITEM_DURABLE: re-made by a re-run, --resume re-checks each
    write_npz_atomic(tmp_path, "output_000001.npz", {"output_0": np.zeros(2)}, durable=True)
    assert len(synced) == 2


# --- the reader ---


@pytest.mark.timeout(20)
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused_before_reading(device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"{device} is absent here")
    with pytest.raises(InputError, match=f"^{device}: is a device, not a file; give a report$"):
        read_bounded(Path(device), 1 << 30, "give a report")


def test_a_regular_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 101)
    assert read_bounded(path, 101, "fix") == b" " * 101
    with pytest.raises(InputError, match="larger than 100 bytes; fix"):
        read_bounded(path, 100, "fix")


@pytest.mark.timeout(20)
def test_a_fifo_with_no_writer_reads_as_empty(tmp_path: Path) -> None:
    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    assert read_bounded(fifo, 100, "fix") == b""
    with pytest.raises(InputError, match="is empty"):
        read_input_bytes(fifo, "fix")


@pytest.fixture
def held_fifo(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A FIFO and the write end of it, held open by this test."""
    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    # A read end that never reads: the write end opens without blocking, and writes before the
    # reader under test opens do not fail with EPIPE.
    passing = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(fifo, os.O_WRONLY)
    yield fifo, writer
    os.close(passing)
    try:
        os.close(writer)
    except OSError:
        pass  # the test closed it


@pytest.mark.timeout(20)
def test_a_silent_pipe_ends_in_one_error(held_fifo: tuple[Path, int]) -> None:
    fifo, _ = held_fifo
    with pytest.raises(InputError, match=r"a pipe that sent nothing for 0.2 s; fix"):
        read_bounded(fifo, 100, "fix", idle_s=0.2)


@pytest.mark.timeout(20)
def test_a_pipe_is_read_to_its_end_and_bounded(held_fifo: tuple[Path, int]) -> None:
    fifo, writer = held_fifo
    os.write(writer, b"first ")
    closer = threading.Timer(0.3, lambda: (os.write(writer, b"second"), os.close(writer)))
    closer.start()
    assert read_bounded(fifo, 100, "fix") == b"first second"
    closer.join()


@pytest.mark.timeout(20)
def test_a_pipe_over_the_limit_is_refused(held_fifo: tuple[Path, int]) -> None:
    fifo, writer = held_fifo
    os.write(writer, b"x" * 200)
    with pytest.raises(InputError, match="larger than 100 bytes"):
        read_bounded(fifo, 100, "fix")


# --- nesting and messages ---


def test_json_nesting_counts_brackets_outside_strings_only() -> None:
    deep_text = '{"reason": "' + "[" * 500 + '\\" [[[ "}'  # brackets and an escaped quote inside a string
    check_json_nesting(deep_text, "r.json", "needs")
    ok = "[" * MAX_NESTING + "]" * MAX_NESTING
    check_json_nesting(ok, "r.json", "needs")
    with pytest.raises(InputError, match=rf"^r.json: nests deeper than {MAX_NESTING} levels; a report nests a handful; fix"):
        check_json_nesting("[" + ok + "]", "r.json", "a report nests a handful")


def test_parse_json_never_echoes_the_text() -> None:
    with pytest.raises(InputError) as caught:
        parse_json(b"root:$6$hunter2:19000", "x.json", "needs")
    assert "hunter2" not in str(caught.value) and "not JSON" in str(caught.value)
    with pytest.raises(InputError, match="not UTF-8"):
        parse_json(b"\xff\xfe", "x.json", "needs")
    assert parse_json(b'{"a": [1]}', "x.json", "needs") == {"a": [1]}


@pytest.mark.parametrize(("key", "shown"), [
    ("backend", "backend"), ("residual_layer.7.conv.weight", "residual_layer.7.conv.weight"), (3, "3"), (True, "true"),
    ("root:$6$hunter2:19000:0:99999:7:::", "(a key that is not a name, not shown)"), ("x" * 65, "(a key that is not a name, not shown)"),
    ("API_KEY=abc", "(a key that is not a name, not shown)"), (10**30, "(a key that is not a name, not shown)"),
])
def test_shown_key(key: object, shown: str) -> None:
    assert shown_key(key) == shown


# --- npz headers checked by the caller's rule before allocation ---


def test_a_header_check_refuses_before_loading_and_keys_load_only_what_is_asked(tmp_path: Path) -> None:
    path = tmp_path / "o.npz"
    np.savez(path, output_0=np.zeros((1, 1, 4, 5), np.float32), other=np.zeros(3))
    assert read_npz_headers(path) == {"output_0": NpyHeader((1, 1, 4, 5), np.dtype(np.float32)), "other": NpyHeader((3,), np.dtype(float))}
    assert list(load_input_npz(path, keys=("output_0",))) == ["output_0"]
    seen: list[str] = []

    def check(key: str, header: NpyHeader) -> str | None:
        seen.append(key)
        return f"{key} has {header.values} values" if key == "output_0" else None

    with pytest.raises(NpzError, match=r"o.npz: output_0 has 20 values$"):
        load_input_npz(path, check=check)
    assert seen == ["output_0"]


@pytest.mark.timeout(20)
def test_an_npz_that_is_a_fifo_or_device_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "p.npz"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(NpzError, match="not a regular file"):
            read_npz_headers(path)
