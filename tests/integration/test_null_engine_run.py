"""`vampy run --engine null`: the whole harness (spawned workers, feeds, stamps, npz outputs) with no runtime."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.models import conv_model, identity_like_model
from vampy import __version__

pytestmark = pytest.mark.slow

TIMEOUT_S = 120


def vampy_run(tmp_path: Path, *args: str) -> dict[str, Any]:
    """`vampy run ARGS --engine null`; the --json report."""
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "vampy", "run", *args, "--engine", "null", "--json", str(report), "-q"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def test_perf_run_names_the_engine_and_counts_every_sample(tmp_path: Path) -> None:
    model = identity_like_model(tmp_path / "m" / "mod.onnx", (1, 3, 8, 8))
    r = vampy_run(tmp_path, "-m", str(model), "-s", "3,8,8", "--iterations", "50", "--threads", "1")
    engine = dict(r["engine"])
    assert engine.pop("build_s") >= 0
    assert engine == {"engine": "null", "version": __version__, "device": "cpu", "precision": "none",
                      "intra_threads": 1, "providers": [], "engine_cache": None}
    assert r["samples"] == 50 and r["requests"] == 50
    assert sum(r["histograms"]["e2e"]["counts"]) == 50
    assert r["complete"] and r["incomplete_reason"] is None


def test_processes_instances_and_batches_without_a_runtime(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "dyn.onnx", in_ch=1, dynamic=True)
    r = vampy_run(tmp_path, "-m", str(model), "-s", "1,16,16", "-p", "2", "-i", "2", "-b", "3", "--iterations", "12", "--warmup", "1")
    assert r["engine"]["engine"] == "null"
    assert [p["samples"] for p in r["per_process"]] == [12, 12]  # 4 batches of 3 per process
    assert r["samples"] == 24 and r["requests"] == 8
    assert r["warmup"]["requests"] == 2 * 2 * 1


def test_datalist_writes_outputs_of_the_model_shapes(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "dyn.onnx", in_ch=1, dynamic=True)  # (batch, 1, height, width) in and out
    sizes_hw = [(8, 8), (12, 10), (8, 8), (5, 7), (12, 10)]
    folder = tmp_path / "in"
    folder.mkdir()
    lines = []
    for index, (h, w) in enumerate(sizes_hw):
        path = folder / f"x{index}.npz"
        np.savez(path, input_0=np.full((1, h, w), index, np.uint8))
        lines.append(str(path))
    datalist = tmp_path / "list.txt"
    datalist.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    r = vampy_run(tmp_path, "-m", str(model), "--datalist", str(datalist), "--path_output", str(out), "-b", "2", "-i", "2")
    assert r["engine"]["engine"] == "null"
    assert r["samples"] == 5 and r["datalist"]["written"] == 5
    assert sorted(p.name for p in out.glob("*.npz")) == [f"output_{i:06d}.npz" for i in range(5)]
    for index, (h, w) in enumerate(sizes_hw):
        with np.load(out / f"output_{index:06d}.npz", allow_pickle=False) as got:
            assert got.files == ["output_0"]
            output = got["output_0"]
        assert output.shape == (1, 1, h, w) and output.dtype == np.float32 and not output.any()
