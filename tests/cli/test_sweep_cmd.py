"""`vampy sweep` for real on a tiny model (auto, outputs, Ctrl-C) and every flag's bad input."""
from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.models import conv_model
from tests.support.files import vdsp_file
from tests.support.processes import HANG_GUARD_S, MEASURING_CLI, interruptible, measured, wait_for

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def vampy(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vampy", "sweep", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("sweep")
    dynamic = conv_model(folder / "dyn" / "mod.onnx", in_ch=1, dynamic=True)
    fixed = conv_model(folder / "fixed" / "mod.onnx", in_ch=1, hw=(16, 16))
    return dynamic, fixed, vdsp_file(folder)


@pytest.mark.slow
@pytest.mark.timeout(900)  # a hang guard: up to 9 short runs, each a fresh worker process (98 s seen on a loaded 2-core machine)
def test_small_real_auto_sweep_writes_everything(model: tuple[Path, Path, Path], tmp_path: Path) -> None:
    dynamic, _, vdsp = model
    out = {k: tmp_path / f"s.{k}" for k in ("csv", "json", "png")}
    proc = vampy("-m", str(dynamic.parent / "mod"), "--vdsp_params", str(vdsp), "-s", "[3,16,16]", "--instances", "auto",
                 "-p", "1", "-b", "1,2", "--threads", "1", "--point_iterations", "200",  # a count per point, no duration cap
                 "--max_p99_ms", "60000", "--csv", str(out["csv"]), "--json", str(out["json"]), "--plot", str(out["png"]), timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out["json"].read_text())
    assert data["kind"] == "sweep" and data["mode"] == "auto" and data["complete"]
    assert data["points"][1]["role"] == "noise repeat" and data["noise"] is not None
    assert 2 <= data["points_tried"] <= 8 and data["space_size"] == 8
    rows = list(csv.DictReader(out["csv"].open()))
    assert len(rows) == len(data["points"])
    assert out["png"].read_bytes()[:8] == PNG_MAGIC and out["png"].stat().st_size > 1024
    win = data["winner"]
    # a bound every point meets on any machine (a sub-millisecond request): the winner is the fastest point that meets it
    assert win["e2e_p99_ms"] <= 60000 and win["throughput_qps"] == max(p["throughput_qps"] for p in data["points"] if p["meets_bound"])
    assert data["winner_command"] in proc.stdout
    assert f"-i {win['instances']} -p 1 -b {win['batch']} --threads 1" in data["winner_command"]
    assert "vampy sweep (auto)" in proc.stdout and f"tried {data['points_tried']} of the 8 points" in proc.stdout
    assert "noise repeat" in proc.stderr  # the line per point


@pytest.mark.slow
def test_ctrl_c_keeps_the_finished_points(model: tuple[Path, Path, Path], tmp_path: Path) -> None:
    dynamic, _, vdsp = model
    csv_path, json_path, counter = tmp_path / "s.csv", tmp_path / "s.json", tmp_path / "measured.txt"
    proc = subprocess.Popen([sys.executable, str(MEASURING_CLI), str(counter), "sweep", "-m", str(dynamic), "--vdsp_params", str(vdsp),
                             "-s", "3,16,16", "-i", "1-4", "-p", "1", "-b", "1", "--threads", "1", "--point_duration", "1.5", "-q",
                             "--csv", str(csv_path), "--json", str(json_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=interruptible)
    try:
        # Events, not sleeps: the first point's row, then the second point measuring (the count of measured
        # requests grows past the first point's). The interrupt lands inside the second point's 1.5 s of
        # measurement (a duration is a lower bound on a busy machine too), never while its worker starts.
        wait_for(lambda: csv_path.exists() and len(csv_path.read_text().splitlines()) >= 2, "the first finished point", proc)
        first = measured(counter)
        wait_for(lambda: measured(counter) > first, "the second point measuring", proc)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=HANG_GUARD_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    data = json.loads(json_path.read_text())
    assert not data["complete"] and data["interrupted"] == "interrupted (Ctrl-C)"
    assert 1 <= len(data["points"]) < 4 and all(p["error"] is None for p in data["points"])
    assert len(list(csv.DictReader(csv_path.open()))) == len(data["points"])
    assert "finished point(s) kept" in stderr and "Traceback" not in stderr
    assert "winner:" in stdout


def test_fixed_batch_model_refuses_other_batches(model: tuple[Path, Path, Path]) -> None:
    _, fixed, vdsp = model
    proc = vampy("-m", str(fixed), "--vdsp_params", str(vdsp), "-s", "3,16,16", "-b", "1,2")
    assert proc.returncode == 2 and "fixed at 1" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--instances", "0"], 2, "--instances"),
        (["-p", "x"], 2, "--processes"),
        (["-b", "4-1"], 2, "--batch"),
        (["--threads", "1,,2"], 2, "--threads"),
        (["--max_p99_ms", "-1"], 2, "--max_p99_ms"),
        (["--search", "random"], 2, "--search"),
        (["--point_duration", "0"], 2, "--duration"),
        (["--point_iterations", "0"], 2, "--iterations"),
        (["--warmup", "-1"], 2, "--warmup"),
        (["-s", "[3,16"], 2, "-s"),
        (["--plot", "out.jpg"], 2, "--plot"),
        (["--csv", "same.out", "--json", "same.out"], 2, "--csv and --json"),
        (["--no_such_flag"], 2, "no_such_flag"),
    ],
)
def test_bad_values(args: list[str], code: int, needle: str) -> None:
    proc = vampy("-m", "whatever.onnx", *args)
    assert proc.returncode == code
    assert needle in proc.stderr and "Traceback" not in proc.stderr


def test_missing_model_and_unwritable_outputs(model: tuple[Path, Path, Path], tmp_path: Path) -> None:
    dynamic, _, vdsp = model
    proc = vampy("-m", str(tmp_path / "nope" / "mod"), "-q")
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    proc = vampy("-m", str(dynamic), "--vdsp_params", str(vdsp), "-s", "3,16,16", "--csv", str(tmp_path / "no" / "s.csv"))
    assert proc.returncode == 7 and "--csv" in proc.stderr
    proc = vampy("-m", str(dynamic), "--vdsp_params", str(vdsp), "-s", "3,16,16", "--plot", str(tmp_path / "no" / "s.png"))
    assert proc.returncode == 7 and "--plot" in proc.stderr
