"""Interruptions and dead workers, provoked for real: the run stops, keeps what it measured,
leaves no orphan processes and exits with the documented code. A test acts on events (workers
started, requests measured, outputs written), never after a sleep; subprocess timeouts only guard
against a hang: no test asserts how long anything took (a busy machine is slow, not wrong)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from contextlib import AbstractContextManager
from pathlib import Path

import psutil
import pytest

from tests.models import slow_model
from tests.support.processes import HANG_GUARD_S, all_workers, assert_no_orphans, measuring_run, wait_for

pytestmark = pytest.mark.slow
LONG_RUN_S = 600  # -t of the runs a test interrupts: no machine gets to its end first


def measuring(tmp_path: Path, processes: int) -> AbstractContextManager[tuple[subprocess.Popen[str], list[psutil.Process]]]:
    """A perf run of a ~2 ms model that would go on for 10 minutes, entered once it is measuring:
    its workers started and 50 requests per worker measured (a count, not a sleep)."""
    model = slow_model(tmp_path / "slow.onnx", ms=2.0)
    args = ["-m", str(model), "-s", "1,384,384", "-p", str(processes), "-t", str(LONG_RUN_S), "--json", str(tmp_path / "r.json"), "-q"]
    return measuring_run(tmp_path, args, processes, at_least=50 * processes)


@pytest.mark.parametrize(("sig", "code", "reason"), [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")])
def test_signal_stops_fast_and_keeps_the_partial_report(tmp_path: Path, sig: signal.Signals, code: int, reason: str) -> None:
    with measuring(tmp_path, processes=2) as (proc, workers):
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=HANG_GUARD_S)  # a run that ignored the signal would go on for 10 minutes
    assert proc.returncode == code, err
    assert out.startswith("INCOMPLETE:") and reason in out
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["complete"] is False and reason in data["incomplete_reason"] and data["samples"] > 0
    assert_no_orphans(workers)


def test_killed_worker_is_noticed_and_reported(tmp_path: Path) -> None:
    with measuring(tmp_path, processes=2) as (proc, workers):
        os.kill(workers[0].pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode == 5
    assert "killed by SIGKILL" in err and "Traceback" not in err
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["complete"] is False and data["failed_workers"][0]["reason"] == "killed by SIGKILL"
    assert data["samples"] > 0  # the surviving worker's measurements are kept
    assert_no_orphans(workers)


def test_hung_request_fails_its_worker_after_timeout(tmp_path: Path) -> None:
    from tests.models import looping_model

    model = looping_model(tmp_path / "loop.onnx", iterations=2_000_000)  # seconds per request
    report = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "vampy", "run", "-m", str(model), "--warmup", "0", "--timeout", "0.5", "--iterations", "3",
         "--json", str(report), "-q"],
        capture_output=True, text=True, timeout=HANG_GUARD_S,
    )
    assert proc.returncode == 5, proc.stderr
    assert "--timeout 0.5 s" in proc.stderr and "instance 0" in proc.stderr
    assert json.loads(report.read_text())["complete"] is False


def test_timeout_flag_validation() -> None:
    proc = subprocess.run([sys.executable, "-m", "vampy", "run", "-m", "x.onnx", "--timeout", "-1"],
                          capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert proc.returncode == 2 and "--timeout" in proc.stderr


def test_killed_datalist_run_keeps_valid_outputs_and_resume_finishes(tmp_path: Path) -> None:
    import numpy as np

    model = slow_model(tmp_path / "slow.onnx", ms=100.0, size=128)  # 100 layers of 128x128: a few ms a request
    inputs = tmp_path / "in"
    inputs.mkdir()
    lines = []
    for i in range(400):
        np.savez(inputs / f"x{i:03d}.npz", input_0=np.full((1, 128, 128), i % 256, np.uint8))
        lines.append(str(inputs / f"x{i:03d}.npz"))
    datalist = tmp_path / "list.txt"
    datalist.write_text("\n".join(lines))
    out = tmp_path / "out"
    args = [sys.executable, "-m", "vampy", "run", "-m", str(model), "--datalist", str(datalist), "--path_output", str(out), "-p", "2", "-q"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        workers = wait_for(lambda: all_workers(proc, 2), "the run's 2 workers", proc)
        # 380 requests are left when 20 outputs exist (a second or more of work): the kill lands mid-run
        wait_for(lambda: len(list(out.glob("*.npz"))) >= 20, "20 outputs", proc)
        os.kill(workers[0].pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=HANG_GUARD_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 5, err
    written = sorted(out.glob("*.npz"))
    assert 0 < len(written) < 400
    for path in written:  # every file present is complete and readable
        assert np.load(path)["output_0"].shape == (1, 1, 128, 128)
    resumed = subprocess.run([*args, "--resume", "--json", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["datalist"]["skipped"] >= len(written) - 2  # a file being renamed at the kill may be redone
    assert sorted(p.name for p in out.glob("*.npz")) == [f"output_{i:06d}.npz" for i in range(400)]
    assert not list(out.glob(".output_*.tmp"))  # the resumed run cleared any temp file the kill left
