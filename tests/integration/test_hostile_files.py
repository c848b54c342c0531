"""Issue 25's hostile files and folders, replayed through the CLI.

Links planted at every name vampy writes never redirect a write outside the folder; devices,
pipes and deeply nested reports, scoring files and mod.json end in one line with exit 3 (6 when
`report` still writes the good page); small files that declare huge arrays are refused before
allocation, checked here under a memory limit (RLIMIT_AS) that a normal run of the same command
passes; errors about a file that is not ours never echo its text.
"""
from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.lib import format as npy_format

from tests.models import identity_like_model
from tests.support.files import write_compile_yaml
from tests.support.reports import compile_json, make_report
from vampy.cli import main

TIMEOUT_S = 120  # a hang guard only: each command here ends in seconds
VICTIM_TEXT = "the victim's own content\n"
SECRET = "SeCrEt-9f3a"  # stands for a password hash: it must never reach stderr
# Under this address-space limit a normal eval or zoo run passes (they need about 0.7 GB of
# address space here: numpy, OpenCV, ONNX and their thread stacks) and the old readers failed
# (eval converted the 268 MB plane to float32: 1 GiB more; zoo loaded a 1 GiB member).
MEMORY_LIMIT_BYTES = 3 << 29  # 1.5 GiB
# One thread per pool and few malloc arenas, so the address space a run reserves does not grow with this machine's cores.
QUIET_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}


