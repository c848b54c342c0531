"""Each `vampy run` flag with a good value (a real tiny run) and a bad one (one line, exit code)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.models import conv_model, token_model
from tests.support.files import vdsp_file


def vampy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vampy", "run", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("flags")
    return conv_model(folder / "mod.onnx", in_ch=1, hw=(16, 16)), vdsp_file(folder)


@pytest.mark.slow
def test_good_values_reach_the_report(model: tuple[Path, Path], tmp_path: Path) -> None:
    onnx_path, vdsp = model
    report = tmp_path / "r.json"
    proc = vampy("-m", str(onnx_path.parent), "--vdsp_params", str(vdsp), "-s", "3,16,16", "--threads", "1", "--warmup", "0",
                 "--seed", "5", "--percentiles", "99.9,75", "-d", "1", "--iterations", "12", "--json", str(report), "-q")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(report.read_text())
    assert data["intra_threads"] == 1 and data["warmup"]["requests"] == 0
    assert data["config"]["seed"] == 5 and data["config"]["device_id"] == 1
    assert list(data["e2e"]["percentiles_us"]) == ["p50", "p75", "p90", "p95", "p99", "p99.9"]
    assert "p99.9 latency:" in proc.stdout and "p75 latency:" in proc.stdout
    assert "devices: [1]" in proc.stdout and any("-d 1" in n for n in data["notes"])


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--threads", "0"], 2, "--threads"),
        (["--warmup", "-1"], 2, "--warmup"),
        (["-b", "0"], 2, "-b/--batch_size"),
        (["-p", "0"], 2, "-p/--processes"),
        (["-t", "0"], 2, "--duration"),
        (["--iterations", "0"], 2, "--iterations"),
        (["--dtype", "float32"], 2, "--dtype"),
        (["--output_dtype", "int8"], 2, "--output_dtype"),
        (["--resume"], 2, "--resume"),
        (["--seed", "x"], 2, "--seed"),
        (["-s", "[[1,2],[3]"], 2, "-s"),
        (["--no_such_flag"], 2, "no_such_flag"),
    ],
)
def test_bad_values(args: list[str], code: int, needle: str) -> None:
    proc = vampy("-m", "whatever.onnx", *args)
    assert proc.returncode == code
    assert needle in proc.stderr and "Traceback" not in proc.stderr


def test_json_to_an_unwritable_place_is_an_output_error(model: tuple[Path, Path], tmp_path: Path) -> None:
    onnx_path, vdsp = model
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    proc = vampy("-m", str(onnx_path), "--vdsp_params", str(vdsp), "-s", "3,16,16", "--iterations", "2",
                 "--json", str(blocker / "r.json"), "-q")
    assert proc.returncode == 7
    assert "r.json" in proc.stderr and "Traceback" not in proc.stderr


def test_token_dtype_is_what_the_device_receives(tmp_path: Path) -> None:
    tok = token_model(tmp_path / "tok.onnx", n_inputs=1, seq_len=8, dtype="int64")
    proc = vampy("-m", str(tok), "-s", "[1,8]", "--dtype", "uint32", "--iterations", "2", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "input[0]: [1,8], dtype:u4" in proc.stdout
    assert "made as uint32 and fed as the model's int64" in proc.stdout
