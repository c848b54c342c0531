"""Hostile and broken files, and output trouble, provoked for real.

Crafted npz headers are refused before numpy allocates; pickles are never unpickled (a live
payload would create a marker file); YAML object tags never run; absurd vdsp sizes are refused;
devices and pipes do not hang a loader; datalist lines may point anywhere, but `vampy run` writes
only output_%06d.npz and failures.json inside --path_output; an unwritable or full output folder
is reported with its path, leaves no partial npz, and keeps the outputs written before.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import threading
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from numpy.lib import format as npy_format

from tests.models import conv_model
from tests.support.files import vdsp_file
from tests.support.processes import HANG_GUARD_S, wait_for
from vampy.errors import InputError
from vampy.formats.compile_yaml import load_compile_config
from vampy.formats.datalist import read_datalist
from vampy.formats.npz import NpzError, load_input_npz
from vampy.formats.vdsp import load_vdsp

TIMEOUT_S = 120  # a hang guard for one vampy command (a few seconds here, busy or not)
ALLOCATION_LIMIT_BYTES = 4 << 20  # far below any array the crafted headers declare


def vampy(*args: str, preexec_fn: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vampy", *args], capture_output=True, text=True, timeout=TIMEOUT_S,
                          preexec_fn=preexec_fn)


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one `vampy: error: ...` line; no traceback anywhere."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("vampy: error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


# --- crafted npz headers ---


def npy_header(shape: tuple[int, ...], descr: str = "|u1") -> bytes:
    """A .npy header alone (no data) declaring shape, written by hand as a forger would."""
    text = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode("latin1")
    padded = text + b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return npy_format.magic(1, 0) + len(padded).to_bytes(2, "little") + padded


def npz_file(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return path


def small_npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((3, 4, 4), np.uint8))
    return buffer.getvalue()


def refuse_without_allocating(path: Path, max_bytes: int | None = None) -> NpzError:
    tracemalloc.start()  # numpy reports its data buffers to tracemalloc
    try:
        with pytest.raises(NpzError) as caught:
            load_input_npz(path) if max_bytes is None else load_input_npz(path, max_bytes=max_bytes)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_bytes < ALLOCATION_LIMIT_BYTES, f"{peak_bytes} bytes allocated before refusing"
    assert str(caught.value).startswith(str(path)) and len(str(caught.value).splitlines()) == 1
    return caught.value


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ({"input_0.npy": npy_header((10**12,))}, "over the"),  # 10^12 elements in a ~200-byte file
        ({"input_0.npy": npy_header((10**6, 10**6), "<f4")}, "over the"),
        ({"input_0.npy": npy_header((100 << 20,))}, "truncated or forged"),  # under the limit, far over the file
        ({"input_0.npy": npy_header((-1, 2**40, 2**40))}, "negative dimension"),  # the product would wrap
        ({"input_0.npy": small_npy(), "hidden/": npy_header((10**12,))}, "over the"),  # a folder entry is checked too
    ],
    ids=["1e12-elements", "1e12-floats", "larger-than-file", "negative-dim", "folder-entry"],
)
def test_forged_header_is_refused_before_allocation(tmp_path: Path, members: dict[str, bytes], reason: str) -> None:
    path = npz_file(tmp_path / "forged.npz", members)
    assert path.stat().st_size < 2000
    assert reason in refuse_without_allocating(path).reason


def test_real_array_over_the_memory_limit_is_refused_before_loading(tmp_path: Path) -> None:
    path = tmp_path / "big.npz"
    np.savez(path, input_0=np.zeros((16 << 20,), np.uint8))  # a genuine 16 MiB array
    assert "over the 1048576-byte limit" in refuse_without_allocating(path, max_bytes=1 << 20).reason


# --- pickles ---


class Payload:
    """Unpickling this calls os.mkdir(marker): proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.marker),))


