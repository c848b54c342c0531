"""`vampy run --engine openvino` for real: spawned workers, real OpenVINO, tiny models; and the
engine flags refused where they do not belong."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
import psutil
import pytest

from tests.models import conv_model, slow_model
from tests.support.files import expected_output, make_inputs, vdsp_file
from tests.support.processes import HANG_GUARD_S, assert_no_orphans, measuring_run

TIMEOUT_S = 180


def vampy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vampy", *args], capture_output=True, text=True, timeout=TIMEOUT_S)


needs_openvino = pytest.mark.skipif(
    __import__("importlib").util.find_spec("openvino") is None, reason="the openvino extra is not installed (pip install 'vampy[openvino]')"
)


@needs_openvino
@pytest.mark.slow
def test_perf_mode_two_processes_two_instances(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m" / "mod.onnx", in_ch=1, hw=(16, 16))
    report = tmp_path / "r.json"
    proc = vampy("run", "-m", str(model), "--vdsp_params", str(vdsp_file(tmp_path)), "--engine", "openvino", "--infer_precision", "f32",
                 "-i", "2", "-p", "2", "-s", "3,16,16", "--iterations", "12", "--warmup", "1", "--json", str(report), "-q")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(report.read_text())
    assert r["complete"] and r["samples"] == 24 and [p["samples"] for p in r["per_process"]] == [12, 12]
    import openvino

    assert r["engine"].pop("build_s") > 0
    assert r["engine"] == {"engine": "openvino", "version": openvino.get_version(), "device": "cpu", "precision": "fp32",
                           "intra_threads": r["intra_threads"], "providers": ["CPU"], "engine_cache": None}
    assert r["config"]["engine"] == "openvino" and r["config"]["infer_precision"] == "f32"
    assert f"engine: openvino {openvino.get_version()}, cpu (CPU), precision fp32; session built in " in proc.stdout


@needs_openvino
@pytest.mark.slow
@pytest.mark.parametrize("native", [False, True], ids=["vdsp-size", "native-size"])
def test_datalist_outputs_equal_onnxruntimes(tmp_path: Path, native: bool) -> None:
    model = conv_model(tmp_path / "m.onnx", in_ch=1, dynamic=True)
    vdsp = vdsp_file(tmp_path)
    inputs = make_inputs(tmp_path / "in", 6)
    datalist = tmp_path / "list.txt"
    datalist.write_text("\n".join(str(p) for p in inputs) + "\n")
    out = tmp_path / "out"
    proc = vampy("run", "-m", str(model), "--vdsp_params", str(vdsp), "--engine", "openvino", "--infer_precision", "f32",
                 "-i", "2", "p", "2", "-b", "2", "--datalist", str(datalist), "--path_output", str(out), "-q",
                 *(["--native_size"] if native else []))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.glob("*.npz")) == [f"output_{i:06d}.npz" for i in range(6)]
    for i, npz in enumerate(inputs):
        got = np.load(out / f"output_{i:06d}.npz", allow_pickle=False)["output_0"]
        want = expected_output(model, vdsp, npz, native=native)
        assert got.shape == want.shape  # native: each image's own size, through OpenVINO's dynamic shapes
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@needs_openvino
@pytest.mark.slow
def test_profile_lists_openvinos_layers(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m" / "mod.onnx", in_ch=1, hw=(16, 16))
    proc = vampy("run", "-m", str(model), "--vdsp_params", str(vdsp_file(tmp_path)), "--engine", "openvino", "-s", "3,16,16",
                 "--iterations", "5", "--profile", str(tmp_path / "prof"), "--json", str(tmp_path / "r.json"), "-q")
    assert proc.returncode == 0, proc.stderr
    profile = json.loads((tmp_path / "r.json").read_text())["profile"]
    assert any(op["op_type"] == "Convolution" for op in profile["top_ops"])
    assert all(Path(f).name.startswith("worker0_instance0_openvino_") for f in profile["files"])


def measuring_openvino(tmp_path: Path, processes: int) -> AbstractContextManager[tuple[subprocess.Popen[str], list[psutil.Process]]]:
    """An OpenVINO perf run of a ~2 ms model that would go on for 10 minutes, entered once its workers
    exist and it has measured 50 requests per worker (an event, never a sleep)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    model = slow_model(tmp_path / "slow.onnx", ms=2.0)
    args = ["-m", str(model), "-s", "1,384,384", "-p", str(processes), "-t", "600", "--engine", "openvino",
            "--json", str(tmp_path / "r.json"), "-q"]
    return measuring_run(tmp_path, args, processes, at_least=50 * processes)


