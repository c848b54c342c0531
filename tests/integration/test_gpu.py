"""ONNX Runtime's CUDA and TensorRT providers, on a machine that has them (`pip install 'vampy[gpu]'`
and an NVIDIA GPU). Everywhere else these tests skip with the reason: the GPU path is then untested."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.models import conv_model
from tests.support.files import expected_output, make_inputs, vdsp_file


def _providers() -> list[str]:
    try:
        import onnxruntime
    except ImportError:
        return []
    return list(onnxruntime.get_available_providers())


def needs(provider: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(provider not in _providers(),
                              reason=f"no {provider} in this ONNX Runtime (needs vampy[gpu] and an NVIDIA GPU)")


def vampy(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vampy", *args], capture_output=True, text=True, timeout=600,
                          env=None if env is None else {**os.environ, **env})


@pytest.mark.parametrize("provider", ["cuda", "tensorrt"])
def test_perf_mode_on_the_gpu_reports_the_gpu(tmp_path: Path, provider: str) -> None:
    wanted = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}[provider]
    if wanted not in _providers():
        pytest.skip(f"no {wanted} in this ONNX Runtime (needs vampy[gpu] and an NVIDIA GPU)")
    model = conv_model(tmp_path / "m" / "mod.onnx", in_ch=1, hw=(64, 64))
    report = tmp_path / "r.json"
    proc = vampy("run", "-m", str(model), "--vdsp_params", str(vdsp_file(tmp_path, 64)), "--provider", provider, "-d", "0",
                 "-s", "3,64,64", "--iterations", "50", "--json", str(report), "-q")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(report.read_text())
    engine = r["engine"]
    assert engine["device"] == f"{provider}:0" and engine["providers"][0] in (wanted, "CUDAExecutionProvider")
    # The model phase split as trtexec splits it; the three parts add up to the model phase.
    split = r["model_split"]
    assert set(split) == {"host_to_device", "compute", "device_to_host"} and all(p["count"] == 50 for p in split.values())
    assert split["host_to_device"]["avg_us"] > 0 and split["device_to_host"]["avg_us"] > 0
    assert sum(p["avg_us"] for p in split.values()) == pytest.approx(r["breakdown"]["model"]["avg_us"], rel=1e-6)
    assert "model split on the device (us)" in proc.stdout
    assert engine["build_s"] > 0
    if provider == "tensorrt":
        assert engine["engine_cache"] in ("built", "reused") and "TensorRT engine" in proc.stdout


@needs("TensorrtExecutionProvider")
def test_a_second_tensorrt_run_reuses_the_cached_engine(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m" / "mod.onnx", in_ch=1, hw=(32, 32))
    caches = []
    for k in range(2):
        report = tmp_path / f"r{k}.json"
        proc = vampy("run", "-m", str(model), "--vdsp_params", str(vdsp_file(tmp_path, 32)), "--provider", "tensorrt",
                     "-s", "3,32,32", "--iterations", "5", "--warmup", "0", "--json", str(report), "-q",
                     env={"XDG_CACHE_HOME": str(tmp_path / "cache")})  # an empty cache: the first run must build
        assert proc.returncode == 0, proc.stderr
        caches.append(json.loads(report.read_text())["engine"]["engine_cache"])
    assert caches == ["built", "reused"]  # --warmup 0: the build still ran before the measurement


@needs("CUDAExecutionProvider")
def test_datalist_outputs_on_cuda_equal_the_cpus(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m.onnx", in_ch=1, dynamic=True)
    vdsp = vdsp_file(tmp_path)
    inputs = make_inputs(tmp_path / "in", 4)
    datalist = tmp_path / "list.txt"
    datalist.write_text("\n".join(str(p) for p in inputs) + "\n")
    out = tmp_path / "out"
    proc = vampy("run", "-m", str(model), "--vdsp_params", str(vdsp), "--provider", "cuda", "--datalist", str(datalist),
                 "--path_output", str(out), "-q")
    assert proc.returncode == 0, proc.stderr
    for i, npz in enumerate(inputs):
        got = np.load(out / f"output_{i:06d}.npz")["output_0"]
        np.testing.assert_allclose(got, expected_output(model, vdsp, npz), rtol=1e-3, atol=1e-4)  # cuDNN's convolutions differ in rounding
