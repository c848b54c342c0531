"""`vampy run --datalist`: one output per line, named by line index, whatever -i -p -b are."""
from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.models import conv_model
from tests.support.files import expected_output, make_inputs, vdsp_file

pytestmark = pytest.mark.slow


def vampy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vampy", *args], capture_output=True, text=True, timeout=120)


def test_names_and_order_under_concurrency(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m.onnx", in_ch=1, dynamic=True)
    vdsp = vdsp_file(tmp_path)
    inputs = make_inputs(tmp_path / "in", 10)
    datalist = tmp_path / "list.txt"
    datalist.write_text("\n".join(str(p) for p in inputs) + "\n")
    out = tmp_path / "out"
    proc = vampy("run", "-m", str(model), "--vdsp_params", str(vdsp), "-i", "2", "p", "2", "-b", "3",
                 "--datalist", str(datalist), "--path_output", str(out), "--json", str(tmp_path / "r.json"), "-q")
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in out.glob("*.npz"))
    assert names == [f"output_{i:06d}.npz" for i in range(10)]
    for i, npz in enumerate(inputs):
        got = np.load(out / f"output_{i:06d}.npz", allow_pickle=False)
        assert got.files == ["output_0"]
        assert got["output_0"].shape == (1, 1, 16, 16) and got["output_0"].dtype == np.float32
        np.testing.assert_allclose(got["output_0"], expected_output(model, vdsp, npz), rtol=1e-5, atol=1e-5)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["samples"] == 10 and report["datalist"]["written"] == 10
    assert json.loads((out / "failures.json").read_text())["failures"] == []
    assert "outputs written: 10 of 10" in proc.stdout


@pytest.mark.parametrize("native", [[], ["--native_size"]])
def test_bad_lines_do_not_lose_good_outputs(tmp_path: Path, native: list[str]) -> None:
    model = conv_model(tmp_path / "m.onnx", in_ch=1, dynamic=True)
    good = make_inputs(tmp_path / "in", 4)
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    (bad_dir / "text.npz").write_text("not an npz")
    np.savez(bad_dir / "nokey.npz", other=np.zeros((3, 4, 4), np.uint8))
    np.savez(bad_dir / "flat.npz", input_0=np.zeros((5,), np.uint8))
    with open(bad_dir / "pickled.npz", "wb") as f:
        np.save(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    evil = bad_dir / "evil.npz"
    np.savez(evil, input_0=np.array([pickle.dumps(1)], dtype=object))
    lines = [good[0], tmp_path / "missing.npz", good[1], bad_dir / "text.npz", bad_dir / "nokey.npz", good[2],
             bad_dir / "flat.npz", bad_dir / "pickled.npz", evil, good[3]]
    datalist = tmp_path / "list.txt"
    datalist.write_text("\n".join(str(p) for p in lines) + "\n")
    out = tmp_path / "out"
    proc = vampy("run", "-m", str(model), "--vdsp_params", str(vdsp_file(tmp_path)), "-b", "2", "-i", "2", *native,
                 "--datalist", str(datalist), "--path_output", str(out), "-q")
    assert proc.returncode == 6, proc.stderr
    assert sorted(p.name for p in out.glob("*.npz")) == [f"output_{i:06d}.npz" for i in (0, 2, 5, 9)]
    failures = json.loads((out / "failures.json").read_text())["failures"]
    assert [f["index"] for f in failures] == [1, 3, 4, 6, 7, 8]
    assert all(f["reason"] for f in failures)
    assert "input_0" in failures[2]["reason"]
    assert "6 datalist line(s) failed" in proc.stderr and "Traceback" not in proc.stderr


def test_resume_only_runs_what_is_missing(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m.onnx", in_ch=1, dynamic=True)
    inputs = make_inputs(tmp_path / "in", 5)
    datalist = tmp_path / "list.txt"
    datalist.write_text("\n".join(str(p) for p in inputs))
    out = tmp_path / "out"
    args = ["run", "-m", str(model), "--vdsp_params", str(vdsp_file(tmp_path)), "--datalist", str(datalist),
            "--path_output", str(out), "-q"]
    assert vampy(*args).returncode == 0
    (out / "output_000003.npz").unlink()
    (out / "output_000001.npz").write_bytes(b"truncated")  # a corrupt leftover is redone
    before = (out / "output_000000.npz").stat().st_mtime_ns
    proc = vampy(*args, "--resume", "--json", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["datalist"]["skipped"] == 3 and report["datalist"]["written"] == 2
    assert (out / "output_000000.npz").stat().st_mtime_ns == before
    np.load(out / "output_000001.npz")["output_0"]


def test_native_size_runs_each_image_at_its_own_size(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m.onnx", in_ch=1, dynamic=True)
    vdsp = vdsp_file(tmp_path)
    inputs = make_inputs(tmp_path / "in", 3)
    datalist = tmp_path / "list.txt"
    datalist.write_text("\n".join(str(p) for p in inputs))
    out = tmp_path / "out"
    proc = vampy("run", "-m", str(model), "--vdsp_params", str(vdsp), "--native_size", "-b", "2", "--output_dtype", "fp16",
                 "--datalist", str(datalist), "--path_output", str(out), "-q")
    assert proc.returncode == 0, proc.stderr
    for i, npz in enumerate(inputs):
        got = np.load(out / f"output_{i:06d}.npz")["output_0"]
        assert got.dtype == np.float16
        np.testing.assert_allclose(got.astype(np.float32), expected_output(model, vdsp, npz, native=True), atol=2e-2)
