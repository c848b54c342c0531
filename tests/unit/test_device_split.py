"""The device split of the model phase (host-to-device, compute, device-to-host, as trtexec reports it).

The GPU session's code is device-agnostic: ONNX Runtime's IO binding and OrtValues work the same
with "cpu" memory, so the real code runs here on the CPU provider. What only a GPU can show (that
the copies take time) is in tests/integration/test_gpu.py.
"""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.models import conv_model
from tests.support.configs import perf_config
from tests.support.files import make_inputs
from vampy.cli.render import _breakdown_lines, _engine_line
from vampy.engines.base import EngineOptions, build_pending, get_engine, has_split
from vampy.engines.ort import OrtDeviceSession
from vampy.execution.datalist_task import CollectSink
from vampy.execution.job import DatalistTask
from vampy.execution.worker import SharedCounters, WorkerSpec, _Driver, _PerfSource
from vampy.measure.summary import _model_split
from vampy.workflows.run import prepare


@pytest.fixture()
def cpu_device_session(tmp_path: Path) -> OrtDeviceSession:
    model = conv_model(tmp_path / "m.onnx", in_ch=1, hw=(16, 16), dynamic=True)
    plain = get_engine().open(model, EngineOptions(intra_threads=1, allow_spinning=False))
    return OrtDeviceSession(plain.raw, plain.info, "cpu", 0)


def test_a_device_session_splits_and_returns_what_a_plain_run_returns(cpu_device_session: OrtDeviceSession) -> None:
    x = np.random.default_rng(0).random((1, 1, 16, 16), np.float32)
    t_before = time.perf_counter_ns()
    outputs, (compute_start, compute_end) = cpu_device_session.run_split({"input": x}, time.perf_counter_ns)
    t_after = time.perf_counter_ns()
    assert t_before <= compute_start <= compute_end <= t_after  # the compute span lies inside the call
    (plain,) = cpu_device_session.raw.run(None, {"input": x})
    np.testing.assert_array_equal(outputs[0], plain)
    np.testing.assert_array_equal(cpu_device_session.run({"input": x})[0], plain)  # the Session protocol's run, same path
    assert has_split(cpu_device_session)


def test_cpu_sessions_do_not_split(tmp_path: Path) -> None:
    session = get_engine().open(conv_model(tmp_path / "m.onnx"), EngineOptions(intra_threads=1))
    assert not has_split(session)  # nothing to copy: the report has no model_split


def _driver(tmp_path: Path, session: OrtDeviceSession) -> _Driver:
    prepared = prepare(perf_config(tmp_path, iterations=8))
    spec = WorkerSpec(replace(prepared.job, output_dir=str(tmp_path / "out")), 0)
    shared = SharedCounters(np.zeros(1, np.int64), np.zeros(1, np.int64), threading.Event())
    return _Driver(spec, 0, session, np.random.default_rng(0), time.perf_counter_ns, shared)


def test_the_worker_records_the_split_and_its_phases_add_up_to_the_model(tmp_path: Path, cpu_device_session: OrtDeviceSession) -> None:
    driver = _driver(tmp_path, cpu_device_session)
    driver.loop(_PerfSource(8, None, time.perf_counter_ns))
    rows = driver.record.arrays()
    assert rows["end_ns"].size == 8
    assert np.all(rows["model_start_ns"] <= rows["compute_start_ns"])
    assert np.all(rows["compute_start_ns"] <= rows["compute_end_ns"])
    assert np.all(rows["compute_end_ns"] <= rows["model_end_ns"])
    split = _model_split(rows["model_start_ns"], rows["compute_start_ns"], rows["compute_end_ns"], rows["model_end_ns"])
    assert split is not None and set(split) == {"host_to_device", "compute", "device_to_host"}
    model_avg_us = float((rows["model_end_ns"] - rows["model_start_ns"]).mean()) / 1e3
    assert sum(p["avg_us"] for p in split.values()) == pytest.approx(model_avg_us, rel=1e-9)
    assert all(p["count"] == 8 for p in split.values())