def vampy(*args: str, limit_bytes: int | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m vampy ARGS` in a subprocess, under an address-space limit when given."""

    def limit() -> None:
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    return subprocess.run([sys.executable, "-m", "vampy", *args], capture_output=True, text=True, timeout=TIMEOUT_S,
                          preexec_fn=limit, env={**os.environ, **QUIET_ENV}, cwd=cwd)


def in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """vampy's CLI in this process: (exit code, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(args)
    code = info.value.code
    return (code if isinstance(code, int) else 0), capsys.readouterr().err


def one_error_line(stderr: str) -> str:
    """The one `vampy: error:` line; no traceback, no internal error."""
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("vampy: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


# --- planted links ---


@pytest.fixture
def victim(tmp_path: Path) -> Iterator[Path]:
    """A file outside every output folder; each test plants links to it and checks it afterwards."""
    path = tmp_path / "victim"
    path.write_text(VICTIM_TEXT)
    os.chmod(path, 0o600)
    yield path
    assert path.read_text() == VICTIM_TEXT and not path.is_symlink(), "a write went through a planted link"
    assert path.stat().st_mode & 0o777 == 0o600


def plant(folder: Path, victim: Path, *names: str) -> None:
    """A link to the victim at each name, and at the fixed temporary name vampy used to write it through."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        for link in (folder / name, folder / f".{name}.tmp"):
            link.unlink(missing_ok=True)
            link.symlink_to(os.path.relpath(victim, folder))


def assert_replaced(folder: Path, *names: str) -> None:
    """Each name is now a regular file of vampy's (the link replaced, not followed); no temporary file is left."""
    for name in names:
        assert not (folder / name).is_symlink() and (folder / name).is_file(), name
    assert not [p.name for p in folder.glob(".*.tmp") if not p.is_symlink()], "a temporary file was left behind"


def small_datalist(tmp_path: Path, lines: int = 3) -> tuple[Path, Path]:
    """An Identity model taking (1, 3, 8, 8) float32 and a datalist of `lines` npz inputs."""
    model = identity_like_model(tmp_path / "id" / "mod.onnx", [1, 3, 8, 8])
    rng = np.random.default_rng(0)
    paths = []
    for k in range(lines):
        paths.append(tmp_path / f"in{k}.npz")
        np.savez(paths[-1], input_0=rng.random((3, 8, 8), dtype=np.float32))
    datalist = tmp_path / "dl.txt"
    datalist.write_text("".join(f"{p}\n" for p in paths))
    return model, datalist


@pytest.mark.timeout(TIMEOUT_S)
def test_run_datalist_writes_through_no_planted_link(tmp_path: Path, victim: Path) -> None:
    """The issue's reproduction: failures.json, --json, every output npz and their old temporary names."""
    model, datalist = small_datalist(tmp_path)
    out = tmp_path / "out"
    outputs = [f"output_{k:06d}.npz" for k in range(3)]
    plant(out, victim, "failures.json", "r.json", *outputs)
    proc = vampy("run", "-m", str(model.with_suffix("")), "-s", "3,8,8", "--datalist", str(datalist), "--path_output", str(out),
                 "--json", str(out / "r.json"), "-q")
    assert proc.returncode == 0, proc.stderr
    assert_replaced(out, "failures.json", "r.json", *outputs)
    assert json.loads((out / "failures.json").read_text()) == {"failures": [], "lines": 3}
    assert json.loads((out / "r.json").read_text())["kind"] == "run"


@pytest.mark.timeout(TIMEOUT_S)
def test_an_output_folder_that_is_a_link_the_user_chose_is_used(tmp_path: Path) -> None:
    model, datalist = small_datalist(tmp_path, lines=1)
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "out").symlink_to(real)
    proc = vampy("run", "-m", str(model.with_suffix("")), "-s", "3,8,8", "--datalist", str(datalist), "--path_output",
                 str(tmp_path / "out"), "-q")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in real.iterdir()) == ["failures.json", "output_000000.npz"]


def test_report_and_table_write_through_no_planted_link(tmp_path: Path, victim: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "r.json"
    report.write_text(json.dumps(make_report(0)))
    out = tmp_path / "pages"
    plant(out, victim, "p.html", "t.md", "t.csv")
    code, err = in_process(["report", str(report), "-o", str(out / "p.html")], capsys)
    assert code == 0, err
    folder = compile_json(tmp_path / "m", "fp32")
    code, err = in_process(["table", str(folder), "--markdown", str(out / "t.md"), "--csv", str(out / "t.csv")], capsys)
    assert code == 0, err  # two links to one victim are two names, not "the same file twice"
    assert_replaced(out, "p.html", "t.md", "t.csv")
    assert "<html" in (out / "p.html").read_text() and (out / "t.csv").read_text().startswith("model")


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT_S)
def test_compile_writes_the_model_through_no_planted_link(tmp_path: Path, victim: Path) -> None:
    config = write_compile_yaml(tmp_path, precision="fp32")
    folder = tmp_path / "ws" / "tiny"
    plant(folder, victim, "mod.onnx", "mod.json")
    proc = vampy("compile", str(config))
    assert proc.returncode == 0, proc.stderr
    assert_replaced(folder, "mod.onnx", "mod.json")
    assert json.loads((folder / "mod.json").read_text())["kind"] == "compile"


# --- devices, pipes, nesting: one line, exit 3 ---


def nested_json(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    return compile_json(tmp_path / "m", "fp32")


@pytest.mark.timeout(TIMEOUT_S)
@pytest.mark.parametrize("command", [
    ["report", "{bad}", "-o", "{tmp}/p.html"],
    ["compare", "{bad}", "{good}"],
    ["table", "{folder}", "--run", "{bad}"],
    ["table", "{folder}", "--eval", "{bad}"],
    ["eval", "--preset", "edsr", "--scoring", "{bad}", "--gt_dir", "{tmp}", "--input_npz_path", "{tmp}/l.txt", "--out_npz_dir", "{tmp}"],
], ids=["report", "compare", "table-run", "table-eval", "eval-scoring"])
@pytest.mark.parametrize("bad", ["/dev/zero", "deep"])
def test_devices_and_deep_nesting_are_one_line_exit_3(
    tmp_path: Path, model_folder: Path, capsys: pytest.CaptureFixture[str], command: list[str], bad: str,
) -> None:
    if bad == "/dev/zero" and not Path(bad).exists():
        pytest.skip("no /dev/zero here")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(make_report(0)))
    if bad == "deep":  # the depths: a report 200k deep, a scoring file 30k deep
        bad = str(tmp_path / ("deep.yaml" if "--scoring" in command else "deep.json"))
        Path(bad).write_text(nested_json(30_000 if "--scoring" in command else 200_000))
    args = [word.format(bad=bad, good=good, tmp=tmp_path, folder=model_folder) for word in command]
    code, err = in_process(args, capsys)
    one_error_line(err)  # `report` lists each bad file on a line of its own below it
    assert code == 3, err
    assert f"{bad}: is a device" in err or f"{bad}: nests deeper than 64 levels" in err, err


def test_report_of_a_deep_and_a_good_file_writes_the_good_page_exit_6(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep, good, page = tmp_path / "deep.json", tmp_path / "good.json", tmp_path / "p.html"
    deep.write_text(nested_json(200_000))
    good.write_text(json.dumps(make_report(0)))
    code, err = in_process(["report", str(deep), str(good), "-o", str(page)], capsys)
    assert code == 6, err
    assert "Traceback" not in err and f"{deep}: nests deeper than 64 levels" in err
    assert "m/mod" in page.read_text()  # the good report's model is on the page


def test_table_refuses_a_mod_json_that_is_a_device(tmp_path: Path, model_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (model_folder / "mod.json").unlink()
    (model_folder / "mod.json").symlink_to("/dev/zero")
    code, err = in_process(["table", str(model_folder)], capsys)
    assert code == 3 and "mod.json: is a device" in one_error_line(err), err


@pytest.fixture
def silent_fifo(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """FIFOs by name; with writer=True a writer holds each open and never writes (the worst pipe)."""
    held: list[int] = []

    def make(name: str, writer: bool = False) -> Path:
        path = tmp_path / name
        os.mkfifo(path)
        if writer:
            passing = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # lets the write end open without blocking
            held.append(os.open(path, os.O_WRONLY))
            os.close(passing)
        return path

    yield make
    for fd in held:
        os.close(fd)


@pytest.mark.timeout(TIMEOUT_S)
def test_a_scoring_fifo_with_no_writer_ends_in_one_line(tmp_path: Path, silent_fifo: Callable[..., Path]) -> None:
    fifo = silent_fifo("fifo.yaml")
    proc = vampy("eval", "--preset", "edsr", "--scoring", str(fifo), "--gt_dir", str(tmp_path), "--input_npz_path",
                 str(tmp_path / "l.txt"), "--out_npz_dir", str(tmp_path))
    assert proc.returncode == 3 and f"{fifo}: is empty" in one_error_line(proc.stderr), proc.stderr


@pytest.mark.timeout(TIMEOUT_S)
def test_a_sidecar_fifo_does_not_hang_table(tmp_path: Path, silent_fifo: Callable[..., Path]) -> None:
    """mod.json names a checkpoint whose sidecar .json is a FIFO: with no writer, and with a silent one."""
    for k, writer in enumerate((False, True)):
        sidecar = silent_fifo(f"ck{k}.json", writer=writer)
        folder = compile_json(tmp_path / f"m{k}", "fp32", checkpoint=str(sidecar.with_suffix(".onnx")))
        proc = vampy("table", str(folder))
        assert proc.returncode == 0, proc.stderr  # the sidecar is informative only: unknown, not an error
        assert f"m{k}" in proc.stdout


# --- small files that declare huge arrays, under a memory limit ---


def eval_set(root: Path, output: Callable[[Path], None]) -> list[str]:
    """One 32x40 ground truth, its source, a datalist line and the output written by `output`; eval's args."""
    for folder in ("set", "out"):
        (root / folder).mkdir(parents=True)
    image = np.random.default_rng(0).integers(0, 256, (32, 40, 3)).astype(np.uint8)
    cv2.imwrite(str(root / "set" / "a.png"), image)
    cv2.imwrite(str(root / "set" / "a_scale_4.png"), image)
    (root / "list.txt").write_text("npz/a_scale_4.npz\n")
    output(root / "out" / "a_scale_4.npz")
    return ["eval", "--src_dir", str(root / "set"), "--gt_dir", str(root / "set"), "--input_npz_path", str(root / "list.txt"),
            "--out_npz_dir", str(root / "out"), "--native", "-q"]


def bomb_output(path: Path) -> None:
    """The issue's 261 KB npz declaring uint8 1x1x16384x16384 (compressed zeros)."""
    np.savez_compressed(path, output_0=np.zeros((1, 1, 16384, 16384), np.uint8))


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT_S)
def test_eval_refuses_an_output_far_larger_than_its_ground_truth_under_a_memory_limit(tmp_path: Path) -> None:
    good = vampy(*eval_set(tmp_path / "good", lambda p: np.savez(p, output_0=np.zeros((1, 1, 32, 40), np.float32))),
                 limit_bytes=MEMORY_LIMIT_BYTES)
    assert good.returncode == 0, f"the limit is too tight for a normal eval here: {good.stderr}"
    args = eval_set(tmp_path / "bomb", bomb_output)
    assert (tmp_path / "bomb" / "out" / "a_scale_4.npz").stat().st_size < 300_000
    proc = vampy(*args, limit_bytes=MEMORY_LIMIT_BYTES)
    line = one_error_line(proc.stderr)
    assert proc.returncode == 3 and "declares shape (1, 1, 16384, 16384)" in line and "16x its pixels" in line, proc.stderr


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT_S)
def test_eval_preset_bounds_its_output_by_the_ground_truth_under_a_memory_limit(tmp_path: Path) -> None:
    for folder in ("gt", "out"):
        (tmp_path / folder).mkdir()
    cv2.imwrite(str(tmp_path / "gt" / "0801.png"), np.zeros((32, 40, 3), np.uint8))
    (tmp_path / "list.txt").write_text("/data/npz/0801x2.npz\n")
    np.savez_compressed(tmp_path / "out" / "output_000000.npz", output_0=np.zeros((1, 3, 8192, 8192), np.float32))
    proc = vampy("eval", "--preset", "edsr", "--gt_dir", str(tmp_path / "gt"), "--input_npz_path", str(tmp_path / "list.txt"),
                 "--out_npz_dir", str(tmp_path / "out"), "-q", limit_bytes=MEMORY_LIMIT_BYTES)
    line = one_error_line(proc.stderr)
    assert proc.returncode == 3 and "declares shape (1, 3, 8192, 8192)" in line, proc.stderr


def npy_bytes(shape: tuple[int, ...], descr: str) -> bytes:
    """A .npy header declaring shape, with a few bytes of body: what a forger writes."""
    buffer = io.BytesIO()
    npy_format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + b"\0" * 64


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT_S)
def test_zoo_weights_are_checked_before_allocation_under_a_memory_limit(tmp_path: Path) -> None:
    from vampy.models.zoo import random_vdsr_weights, vdsr_layers

    weights = dict(zip([key for key, _ in vdsr_layers()], random_vdsr_weights(0)))
    np.savez(tmp_path / "good.npz", **weights)
    good = vampy("zoo", "vdsr", "--weights", str(tmp_path / "good.npz"), "-o", str(tmp_path / "good"), limit_bytes=MEMORY_LIMIT_BYTES)
    assert good.returncode == 0, f"the limit is too tight for a normal zoo run here: {good.stderr}"
    np.savez_compressed(tmp_path / "big.npz", **{**weights, "input.weight": np.zeros((1 << 28,), np.float32)})  # 3 MB, 1 GiB declared
    with zipfile.ZipFile(tmp_path / "forged.npz", "w") as archive:  # a header of 10^15 bytes
        archive.writestr("input.weight.npy", npy_bytes((10**15,), "|u1"))
    for name in ("big", "forged"):
        proc = vampy("zoo", "vdsr", "--weights", str(tmp_path / f"{name}.npz"), "-o", str(tmp_path / name), limit_bytes=MEMORY_LIMIT_BYTES)
        line = one_error_line(proc.stderr)
        assert proc.returncode == 3 and "key 'input.weight' has shape" in line and "expected (64, 1, 3, 3)" in line, proc.stderr


# --- no file content in errors ---


@pytest.fixture
def secret_files(tmp_path: Path) -> dict[str, Path]:
    """A shadow-like file under the names each reader expects."""
    text = f"root:$6${SECRET}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
    files = {suffix: tmp_path / f"shadow{suffix}" for suffix in ("", ".yaml", ".json")}
    for path in files.values():
        path.write_text(text)
    lines = [f"{SECRET}\n", f"- {SECRET}\n", f"{SECRET}: 1\n", f'{{"{SECRET}": 1}}\n', f"x{SECRET}: [\n",
             f"name: !!int {SECRET}\n", f"gt_resize: !!float {SECRET}\n", f"OpType: !!timestamp {SECRET}\n"]
    for k, line in enumerate(lines):
        (tmp_path / f"s{k}.yaml").write_text(line)
    return files


def test_compile_of_a_file_that_is_not_a_yaml_never_echoes_it(tmp_path: Path, secret_files: dict[str, Path],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    candidates = [secret_files[""], *sorted(tmp_path.glob("s*.yaml"))]
    for path in candidates:
        code, err = in_process(["compile", str(path)], capsys)
        assert code == 3 and SECRET not in one_error_line(err), err
    code, err = in_process(["compile", str(secret_files[""])], capsys)
    assert "not a compiler YAML" in err


def test_other_readers_never_echo_a_file_that_is_not_theirs(tmp_path: Path, secret_files: dict[str, Path], model_folder: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    (model_folder / "mod.json").write_text(secret_files[".json"].read_text())
    commands = [
        ["report", str(secret_files[".json"]), "-o", str(tmp_path / "p.html")],
        ["compare", str(secret_files[".json"]), str(secret_files[".json"])],
        ["table", str(model_folder)],
        ["eval", "--preset", "edsr", "--scoring", str(secret_files[".yaml"]), "--gt_dir", str(tmp_path), "--input_npz_path",
         str(tmp_path / "l.txt"), "--out_npz_dir", str(tmp_path)],
        ["vdsp", str(secret_files[".json"])],
    ]
    for path in [secret_files[".yaml"], *sorted(tmp_path.glob("s*.yaml"))]:
        commands.append(["eval", "--preset", "edsr", "--scoring", str(path), "--gt_dir", str(tmp_path), "--input_npz_path",
                         str(tmp_path / "l.txt"), "--out_npz_dir", str(tmp_path)])
    for args in commands:
        code, err = in_process(args, capsys)
        assert code == 3 and SECRET not in err, (args, err)
    for path in [secret_files[".yaml"], *sorted(tmp_path.glob("s*.yaml"))]:
        with pytest.raises(SystemExit) as info:
            main(["vdsp", str(path)])
        both = capsys.readouterr()  # vdsp gives each file's verdict on stdout
        assert info.value.code == 3 and SECRET not in both.out + both.err, (path, both)


# --- the bounded reader's pipe with a live writer still works end to end ---


@pytest.mark.timeout(TIMEOUT_S)
def test_a_report_fed_through_a_pipe_is_read_whole(tmp_path: Path) -> None:
    fifo = tmp_path / "r.json"
    os.mkfifo(fifo)
    text = json.dumps(make_report(0)).encode()

    def feed() -> None:
        with open(fifo, "wb") as fh:  # blocks until vampy opens the read end
            fh.write(text)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    proc = vampy("report", str(fifo), "-o", str(tmp_path / "p.html"))
    writer.join(timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr


def input_bomb(path: Path) -> None:
    """The issue's 1 MB npz whose input_0 declares (1 << 30,) uint8: under the 1 GiB npz limit."""
    np.savez_compressed(path, input_0=np.zeros(1 << 30, np.uint8))


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT_S)
@pytest.mark.parametrize("bomb_line", [0, 1], ids=["first line (read in the parent)", "a later line (read by a worker)"])
def test_run_datalist_refuses_an_input_bomb_from_its_header_under_a_memory_limit(tmp_path: Path, bomb_line: int) -> None:
    model = identity_like_model(tmp_path / "id.onnx", ("batch", 3, 8, 8))
    good = tmp_path / "good.npz"
    np.savez(good, input_0=np.zeros((3, 8, 8), np.uint8))
    bomb = tmp_path / "bomb.npz"
    input_bomb(bomb)
    assert bomb.stat().st_size < 2_000_000
    lines = [good, good, good]
    lines[bomb_line] = bomb
    (tmp_path / "list.txt").write_text("".join(f"{p}\n" for p in lines))
    out = tmp_path / "out"
    proc = vampy("run", "-m", str(model), "--engine", "null", "--datalist", str(tmp_path / "list.txt"), "--path_output", str(out),
                 "-q", limit_bytes=MEMORY_LIMIT_BYTES)
    assert proc.returncode == 6, proc.stderr  # the bomb's line failed; the good lines were written
    failures = json.loads((out / "failures.json").read_text())["failures"]
    assert [f["index"] for f in failures] == [bomb_line] and "1073741824" in failures[0]["reason"], failures
    assert sorted(p.name for p in out.glob("output_*.npz")) == [f"output_{k:06d}.npz" for k in range(3) if k != bomb_line]