def pickled_npz(path: Path, marker: Path) -> Path:
    np.savez(path, input_0=np.array([Payload(marker)], dtype=object))  # savez pickles object arrays
    return path


def test_pickle_payload_is_live(tmp_path: Path) -> None:
    # Without this the next tests could pass with a payload that never does anything.
    marker = tmp_path / "proof"
    with np.load(pickled_npz(tmp_path / "p.npz", marker), allow_pickle=True) as npz:
        npz["input_0"]
    assert marker.is_dir()


def test_pickled_npz_is_refused_and_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = pickled_npz(tmp_path / "evil.npz", marker)
    error = refuse_without_allocating(path)
    assert "pickle" in error.reason and "never unpickles" in error.reason
    assert not marker.exists()


# --- YAML object tags ---

YAML_TAGS = ["!!python/object/apply:os.mkdir [{marker}]", "!!python/object/new:os.mkdir [{marker}]",
             "!!python/name:os.mkdir", "!!python/object:pathlib.PosixPath {{}}"]


@pytest.mark.parametrize("tag", YAML_TAGS)
def test_yaml_object_tags_are_refused_by_both_loaders(tmp_path: Path, tag: str) -> None:
    marker = tmp_path / "pwned"
    value = tag.format(marker=f"'{marker}'")
    vdsp = tmp_path / "v.yaml"
    vdsp.write_text(f"OpType: SINGLE_OP_RESIZE\nOpConfig:\n  TensorType0: {value}\n")
    compile_yaml = tmp_path / "c.yaml"
    compile_yaml.write_text(f"name: {value}\nfrontend: {{checkpoint: m.onnx}}\nbackend: {{dtype: fp32}}\n")
    for load, path in ((load_vdsp, vdsp), (load_compile_config, compile_yaml)):
        with pytest.raises(InputError, match="not valid YAML") as caught:
            load(path)
        assert str(path) in str(caught.value) and len(str(caught.value).splitlines()) == 1
    assert not marker.exists()
    if "apply" in tag:  # the same text under the unsafe loader really runs: the test means something
        yaml.unsafe_load(value)
        assert marker.is_dir()


# --- absurd vdsp sizes ---


@pytest.mark.parametrize(
    ("config", "named"),
    [({"OimageWidth": 10**9, "OimageHeight": 256}, "OpConfig.OimageWidth"),
     ({"OimageWidth": 16384, "OimageHeight": 16384}, "MiB float32 tensor"),  # each side allowed, the area not
     ({"ResizeWidth": 2**31, "ResizeHeight": 8}, "OpConfig.ResizeWidth")],
)
def test_vdsp_sizes_that_would_allocate_absurd_buffers_are_refused(tmp_path: Path, config: dict[str, int], named: str) -> None:
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"OpType": "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR", "OpConfig": {"NormaType": "DIV255", **config}}))
    with pytest.raises(InputError) as caught:
        load_vdsp(path)
    assert named in str(caught.value)


# --- devices and pipes ---


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.npz"
    os.mkfifo(path)
    return path


@pytest.mark.timeout(20)
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_endless_devices_fail_fast_in_every_loader(device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"{device} is absent on this machine")
    for load in (load_input_npz, read_datalist, load_vdsp, load_compile_config):
        with pytest.raises(InputError) as caught:
            load(Path(device))
        assert device in str(caught.value)


@pytest.mark.timeout(20)
def test_npz_entry_that_is_a_fifo_does_not_block(fifo: Path) -> None:
    with pytest.raises(NpzError, match="not a regular file"):
        load_input_npz(fifo)  # opening a FIFO with no writer would wait forever


