"""The Python API for real on a tiny model and made-up images: each function's `to_dict()` equals
what the CLI's `--json` writes for the same arguments (timings, pids, timestamps and measured
figures compared by structure only), nothing is printed, progress is reported, problems are
VampyError with the report attached; and the examples in docs/api.md and the README run."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import vampy
from tests.models import conv_model
from tests.support.files import vdsp_file, write_compile_yaml
from vampy.cli import main
from vampy.config import Image2NpzConfig
from vampy.data.image2npz import images_to_npz
from vampy.errors import PartialResult, VampyError
from vampy.results.schema import _json_default

REPO = Path(__file__).resolve().parents[2]
NAMES = ("alpha", "beta", "gamma")
HW = 24
SHAPE = f"3,{HW},{HW}"
# Measured, or different in every run: compared by structure (keys) only.
RUN_MEASURED = frozenset({"forward_time_s", "throughput_qps", "e2e", "model_latency", "warmup", "per_process", "resources",
                          "stability", "histograms", "setup_s", "breakdown", "environment"})
POINT_MEASURED = frozenset({"throughput_qps", "e2e_p50_ms", "e2e_p99_ms", "model_p99_ms", "cpu_percent", "others_cpu_percent", "rss_mb",
                            "duration_s", "stable", "max_deviation", "runs_qps", "runs", "pareto", "winner", "meets_bound", "samples"})


class Recorder:
    """A Progress that remembers every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def start(self, description: str, total: int | None) -> None:
        self.calls.append(("start", (description, total)))

    def advance(self, steps: int = 1) -> None:
        self.calls.append(("advance", steps))

    def finish(self) -> None:
        self.calls.append(("finish", None))

    def phases(self) -> list[tuple[str, int | None]]:
        return [args for kind, args in self.calls if kind == "start"]

    def advanced(self) -> int:
        return sum(steps for kind, steps in self.calls if kind == "advance")


def _normal(data: Any) -> Any:
    return json.loads(json.dumps(data, default=_json_default))


def _cli(*args: str) -> int:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    code = info.value.code
    return code if isinstance(code, int) else 0