@needs_openvino
@pytest.mark.slow
def test_killed_worker_and_ctrl_c(tmp_path: Path) -> None:
    with measuring_openvino(tmp_path / "kill", processes=2) as (proc, workers):
        os.kill(workers[0].pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode == 5 and "killed by SIGKILL" in err and "Traceback" not in err
    data = json.loads((tmp_path / "kill" / "r.json").read_text())
    assert data["failed_workers"][0]["reason"] == "killed by SIGKILL" and data["samples"] > 0
    assert_no_orphans(workers)

    with measuring_openvino(tmp_path / "int", processes=1) as (proc, workers):
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode == 130 and out.startswith("INCOMPLETE:")
    data = json.loads((tmp_path / "int" / "r.json").read_text())
    assert data["complete"] is False and data["samples"] > 0 and data["engine"]["engine"] == "openvino"
    assert_no_orphans(workers)


@pytest.mark.parametrize(("args", "message"), [
    (["--infer_precision", "bf16"], "--infer_precision is an OpenVINO option"),
    (["--engine", "openvino", "--provider", "cuda"], "--provider cuda is an ONNX Runtime option"),
    (["--engine", "tvm"], "--engine tvm: unknown engine; choose one of onnxruntime, openvino"),
    (["--engine", "openvino", "--infer_precision", "int4"], "--infer_precision int4: choose one of f32, bf16, f16"),
    (["--provider", "rocm"], "--provider rocm: choose one of cpu, cuda, tensorrt"),
])
def test_engine_flags_only_with_their_engine(tmp_path: Path, args: list[str], message: str) -> None:
    model = conv_model(tmp_path / "mod.onnx")
    proc = vampy("run", "-m", str(model), "-s", "1,8,8", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_cuda_is_refused_in_one_line_where_onnxruntime_has_none(tmp_path: Path) -> None:
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this machine's ONNX Runtime has CUDA: the refusal cannot be provoked here")
    model = conv_model(tmp_path / "mod.onnx")
    for provider in ("cuda", "tensorrt"):
        proc = vampy("run", "-m", str(model), "-s", "1,8,8", "--provider", provider, "-d", "0", "--iterations", "2")
        assert proc.returncode == 2, proc.stderr
        assert "has no " in proc.stderr and "pip install 'vampy[gpu]'" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
        assert proc.stdout == ""  # refused before any work: nothing measured, nothing printed


@pytest.mark.parametrize("engine", ["onnxruntime", pytest.param("openvino", marks=needs_openvino)])
def test_a_model_the_engine_cannot_load_is_exit_4_in_one_line(tmp_path: Path, engine: str) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("NoSuchOp", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = tmp_path / "bad_op.onnx"
    onnx.save(helper.make_model(graph), str(model))
    proc = vampy("run", "-m", str(model), "-s", "4", "--iterations", "2", "--engine", engine)
    assert proc.returncode == 4, proc.stderr  # as a model that fails in the parent: the worker's ModelError, not "worker failed"
    assert proc.stderr.startswith(f"vampy: error: model {model}: ") and "NoSuchOp" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


@needs_openvino
@pytest.mark.slow
def test_sweep_over_engines_ranks_both_and_says_what_each_computed_in(tmp_path: Path) -> None:
    import csv

    model = conv_model(tmp_path / "m" / "mod.onnx", in_ch=1, dynamic=True)
    out = {k: tmp_path / f"s.{k}" for k in ("csv", "json")}
    proc = vampy("sweep", "-m", str(model), "--vdsp_params", str(vdsp_file(tmp_path)), "-s", "[3,16,16]", "-i", "1", "-p", "1", "-b", "1",
                 "--threads", "1", "--point_iterations", "30", "--engines", "onnxruntime,openvino,openvino:f32",
                 "--csv", str(out["csv"]), "--json", str(out["json"]), "-q")
    assert proc.returncode == 0, proc.stderr
    points = json.loads(out["json"].read_text())["points"]
    got = [(p["engine"], p["infer_precision"], p["precision"]) for p in points]
    assert got[0] == ("onnxruntime", "", "fp32") and got[2] == ("openvino", "f32", "fp32")
    assert got[1][:2] == ("openvino", "") and got[1][2] in ("bf16", "fp32")  # the CPU's own choice, as OpenVINO reported it
    assert [r["precision"] for r in csv.DictReader(out["csv"].open())] == [g[2] for g in got]
    assert f"openvino ({got[1][2]})" in proc.stdout and "openvino:f32" in proc.stdout
