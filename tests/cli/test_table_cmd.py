"""`vampy table` as a user runs it: stdout, --markdown, --csv, notes on stderr, exit codes."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.models import conv_model
from tests.support.files import vdsp_file
from tests.support.reports import compile_json, eval_json, run_json

TIMEOUT_S = 120


def vampy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vampy", *args], capture_output=True, text=True, timeout=TIMEOUT_S, cwd=cwd)


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    """plain/: an ONNX model without mod.json (GFLOPs counted from the graph); int8/: a compiled one."""
    conv_model(tmp_path / "plain" / "mod.onnx", in_ch=1, out_ch=1, hw=(8, 8))
    compile_json(tmp_path / "int8", "int8", calibration={"method": "max", "per_channel": False, "samples": 3})
    run_json(tmp_path / "run_plain.json", "plain/mod.onnx", 123.456, 8_000.0, 9_500.0)
    run_json(tmp_path / "run_int8.json", "int8/mod.onnx", 45.0, 20_000.0, 25_000.0, datalist={"path_output": "out"})
    eval_json(tmp_path / "eval_int8.json", "out", 30.5, 0.87)
    return tmp_path


def test_writes_markdown_and_csv(work: Path) -> None:
    proc = vampy("table", "plain/", "int8/", "--run", "run_plain.json", "--run", "run_int8.json", "--eval", "eval_int8.json",
                 "--markdown", "t.md", "--csv", "t.csv", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert (work / "t.md").read_text() == proc.stdout
    lines = proc.stdout.splitlines()
    # 8x8 output, 1x1x3x3 kernel: 576 MACs, 10 params (weight + bias)
    assert lines[2] == ("| plain | onnxruntime | - | - | 1x1x8x8 | 0.000 | 0.000 | - | - | 123.46 | 8.00 | 9.50 | "
                        + f"{(work / 'plain/mod.onnx').stat().st_size / 1e6:.3f} |")
    assert lines[3].startswith("| int8 | onnxruntime | int8 | max, per-tensor, 3 samples | 1x1x256x256 | 4.000 | 0.664 | 30.500 | 0.8700 "
                               "| 45.00 | 20.00 | 25.00 |")
    assert "- GFLOPs: 1 MAC = 2 FLOPs" in proc.stdout
    with (work / "t.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert float(rows[0]["gflops"]) == 576 * 2 / 1e9 and float(rows[0]["params_m"]) == 10 / 1e6
    assert rows[1]["psnr_db"] == "30.5" and rows[0]["psnr_db"] == ""


def test_unquoted_eval_glob_and_notes(work: Path) -> None:
    eval_json(work / "eval_zz.json", "elsewhere", 20.0, 0.5)
    # what the shell makes of `--eval eval_*.json`: the second file arrives as a positional word
    proc = vampy("table", "plain", "int8", "--run", "run_int8.json", "--eval", "eval_int8.json", "eval_zz.json", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert "| 30.500 |" in proc.stdout
    assert proc.stderr == (
        "vampy: note: --eval eval_zz.json: left out, its --out_npz_dir elsewhere is the --path_output of no matched run report; "
        "pair it with --eval MODELDIR=eval_zz.json\n"
    )


@pytest.mark.parametrize(("args", "code", "message"), [
    (["plain", "--run", "eval_int8.json"], 3, "vampy: error: --run eval_int8.json: is a 'eval' report, expected 'run'\n"),
    (["plain", "--eval", "run_plain.json"], 3, "vampy: error: --eval run_plain.json: is a 'run' report, expected 'eval'\n"),
    (["plain", "--eval", "missing.json"], 3, "vampy: error: --eval missing.json: no such report file\n"),
    (["nowhere/"], 3, "vampy: error: nowhere: no such folder or file; give model folders (e.g. deploy_weights/*/) and report files\n"),
    (["plain", "--eval", "int9=eval_int8.json"], 2,
     "vampy: error: --eval int9=eval_int8.json: int9 is not one of the model folders given (plain); pair reports with those\n"),
    (["plain", "--markdown", "t.out", "--csv", "t.out"], 2, "vampy: error: --markdown and --csv both name t.out; give two files\n"),
    (["plain", "--csv", "no/such/dir/t.csv"], 7, None),
])
def test_errors_are_one_line_with_exit_code(work: Path, args: list[str], code: int, message: str | None) -> None:
    proc = vampy("table", *args, cwd=work)
    assert proc.returncode == code, proc.stderr
    if message is not None:
        assert proc.stderr == message
    else:
        assert proc.stderr.startswith("vampy: error: --csv no/such/dir/t.csv: cannot write") and proc.stderr.count("\n") == 1


def test_no_arguments_shows_help(work: Path) -> None:
    proc = vampy("table", cwd=work)
    assert "Usage: vampy table" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_real_run_report(tmp_path: Path) -> None:
    conv_model(tmp_path / "m" / "mod.onnx", in_ch=1, hw=(16, 16))
    proc = vampy("run", "-m", "m/mod", "--vdsp_params", str(vdsp_file(tmp_path)), "-s", "3,16,16", "--iterations", "20",
                 "--json", "run.json", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = vampy("table", "m", "--run", "run.json", "--csv", "t.csv", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    row = next(csv.DictReader((tmp_path / "t.csv").open(newline="")))
    report = json.loads((tmp_path / "run.json").read_text())
    assert float(row["throughput_qps"]) == report["throughput_qps"] > 0
    assert float(row["e2e_p50_ms"]) == report["e2e"]["percentiles_us"]["p50"] / 1e3
    assert row["run_complete"] == "true" and row["run_report"] == "run.json"
