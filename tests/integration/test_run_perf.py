"""`vampy run` in performance mode, for real: spawned workers, real ONNX Runtime, tiny models."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.models import conv_model, token_model
from tests.support.files import vdsp_file

TIMEOUT_S = 120


def vampy(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vampy", *args], capture_output=True, text=True, timeout=TIMEOUT_S, cwd=cwd)


def run_json(tmp_path: Path, *args: str) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    report = tmp_path / "report.json"
    proc = vampy("run", *args, "--json", str(report), "-q")
    assert proc.returncode == 0, proc.stderr
    return json.loads(report.read_text()), proc


def check_invariants(r: dict[str, Any]) -> None:
    for block in (r["e2e"], r["model_latency"]):
        p = block["percentiles_us"]
        assert block["min_us"] <= p["p50"] <= p["p90"] <= p["p95"] <= p["p99"] <= block["max_us"]
    assert r["throughput_qps"] == pytest.approx(r["samples"] / r["forward_time_s"], rel=1e-9)
    assert r["e2e"]["avg_us"] >= r["model_latency"]["avg_us"]  # e2e contains the model call
    assert r["complete"] and r["incomplete_reason"] is None
    assert r["schema_version"] == 1 and r["kind"] == "run"


@pytest.mark.slow
def test_two_processes_two_instances(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m" / "mod.onnx", in_ch=1, hw=(16, 16))
    r, proc = run_json(tmp_path, "-m", str(model.parent / "mod"), "--vdsp_params", str(vdsp_file(tmp_path)),
                       "-i", "2", "-p", "2", "-b", "1", "-s", "3,16,16", "--iterations", "20", "--warmup", "2")
    assert r["samples"] == 40 and r["requests"] == 40
    assert [p["samples"] for p in r["per_process"]] == [20, 20]
    assert len({p["pid"] for p in r["per_process"]}) == 2
    for p in r["per_process"]:
        assert sum(p["requests_per_instance"]) == 20 and len(p["requests_per_instance"]) == 2
    assert r["warmup"]["requests"] == 2 * 2 * 2
    assert sum(r["histograms"]["e2e"]["counts"]) == 40
    assert r["intra_threads"] >= 1 and r["resources"]["logical_cores"] >= 1
    check_invariants(r)
    # the text report on stdout is vamp's layout, parseable by vamp users' regex
    assert re.search(r"\(qps\): \d+.\d+", proc.stdout)
    assert "number of process:2" in proc.stdout and "- number of instances in each device: 2" in proc.stdout
    assert "input[0]: [3,16,16], dtype:u1" in proc.stdout
    assert "output[0]: [1,1,16,16], dtype:f4" in proc.stdout


@pytest.mark.slow
def test_batches_round_up_and_duration_stop(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "dyn.onnx", in_ch=1, dynamic=True)
    r, _ = run_json(tmp_path, "-m", str(model), "--vdsp_params", str(vdsp_file(tmp_path)), "-b", "3", "-s", "[3,20,24]",
                    "--iterations", "10")
    assert r["requests"] == 4 and r["samples"] == 12  # ceil(10 / 3) full batches
    check_invariants(r)
    # -t alone has no request count: the run ends only because its duration does. How long it took is
    # the machine's business (house rule 8); that it stops at the deadline is tests/unit/test_measurement.py's,
    # under a fake clock.
    r, _ = run_json(tmp_path, "-m", str(model), "--vdsp_params", str(vdsp_file(tmp_path)), "-s", "3,16,16", "-t", "0.5")
    assert r["samples"] >= 1 and r["config"]["duration_s"] == 0.5 and r["config"]["iterations"] is None
    check_invariants(r)


@pytest.mark.slow
def test_token_inputs_pass_through(tmp_path: Path) -> None:
    model = token_model(tmp_path / "tok.onnx", n_inputs=2, seq_len=16)
    bert = tmp_path / "bert.json"
    bert.write_text(json.dumps({"OpType": "BERT_EMBEDDING_OP"}))
    r, proc = run_json(tmp_path, "-m", str(model), "--vdsp_params", str(bert), "-s", "[[1,16],[1,16]]", "--iterations", "8",
                       "--dtype", "int32")
    assert r["samples"] == 8
    assert "input[1]: [1,16], dtype:i4" in proc.stdout


@pytest.mark.slow
def test_vamp_command_line_as_typed(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "deploy" / "mod.onnx", in_ch=1, hw=(16, 16))
    vdsp = vdsp_file(tmp_path)
    proc = vampy("run", f"-m{model.parent / 'mod'}", str(vdsp), "-i", "1", "p", "1", "-b", "1", "-s", "[3,", "16,", "16]",
                 "--iterations", "4", "-d", "0", "--hwconfig", "x", "--forward_mode", "1", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "read as --vdsp_params" in proc.stderr and "--hwconfig" in proc.stderr
    assert "samples: 4" in proc.stdout


def test_dry_run_loads_nothing_and_reports_missing_files(tmp_path: Path) -> None:
    proc = vampy("run", "--dry_run", "-m", str(tmp_path / "nope" / "mod"), "--vdsp_params", str(tmp_path / "x.json"),
                 "-i", "2", "p", "2", "-s", "3,64,64")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["config"]["processes"] == 2 and out["config"]["instances"] == 2
    assert out["config"]["shapes"] == [[3, 64, 64]]
    assert "model_error" in out["files"] and "vdsp_params_error" in out["files"]


@pytest.mark.parametrize(
    ("args", "code", "pattern"),
    [
        (["-i", "0"], 2, "-i/--instance 0"),
        (["-s", "3x256"], 2, "-s"),
        (["--path_output", "out"], 2, "--path_output needs --datalist"),
        (["--percentiles", "120"], 2, "--percentiles"),
    ],
)
def test_bad_flags_exit_2_with_one_line(tmp_path: Path, args: list[str], code: int, pattern: str) -> None:
    proc = vampy("run", "-m", "x.onnx", *args)
    assert proc.returncode == code
    assert pattern in proc.stderr and "Traceback" not in proc.stderr


def test_missing_model_lists_paths_tried(tmp_path: Path) -> None:
    proc = vampy("run", "-m", str(tmp_path / "deploy" / "mod"), "-s", "3,16,16")
    assert proc.returncode == 3
    assert "mod.onnx" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_shape_the_model_cannot_take(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m.onnx", in_ch=1, hw=(16, 16))
    proc = vampy("run", "-m", str(model), "--vdsp_params", str(vdsp_file(tmp_path, out_hw=32)), "-s", "3,16,16")
    assert proc.returncode == 4
    assert "(1,1,32,32)" in proc.stderr and "(1,1,16,16)" in proc.stderr


def test_bad_vdsp_is_an_input_error(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m.onnx", in_ch=1, hw=(16, 16))
    bad = tmp_path / "bad.json"
    bad.write_text('{"OpType": "NO_SUCH_OP"}')
    proc = vampy("run", "-m", str(model), "--vdsp_params", str(bad))
    assert proc.returncode == 3 and "NO_SUCH_OP" in proc.stderr and "Traceback" not in proc.stderr
    proc = vampy("run", "-m", str(model), "--vdsp_params", str(bad), "--debug")
    assert "Traceback" in proc.stderr


def test_batch_larger_than_fixed_model_batch(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m.onnx", in_ch=1, hw=(16, 16))
    proc = vampy("run", "-m", str(model), "--vdsp_params", str(vdsp_file(tmp_path)), "-b", "4", "-s", "3,16,16")
    assert proc.returncode == 4 and "-b must match" in proc.stderr