def _cli_json(capfd: pytest.CaptureFixture[str], path: Path, *args: str) -> dict[str, Any]:
    """Run the CLI in this process with --json PATH; its printout is read off so the API's can be checked empty."""
    assert _cli(*args, "--json", str(path)) == 0, capfd.readouterr().err
    capfd.readouterr()
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _same_keys(a: Any, b: Any, where: str = "") -> None:
    """The same dict keys all the way down (lists: their first items), whatever the values."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            _same_keys(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and a and isinstance(b, list) and b:
        _same_keys(a[0], b[0], f"{where}[0]")


def _compare(cli: dict[str, Any], api: dict[str, Any], measured: frozenset[str] = frozenset()) -> None:
    _same_keys(cli, api)
    for key in cli:
        if key == "engine" and isinstance(cli[key], dict):  # what ran is equal; its build time is measured
            assert _without(api[key], "build_s") == _without(cli[key], "build_s"), key
        elif key not in measured:
            assert api[key] == cli[key], key
    if "environment" in cli:
        strip = ("created_utc",)
        assert ({k: v for k, v in api["environment"].items() if k not in strip}
                == {k: v for k, v in cli["environment"].items() if k not in strip})


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    assert key in data
    return {k: v for k, v in data.items() if k != key}


def _assert_written(path: Path, report: Any) -> None:
    assert json.loads(path.read_text()) == _normal(report.to_dict())


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """model/mod.onnx (dynamic 1-channel conv), vdsp.json (resize to HWxHW), set/NAME.png with NAME_scale_4.png,
    npz/ + list.txt (image2npz --mode y3), out/ (one run --datalist through the API)."""
    root = tmp_path_factory.mktemp("api")
    conv_model(root / "model" / "mod.onnx", in_ch=1, dynamic=True)
    vdsp_file(root, out_hw=HW, name="vdsp.json")
    (root / "set").mkdir()
    rng = np.random.default_rng(0)
    for name in NAMES:
        gt = cv2.GaussianBlur(rng.integers(0, 256, (HW, HW, 3), dtype=np.uint8), (5, 5), 1.5)
        cv2.imwrite(str(root / "set" / f"{name}.png"), gt)
        cv2.imwrite(str(root / "set" / f"{name}_scale_4.png"), cv2.GaussianBlur(gt, (5, 5), 1.5))
    images_to_npz(Image2NpzConfig(dataset_dir=str(root / "set"), pattern="*_scale_4.png", target_dir=str(root / "npz"),
                                  datalist_path=str(root / "list.txt"), mode="y3"))
    return root


def _model(data: Path) -> str:
    return str(data / "model" / "mod")


def test_run_equals_cli_json_and_prints_nothing(data: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "run.json"
    cli = _cli_json(capfd, path, "run", "-m", _model(data), "--vdsp_params", str(data / "vdsp.json"), "-s", SHAPE,
                    "--iterations", "12", "--threads", "1", "--percentiles", "50,99.9", "--warmup", "1", "--hwconfig", "hw.json", "-q")
    recorder = Recorder()
    report = vampy.run(model=data / "model" / "mod", vdsp_params=data / "vdsp.json", shape=(3, HW, HW), iterations=12, threads=1,
                       percentiles=(50, 99.9), warmup=1, hwconfig="hw.json", json=path, progress=recorder)
    assert capfd.readouterr() == ("", "")
    api = _normal(report.to_dict())
    _compare(cli, api, RUN_MEASURED)
    assert api["samples"] == 12 and api["config"]["shapes"] == [[3, HW, HW]] and api["config"]["vendor_flags"] == {"hwconfig": "hw.json"}
    assert set(api["e2e"]["percentiles_us"]) == {"p50", "p90", "p95", "p99", "p99.9"}
    _assert_written(path, report)
    assert recorder.phases()[-1] == ("inference", 12) and recorder.advanced() == 12 and recorder.calls[-1][0] == "finish"


def test_run_datalist_equals_cli_json(data: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    args = dict(model=_model(data), vdsp_params=str(data / "vdsp.json"), shape=SHAPE, datalist=str(data / "list.txt"),
                path_output=str(data / "out"), output_dtype="fp16", threads=1)
    path = tmp_path / "run.json"
    cli = _cli_json(capfd, path, "run", "-m", args["model"], "--vdsp_params", args["vdsp_params"], "-s", SHAPE, "--datalist",
                    args["datalist"], "--path_output", args["path_output"], "--output_dtype", "fp16", "--threads", "1", "-q")
    report = vampy.run(**args, json=path)  # type: ignore[arg-type]
    assert capfd.readouterr() == ("", "")
    _compare(cli, _normal(report.to_dict()), RUN_MEASURED)
    assert report.datalist is not None and report.datalist["written"] == len(NAMES) and report.datalist["failures"] == []
    assert sorted(p.name for p in (data / "out").glob("*.npz")) == [f"output_{i:06d}.npz" for i in range(len(NAMES))]


def test_evaluate_equals_cli_json(data: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    if not (data / "out" / "output_000002.npz").is_file():
        vampy.run(model=_model(data), vdsp_params=data / "vdsp.json", shape=SHAPE, datalist=data / "list.txt", path_output=data / "out")
    common = ["--src_dir", str(data / "set"), "--gt_dir", str(data / "set"), "--input_npz_path", str(data / "list.txt"),
              "--out_npz_dir", str(data / "out")]
    path = tmp_path / "eval.json"
    cli = _cli_json(capfd, path, "eval", *common, "--input_shape", str(HW), str(HW), "--vamp_flag",
                    "--draw_dir", str(tmp_path / "draw"), "-q")
    recorder = Recorder()
    report = vampy.evaluate(src_dir=data / "set", gt_dir=data / "set", input_npz_path=data / "list.txt", out_npz_dir=data / "out",
                            input_shape=(HW, HW), vamp_flag=True, draw_dir=tmp_path / "draw", json=path, progress=recorder)
    assert capfd.readouterr() == ("", "")
    assert _normal(report.to_dict()) == cli  # nothing measured: every value equal
    assert len(report.images) == len(NAMES) and report.drawn == len(NAMES) and not report.failures
    _assert_written(path, report)
    assert recorder.phases() == [("eval", len(NAMES))] and recorder.advanced() == len(NAMES)

    # One output missing: the CLI exits 6; the API raises PartialResult carrying the report, or returns it with check=False.
    partial = tmp_path / "partial"
    partial.mkdir()
    for k, name in enumerate(NAMES[:2]):  # paired by input name: gamma's output is missing
        (partial / f"{name}_scale_4.npz").write_bytes((data / "out" / f"output_{k:06d}.npz").read_bytes())
    kwargs: dict[str, Any] = dict(src_dir=data / "set", gt_dir=data / "set", input_npz_path=data / "list.txt", out_npz_dir=partial,
                                  input_shape=(HW, HW))
    with pytest.raises(PartialResult) as info:
        vampy.evaluate(**kwargs)
    assert info.value.exit_code == 6
    assert len(info.value.report.failures) == 1 and len(info.value.report.images) == 2  # type: ignore[attr-defined]
    assert len(vampy.evaluate(**kwargs, check=False).failures) == 1
    assert capfd.readouterr() == ("", "")


def test_infer_equals_cli_json(data: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "infer.json"
    cli = _cli_json(capfd, path, "infer", "--lr_image_dir", str(data / "set"), "--pattern", "*_scale_4.png", "-m", _model(data),
                    "--vdsp_params", str(data / "vdsp.json"), "--hr_image_dir", str(data / "set"), "--save_dir", str(tmp_path / "sr"),
                    "--threads", "1", "-q")
    recorder = Recorder()
    report = vampy.infer(lr_image_dir=data / "set", pattern="*_scale_4.png", model=_model(data), vdsp_params=data / "vdsp.json",
                         hr_image_dir=data / "set", save_dir=tmp_path / "sr", threads=1, engine="onnxruntime", json=path, progress=recorder)
    assert capfd.readouterr() == ("", "")
    _compare(cli, _normal(report.to_dict()), frozenset({"timing"}))
    assert report.saved == len(NAMES) and report.timing.images == len(NAMES)
    _assert_written(path, report)
    assert recorder.phases() == [("infer", len(NAMES))] and recorder.advanced() == len(NAMES)


def test_compile_equals_cli_json(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    config = write_compile_yaml(tmp_path)  # int8, calibrated on two images
    path = tmp_path / "compile.json"
    cli = _cli_json(capfd, path, "compile", str(config), "-q")
    recorder = Recorder()
    result = vampy.compile(config=config, json=path, progress=recorder)
    assert capfd.readouterr() == ("", "")
    _compare(cli, _normal(result.to_dict()), frozenset({"compile_time_s"}))
    assert result.precision == "int8" and any(n.startswith("ignored vendor-only key backend.type:") for n in result.notes)
    _assert_written(path, result)
    assert any(description.startswith("calibrating") for description, _ in recorder.phases())


def test_sweep_equals_cli_json(data: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    flags = ["-m", _model(data), "-s", "1,8,8", "-i", "1", "-p", "1", "-b", "1,2", "--threads", "1",
             "--point_iterations", "12", "--max_p99_ms", "5000"]
    path = tmp_path / "sweep.json"
    cli = _cli_json(capfd, path, "sweep", *flags, "-q")
    recorder = Recorder()
    report = vampy.sweep(model=_model(data), shape=(1, 8, 8), instances=1, processes=1, batch=(1, 2), threads=1, point_iterations=12,
                         max_p99_ms=5000, json=path, csv=tmp_path / "sweep.csv", progress=recorder)
    assert capfd.readouterr() == ("", "")
    api = _normal(report.to_dict())
    _compare(cli, api, frozenset({"points", "pareto", "winner", "winner_command", "low_latency_alternative", "low_latency_command", "runs",
                                  "contended_points", "log", "environment"}))
    assert api["mode"] == "grid" and api["points_tried"] == 2 and report.complete
    assert len(api["points"]) == len(cli["points"]) == 2
    for a, c in zip(api["points"], cli["points"]):
        assert {k: v for k, v in a.items() if k not in POINT_MEASURED} == {k: v for k, v in c.items() if k not in POINT_MEASURED}
    assert report.winner is not None and report.winner_command == api["winner_command"] and "vampy run -m" in api["winner_command"]
    _assert_written(path, report)
    assert len((tmp_path / "sweep.csv").read_text().splitlines()) == 3
    assert recorder.phases() == [("sweep", 2)] and recorder.advanced() == 2 and recorder.calls[-1][0] == "finish"


def test_run_datalist_failures_raise_partial_result_with_the_report(data: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    datalist = tmp_path / "list.txt"
    datalist.write_text(f"{data / 'npz' / 'alpha_scale_4.npz'}\n{tmp_path / 'bad.npz'}\n")
    with pytest.raises(PartialResult) as info:
        vampy.run(model=_model(data), vdsp_params=data / "vdsp.json", shape=SHAPE, datalist=datalist, path_output=tmp_path / "out",
                  threads=1)
    assert isinstance(info.value, VampyError) and info.value.exit_code == 6
    report = info.value.report  # type: ignore[attr-defined]
    assert report.datalist["written"] == 1 and [f["index"] for f in report.datalist["failures"]] == [1]
    assert capfd.readouterr() == ("", "")


# --- the documentation's examples ---


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


def _run_blocks(blocks: list[str], folder: Path) -> None:
    """Each block as its own script, in order, in one folder (later blocks use what earlier ones wrote)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, block in enumerate(blocks):
        script = folder / f"example_{k}.py"
        script.write_text(block)
        proc = subprocess.run([sys.executable, script.name], cwd=folder, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"example {k} failed:\n{block}\n{proc.stderr}"


def test_docs_api_examples_run(tmp_path: Path) -> None:
    blocks = _python_blocks((REPO / "docs" / "api.md").read_text())
    assert len(blocks) >= 8  # setup, the five functions, errors, progress
    for name in ("vampy.run(", "vampy.evaluate(", "vampy.compile(", "vampy.sweep(", "vampy.infer("):
        assert any(name in block for block in blocks), name
    _run_blocks(blocks, tmp_path)
    assert (tmp_path / "work" / "run.json").is_file() and (tmp_path / "work" / "sweep.csv").is_file()


def test_readme_python_api_example_runs(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    blocks = _python_blocks(section)
    assert len(blocks) == 1 and "vampy.run(" in blocks[0]
    _run_blocks(blocks, tmp_path)
