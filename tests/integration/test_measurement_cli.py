"""Issue 7 flags through the real CLI on a tiny model."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.models import conv_model
from tests.support.files import vdsp_file
from vampy.measure.timesheet import read

pytestmark = pytest.mark.slow


def vampy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vampy", "run", *args], capture_output=True, text=True, timeout=120)


def test_profile_export_and_breakdown(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m.onnx", in_ch=1, hw=(16, 16))
    times, report = tmp_path / "times.csv", tmp_path / "r.json"
    proc = vampy("-m", str(model), "--vdsp_params", str(vdsp_file(tmp_path)), "-s", "3,16,16", "-p", "2", "-i", "2", "--iterations", "10",
                 "--profile", str(tmp_path / "prof"), "--export_times", str(times), "--json", str(report), "-q")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(report.read_text())
    files = data["profile"]["files"]
    assert len(files) == 4 and all(Path(f).is_file() and Path(f).parent == tmp_path / "prof" for f in files)
    ops = {o["op_type"]: o for o in data["profile"]["top_ops"]}
    assert "Conv" in ops and ops["Conv"]["calls"] >= 20
    assert "top operators" in proc.stdout and "Conv" in proc.stdout
    assert set(data["breakdown"]) == {"queue", "preprocess", "model", "output"}
    assert "latency breakdown (us)" in proc.stdout
    cols = read(times)
    assert cols["worker"].size == data["requests"] == 20
    assert sorted(set(cols["worker"].tolist())) == [0, 1] and set(cols["instance"].tolist()) <= {0, 1}
    assert ((cols["arrival_ns"] <= cols["start_ns"]) & (cols["start_ns"] <= cols["model_start_ns"])
            & (cols["model_start_ns"] <= cols["model_end_ns"]) & (cols["model_end_ns"] <= cols["end_ns"])).all()
    e2e_us = (cols["end_ns"] - cols["arrival_ns"]) / 1e3
    assert max(e2e_us) == pytest.approx(data["e2e"]["max_us"])


def test_open_loop_run(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m.onnx", in_ch=1, hw=(16, 16))
    report = tmp_path / "r.json"
    proc = vampy("-m", str(model), "--vdsp_params", str(vdsp_file(tmp_path)), "-s", "3,16,16", "--rate", "200", "--arrival", "constant",
                 "--iterations", "100", "--json", str(report), "-q")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(report.read_text())
    assert data["samples"] == 100 and data["open_loop"]["target_qps"] == 200
    # a constant schedule of 100 requests at 200/s spans 0.495 s: throughput can't beat the target
    assert data["throughput_qps"] <= 205
    assert "open loop (constant): target 200.0000 qps" in proc.stdout


@pytest.mark.parametrize(("args", "needle"), [
    (["--arrival", "constant"], "--arrival needs --rate"),
    (["--rate", "0"], "--rate"),
    (["--rate", "5", "--datalist", "x.txt"], "--rate is for performance mode"),
    (["--export_times", "t.txt"], "--export_times"),
])
def test_bad_measurement_flags(args: list[str], needle: str) -> None:
    proc = vampy("-m", "x.onnx", *args)
    assert proc.returncode == 2 and needle in proc.stderr