def test_datalist_requests_on_a_device_session_split_too(tmp_path: Path, cpu_device_session: OrtDeviceSession) -> None:
    driver = _driver(tmp_path, cpu_device_session)
    inputs = [(i, str(path)) for i, path in enumerate(make_inputs(tmp_path / "in", 3, sizes=((16, 16),)))]
    sink = CollectSink("model")
    driver.run_task(DatalistTask(tuple(inputs)), driver.lines, sink, driver.ledger)
    rows = driver.record.arrays()
    assert driver.failures == [] and sorted(sink.outputs) == [0, 1, 2]
    assert np.all(rows["compute_start_ns"] > 0) and np.all(rows["compute_end_ns"] <= rows["model_end_ns"])


def test_no_split_recorded_means_no_model_split() -> None:
    zeros = np.zeros(4, np.int64)
    assert _model_split(np.arange(4), zeros, zeros, np.arange(4) + 10) is None


def test_the_text_report_shows_the_split_and_the_build() -> None:
    phase = {"count": 2, "avg_us": 10.0, "min_us": 9.0, "max_us": 11.0, "percentiles_us": {"p50": 10.0, "p99": 11.0}}
    report = {"breakdown": {"model": phase}, "model_split": {"host_to_device": phase, "compute": phase, "device_to_host": phase}}
    lines = _breakdown_lines(report)
    assert "model split on the device (us), as trtexec splits it: avg / p50 / p99" in lines
    assert "    host-to-device: 10 / 10 / 11" in lines and "    device-to-host: 10 / 10 / 11" in lines
    ran = {"engine": "onnxruntime", "version": "1.23", "device": "tensorrt:0", "precision": "fp32", "intra_threads": 0,
           "providers": ["TensorrtExecutionProvider"], "build_s": 41.25, "engine_cache": "built"}
    expected = "precision fp32; session built in 41.250 s, TensorRT engine built and cached (outside the measurement)"
    assert _engine_line(ran).endswith(expected)


def test_tensorrt_cache_folder_is_one_per_model_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vampy.engines.ort import trt_cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    a = conv_model(tmp_path / "a" / "mod.onnx", seed=0)
    b = conv_model(tmp_path / "b" / "mod.onnx", seed=1)  # same file name, other weights: ORT's own engine names would collide
    same = conv_model(tmp_path / "c" / "mod.onnx", seed=0)
    assert trt_cache_dir(a).parent == tmp_path / "cache" / "vampy" / "tensorrt"
    assert trt_cache_dir(a) != trt_cache_dir(b) and trt_cache_dir(a) == trt_cache_dir(same)


@pytest.mark.parametrize(("engine_file", "expected"), [(False, "reused"), (True, "built")])
def test_the_first_request_settles_the_build_and_the_cache_state(tmp_path: Path, engine_file: bool, expected: str) -> None:
    """A pending session (TensorRT's state until its first request) on the CPU: the first request is
    build time, and a file new in the cache folder means an engine was built."""
    plain = get_engine().open(conv_model(tmp_path / "m.onnx", in_ch=1, hw=(16, 16), dynamic=True), EngineOptions(intra_threads=1))
    folder = tmp_path / "trt"
    folder.mkdir()
    session = OrtDeviceSession(plain.raw, replace(plain.info, engine_cache="pending"), "cpu", 0, (folder, frozenset()))
    if engine_file:
        (folder / "TensorrtExecutionProvider_TRTKernel_graph_0.engine").write_bytes(b"x")
    driver = _driver(tmp_path, session)
    assert build_pending(session)
    driver.warm_up()
    assert session.info.engine_cache == expected and session.info.build_s > plain.info.build_s
    # the build request is no warm-up figure (nor the base of the automatic --timeout)
    assert len(driver.warm_e2e_ns) == driver.spec.job.warmup_requests and not build_pending(session)
