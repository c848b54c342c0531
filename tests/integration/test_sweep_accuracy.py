"""`vampy sweep --accuracy_datalist DL --min_snr_db X`: each engine checked once on real data against
the reference's outputs; an engine under the gate keeps its points, marked, and cannot win. The null
engine (zeros: SNR 0 dB against any non-zero reference) is the engine that must fail, on any machine."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.models import identity_like_model
from tests.support.processes import HANG_GUARD_S

pytestmark = pytest.mark.slow


def _data(tmp_path: Path) -> tuple[Path, Path]:
    model = identity_like_model(tmp_path / "id.onnx", ("batch", 3, 8, 8))
    rng = np.random.default_rng(0)
    lines = []
    for i in range(4):
        np.savez(tmp_path / f"x{i}.npz", input_0=rng.integers(1, 255, (3, 8, 8), dtype=np.uint8))
        lines.append(str(tmp_path / f"x{i}.npz"))
    (tmp_path / "list.txt").write_text("\n".join(lines) + "\n")
    return model, tmp_path / "list.txt"


def _sweep(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    model, listing = _data(tmp_path)
    args = ["-m", str(model), "-s", "3,8,8", "-i", "1", "-p", "1", "-b", "1", "--threads", "1", "--point_iterations", "20",
            "--engines", "onnxruntime,null", "--accuracy_datalist", str(listing), "--json", str(tmp_path / "s.json"),
            "--csv", str(tmp_path / "s.csv"), "-q", *extra]
    return subprocess.run([sys.executable, "-m", "vampy", "sweep", *args], capture_output=True, text=True, timeout=HANG_GUARD_S)


def test_an_engine_under_the_gate_is_listed_and_cannot_win(tmp_path: Path) -> None:
    proc = _sweep(tmp_path, "--min_snr_db", "20")
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["accuracy"] == [
        {"engine": "onnxruntime", "accuracy": "pass", "drift_min_snr_db": "inf"},  # the reference itself: identical outputs
        {"engine": "null", "accuracy": "fail", "drift_min_snr_db": 0.0},  # zeros: sum r^2 / sum (r - 0)^2 = 1
    ]
    by_engine = {p["engine"]: p for p in data["points"]}
    assert by_engine["null"]["meets_bound"] is False and by_engine["null"]["winner"] is False
    assert data["winner"]["engine"] == "onnxruntime"  # whichever was faster: null is excluded
    assert "EXCLUDED" in proc.stdout and "under accuracy gate" in proc.stdout
    assert (tmp_path / "s.csv").read_text().splitlines()[0].endswith(",accuracy,drift_min_snr_db")


def test_the_reference_model_is_what_each_engine_is_compared_with(tmp_path: Path) -> None:
    other = identity_like_model(tmp_path / "ref" / "mod.onnx", ("batch", 3, 8, 8))
    # A gate no finite SNR meets: only outputs identical to the reference model's pass it.
    proc = _sweep(tmp_path, "--min_snr_db", "1e9", "--reference_model", str(other))
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "s.json").read_text())
    assert [c["accuracy"] for c in data["accuracy"]] == ["pass", "fail"]  # inf >= 1e9: identical outputs still pass
    assert data["winner"]["engine"] == "onnxruntime"


@pytest.mark.parametrize(("extra", "needle"), [
    (["--reference_model", "x.onnx"], "--accuracy_datalist"),
])
def test_accuracy_flags_that_do_not_go_together(tmp_path: Path, extra: list[str], needle: str) -> None:
    model, _ = _data(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "vampy", "sweep", "-m", str(model), *extra], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr


def test_the_gate_needs_its_datalist(tmp_path: Path) -> None:
    model, _ = _data(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "vampy", "sweep", "-m", str(model), "--min_snr_db", "30"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--accuracy_datalist and --min_snr_db go together" in proc.stderr