@pytest.mark.timeout(20)
def test_a_fifo_nobody_writes_to_reads_as_empty_in_every_text_loader(tmp_path: Path) -> None:
    """open() on a writer-less FIFO would wait for ever; each loader now reports an empty file."""
    from vampy.results.schema import read_json

    expected = {read_datalist: "no entries", load_vdsp: "is empty", load_compile_config: "is empty", read_json: "is empty"}
    for load, message in expected.items():
        path = tmp_path / f"pipe_{load.__name__}"
        os.mkfifo(path)
        with pytest.raises(InputError, match=message) as caught:
            load(path)
        assert str(path) in str(caught.value)


@pytest.mark.timeout(240)  # a hang guard
def test_a_pipe_with_a_writer_is_read_whole(tmp_path: Path) -> None:
    """bash's <(...) and a FIFO whose writer is still writing keep working: the read waits for its end."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc/self/fd to see when the reader has the FIFO open")
    vdsp = vdsp_file(tmp_path)
    shell = f"{shlex.quote(sys.executable)} -m vampy vdsp <(sleep 0.3; cat {shlex.quote(str(vdsp))})"
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    pipe = tmp_path / "list.fifo"
    os.mkfifo(pipe)
    npz = tmp_path / "a.npz"
    np.savez(npz, input_0=np.zeros((3, 4, 4), np.uint8))
    # A live writer without a thread stuck in open(): a passing reader lets the write end open at once.
    passing = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(pipe, os.O_WRONLY)
    os.write(writer, f"{npz}\n".encode())
    os.close(passing)
    # The end of the data comes later: the writer closes only once the reader has the FIFO open (an
    # event, seen in /proc/self/fd), so the read must wait for it. (Closed before the reader opened,
    # the data would go with the FIFO's last open end and the read would see an empty pipe.)
    closer = threading.Thread(target=_close_once_read, args=(pipe, writer), daemon=True)
    closer.start()
    try:
        entries = read_datalist(pipe)
    finally:
        closer.join(timeout=HANG_GUARD_S)
    assert not closer.is_alive()
    assert [e.path for e in entries] == [npz]


def _close_once_read(pipe: Path, writer: int) -> None:
    """Close `writer` once another descriptor of this process has `pipe` open (the reader's), or, as a
    hang guard only, after HANG_GUARD_S (the read then fails the test)."""
    def reader_open() -> bool:
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                if int(fd) != writer and os.readlink(f"/proc/self/fd/{fd}") == os.path.realpath(pipe):
                    return True
        return False

    with contextlib.suppress(AssertionError):
        wait_for(reader_open, "the datalist reader to open the FIFO")
    os.close(writer)


# --- datalist mode: reads anywhere, writes only inside --path_output ---


def tree_state(root: Path, skip: Path) -> dict[str, tuple[int, int, str] | None]:
    """Every file (size, mtime_ns, sha256) and folder (None) under root, except skip and below.

    A folder's own mtime is left out: creating --path_output inside its parent changes it."""
    state: dict[str, tuple[int, int, str] | None] = {}
    for path in sorted(root.rglob("*")):
        if path == skip or skip in path.parents:
            continue
        info = path.lstat()
        is_file = path.is_file() and not path.is_symlink()
        state[str(path.relative_to(root))] = (
            (info.st_size, info.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()) if is_file else None
        )
    return state


def write_inputs(folder: Path, sizes_hw: list[tuple[int, int]], names: list[str] | None = None) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    paths = []
    for k, (h, w) in enumerate(sizes_hw):
        path = folder / (names[k] if names else f"in{k:02d}.npz")
        np.savez(path, input_0=rng.integers(0, 256, (3, h, w), dtype=np.uint8))
        paths.append(path)
    return paths


@pytest.mark.slow
@pytest.mark.timeout(240)  # a hang guard
def test_datalist_names_never_steer_where_outputs_go(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m.onnx", in_ch=1, dynamic=True)
    vdsp = vdsp_file(tmp_path)
    # Readable inputs whose names look like outputs or dot-files, reached through `..`.
    data = tmp_path / "data"
    write_inputs(data, [(8, 8)] * 4, ["evil.npz", "output_000000.npz", "..npz", "x.npz"])
    pickled_npz(data / "p.npz", tmp_path / "pwned")
    lists = tmp_path / "a" / "b"
    lists.mkdir(parents=True)
    lines = ["../../data/evil.npz", str(data / "output_000000.npz"), "../../data/..npz", "../../data/../data/x.npz",
             "../../../../../../../../evil.npz", "~/../../vampy-nowhere/evil.npz", "../../data/p.npz"]
    datalist = lists / "list.txt"
    datalist.write_text("\n".join(lines) + "\n")
    out = lists / "out"
    before = tree_state(tmp_path, skip=out)
    proc = vampy("run", "-m", str(model), "--vdsp_params", str(vdsp), "-b", "2", "--datalist", str(datalist),
                 "--path_output", str(out), "-q")
    assert proc.returncode == 6, proc.stderr  # two missing files and the pickle fail; the other four are written
    assert sorted(p.name for p in out.iterdir()) == ["failures.json", *[f"output_{i:06d}.npz" for i in range(4)]]
    assert tree_state(tmp_path, skip=out) == before, "something outside --path_output was written"
    assert not (tmp_path / "pwned").exists()


# --- output trouble ---


def datalist_setup(tmp_path: Path, sizes_hw: list[tuple[int, int]]) -> tuple[list[str], Path]:
    """Model, vdsp (native size kept) and datalist; returns the `vampy run` args before --path_output."""
    model = conv_model(tmp_path / "m.onnx", in_ch=1, dynamic=True)
    vdsp = vdsp_file(tmp_path, out_hw=None)
    inputs = write_inputs(tmp_path / "in", sizes_hw)
    datalist = tmp_path / "list.txt"
    datalist.write_text("\n".join(str(p) for p in inputs) + "\n")
    return ["run", "-m", str(model), "--vdsp_params", str(vdsp), "--datalist", str(datalist), "-q"], datalist


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _run_quietly(*cmd: str) -> bool:
    return shutil.which(cmd[0]) is not None and subprocess.run(cmd, capture_output=True, timeout=10).returncode == 0


@contextlib.contextmanager
def read_only_later(out: Path) -> Iterator[Callable[[], str]]:
    """A writable folder at `out`, and a function that makes it really read-only (returns how).

    chmod 0o555 stops only non-root users; as root a read-only tmpfs remount or the immutable
    attribute (chattr +i) stops writes for real. Skips when none of them works here."""
    out.mkdir()
    mounted = os.geteuid() == 0 and _run_quietly("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(out))
    undo: list[list[str]] = [["umount", str(out)]] if mounted else []

    def make_read_only() -> str:
        if os.geteuid() != 0:
            out.chmod(0o555)
            return "chmod 0o555"
        if mounted and _run_quietly("mount", "-o", "remount,ro", str(out)):
            return "read-only tmpfs"
        if _run_quietly("chattr", "+i", str(out)):
            undo.insert(0, ["chattr", "-i", str(out)])
            return "chattr +i"
        pytest.skip("running as root and neither `mount -o remount,ro` nor `chattr +i` works here, so no folder can be read-only")

    try:
        yield make_read_only
    finally:
        for cmd in undo:
            subprocess.run(cmd, capture_output=True, timeout=10)
        out.chmod(0o755)


@pytest.mark.slow
@pytest.mark.timeout(240)  # a hang guard
def test_read_only_output_folder_is_named_and_earlier_outputs_stay(tmp_path: Path) -> None:
    args, _ = datalist_setup(tmp_path, [(8, 8)] * 3)
    out = tmp_path / "out"
    with read_only_later(out) as make_read_only:
        assert vampy(*args, "--path_output", str(out)).returncode == 0
        good = snapshot(out)
        how = make_read_only()
        with pytest.raises(OSError):  # the mechanism really refuses writes, for this (root) process too
            (out / "probe").write_bytes(b"x")
        proc = vampy(*args, "--path_output", str(out))
        assert proc.returncode == 7, f"{how}: {proc.stderr}"
        line = error_line(proc)
        assert str(out) in line and "cannot write" in line, line
        assert snapshot(out) == good, f"{how}: earlier outputs changed or a partial file was left"


@pytest.mark.slow
@pytest.mark.timeout(240)  # a hang guard
def test_output_folder_under_a_regular_file_is_refused_at_start(tmp_path: Path) -> None:
    args, _ = datalist_setup(tmp_path, [(8, 8)])
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "out"
    proc = vampy(*args, "--path_output", str(out))
    assert proc.returncode == 7, proc.stderr
    assert str(out) in error_line(proc)
    assert blocker.read_text() == "not a folder"


def mount_works() -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    with contextlib.suppress(OSError):
        probe = Path(os.environ.get("TMPDIR", "/tmp")) / f"vampy-mount-probe-{os.getpid()}"
        probe.mkdir(exist_ok=True)
        try:
            if _run_quietly("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)):
                subprocess.run(["umount", str(probe)], capture_output=True, timeout=10)
                return True
        finally:
            probe.rmdir()
    return False


@contextlib.contextmanager
def small_space(out: Path, limit_bytes: int, how: str) -> Iterator[tuple[Callable[[], None] | None, str]]:
    """Room for files up to about limit_bytes in `out`: a tiny tmpfs (root, mount works), or a
    file-size rlimit on the run (the kernel refuses a write past it with EFBIG). Both are real."""
    out.mkdir()
    if how == "tmpfs":
        if not mount_works():
            pytest.skip("mounting a tmpfs needs root and mount rights; the rlimit variant still runs")
        assert _run_quietly("mount", "-t", "tmpfs", "-o", f"size={limit_bytes}", "tmpfs", str(out))
        try:
            yield None, "No space left on device"
        finally:
            subprocess.run(["umount", str(out)], capture_output=True, timeout=10)
        return

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    yield limit_file_size, "File too large"


@pytest.mark.slow
@pytest.mark.timeout(240)  # a hang guard
@pytest.mark.parametrize("how", ["tmpfs", "rlimit"])
def test_full_output_folder_keeps_good_outputs_and_leaves_no_partial_npz(tmp_path: Path, how: str) -> None:
    # Outputs of 8x8 inputs are ~0.5 KiB and fit; those of 256x256 inputs are 256 KiB and do not.
    args, _ = datalist_setup(tmp_path, [(8, 8), (256, 256), (8, 8), (256, 256), (8, 8)])
    out = tmp_path / "out"
    with small_space(out, 128 << 10, how) as (preexec_fn, why):
        proc = vampy(*args, "--path_output", str(out), preexec_fn=preexec_fn)
        names = sorted(p.name for p in out.iterdir())
        shapes = {np.load(out / name, allow_pickle=False)["output_0"].shape for name in names if name.endswith(".npz")}
    assert "Traceback" not in proc.stderr
    assert shapes == {(1, 1, 8, 8)}
    assert f"cannot write {out / 'output_000001.npz'}: {why}" in proc.stdout + proc.stderr
    if how == "tmpfs":
        # A full disk concerns the whole folder: the run stops at once (exit 7), keeps what it
        # wrote and says how to continue; nothing partial is left.
        assert proc.returncode == 7, proc.stderr
        assert "--resume" in proc.stderr
        assert [n for n in names if n.endswith(".npz")] == ["output_000000.npz"]
        assert not [n for n in names if n.endswith(".tmp")]
    else:
        # A file-size limit refuses the big files only: they are listed, the others written (exit 6).
        assert proc.returncode == 6, proc.stderr
        assert names == ["failures.json", "output_000000.npz", "output_000002.npz", "output_000004.npz"]  # no temp file left
        assert f"cannot write {out / 'output_000003.npz'}: {why}" in proc.stdout + proc.stderr
