"""The Python API's surface, without running a model: light import, explicit signatures, the
builders giving the CLI's own configs, argument forms, and errors raised (never printed)."""
from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vampy
from vampy import api
from vampy.cli import main
from vampy.errors import InputError, UsageError, VampyError
from vampy.results.schema import _json_default

FUNCTIONS = (vampy.run, vampy.evaluate, vampy.compile, vampy.sweep, vampy.infer)


def _normal(data: Any) -> Any:
    """What a value looks like once written as JSON (tuples become lists)."""
    return json.loads(json.dumps(data, default=_json_default))


def _dry_run_config(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    with pytest.raises(SystemExit) as info:
        main(["run", *args, "--dry_run"])
    assert info.value.code in (0, None)
    config: dict[str, Any] = json.loads(capsys.readouterr().out)["config"]
    return config


def test_import_vampy_loads_no_heavy_module() -> None:
    code = (
        "import sys, vampy\n"
        "heavy = ('onnxruntime', 'openvino', 'cv2', 'onnx', 'matplotlib', 'typer', 'rich')\n"
        "print([m for m in heavy if m in sys.modules])\n"
        "print(all(callable(getattr(vampy, f)) for f in ('run', 'evaluate', 'compile', 'sweep', 'infer')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["[]", "True"]
    assert proc.stderr == ""


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)
def test_signatures_are_keyword_only_typed_and_documented(function: Any) -> None:
    params = inspect.signature(function).parameters.values()
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    assert all(p.annotation is not inspect.Parameter.empty for p in params)
    assert inspect.signature(function).return_annotation is not inspect.Signature.empty
    assert function.__doc__ and "Raises" in function.__doc__
    with pytest.raises(TypeError, match="unexpected keyword argument 'modle'"):
        function(modle="x")
    with pytest.raises(TypeError):
        function("positional")


def test_defaults_are_the_clis(capsys: pytest.CaptureFixture[str]) -> None:
    assert _normal(api.run_config(model="m/mod", dry_run=True).to_dict()) == _dry_run_config(capsys, "-m", "m/mod")
    sweep = inspect.signature(vampy.sweep).parameters
    assert [sweep[d].default for d in ("instances", "processes", "batch", "threads", "warmup")] == ["auto", "auto", "auto", "auto", 1]
    assert api.sweep_config(model="m").base.load.duration_s == 4.0
    assert api.sweep_config(model="m", point_iterations=5).base.load.duration_s is None
    cfg = api.eval_config(src_dir="s", gt_dir="g", input_npz_path="l.txt", out_npz_dir="o")
    assert (cfg.input_hw, cfg.shave_px, cfg.ycbcr, cfg.gt_pattern, cfg.pair_by_order) == ((256, 256), 4, "opencv", "{base}.*", False)
    infer = api.infer_config(lr_image_dir="l", model="m", hr_image_dir="h")
    assert (infer.batch_size, infer.pattern, infer.mode, infer.shave_px, infer.engine) == (1, "*", None, 4, "onnxruntime")


CASES = [
    (
        ["-m", "m/mod", "-s", "3,32,32", "-i", "2", "p", "3", "-b", "4", "--iterations", "10", "--threads", "1",
         "--percentiles", "50,99.9", "--seed", "3", "--warmup", "0", "-d", "1", "--dtype", "int32"],
        dict(model="m/mod", shape=(3, 32, 32), instances=2, processes=3, batch_size=4, iterations=10, threads=1,
             percentiles=(50, 99.9), seed=3, warmup=0, device=1, dtype="int32"),
    ),
    (
        ["-m", "m.onnx", "-s", "[[1,4],[1,4]]", "-t", "1.5", "--rate", "20", "--arrival", "constant", "--timeout", "0",
         "--export_times", "t.csv", "--hwconfig", "hw.json", "--forward_mode", "async", "--json", "r.json"],
        dict(model=Path("m.onnx"), shape=[[1, 4], [1, 4]], duration=1.5, rate=20, arrival="constant", timeout=0,
             export_times="t.csv", hwconfig="hw.json", forward_mode="async", json=Path("r.json")),
    ),
    (
        ["-m", "m/mod", "--vdsp_params", "v.json", "--datalist", "l.txt", "--path_output", "out", "--resume",
         "--output_dtype", "fp16", "--native_size", "--profile", "prof", "--backend", "vacc"],
        dict(model="m/mod", vdsp_params="v.json", datalist=Path("l.txt"), path_output="out", resume=True,
             output_dtype="fp16", native_size=True, profile="prof", backend="vacc"),
    ),
]


@pytest.mark.parametrize(("argv", "kwargs"), CASES)
def test_run_config_is_the_clis(argv: list[str], kwargs: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert _normal(api.run_config(**kwargs, dry_run=True).to_dict()) == _dry_run_config(capsys, *argv)


def test_shape_forms() -> None:
    one = ((3, 32, 32),)
    for form in ("3,32,32", "[3,32,32]", (3, 32, 32), [3, 32, 32], np.array([3, 32, 32]).tolist(), tuple(np.int64(d) for d in (3, 32, 32))):
        assert api.parse_shape_arg(form) == one
    assert api.parse_shape_arg([(1, 512), (1, 512)]) == api.parse_shape_arg("[[1,512],[1,512]]") == ((1, 512), (1, 512))
    assert api.parse_shape_arg(None) is None
    for bad in ((3.0, 32, 32), (True, 2), "3,x,2", (0, 4), 3, [], [[1, 2], 3], ("3", "32")):
        with pytest.raises(UsageError):
            api.parse_shape_arg(bad)  # type: ignore[arg-type]


def test_sweep_value_forms() -> None:
    forms = [dict(instances="1,2"), dict(instances=(1, 2)), dict(instances="1-2"), dict(instances=[1, 2])]
    assert {api.sweep_config(model="m", **f).space.instances for f in forms} == {(1, 2)}  # type: ignore[arg-type]
    cfg = api.sweep_config(model="m", shape=(1, 8), batch=4, threads="auto", processes=(2,))
    assert (cfg.space.batch, cfg.space.threads, cfg.space.processes, cfg.base.inputs.shapes) == ((4,), None, (2,), ((1, 8),))
    for bad in (dict(batch="x"), dict(batch=()), dict(threads=0), dict(instances=(1.5,)), dict(search="best")):
        with pytest.raises(UsageError):
            api.sweep_config(model="m", **bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(instances=0), dict(instances="2"), dict(resume=True), dict(shape="3,0,2"), dict(percentiles="0"),
        dict(percentiles=("x",)), dict(duration=-1), dict(output_dtype="int4"), dict(iterations=2.5), dict(resume="yes"),
        dict(model=3), dict(arrival="constant"),
    ],
)
def test_bad_run_arguments_raise_usage_errors_before_anything_runs(kwargs: dict[str, Any], capfd: pytest.CaptureFixture[str]) -> None:
    kwargs = {"model": "no/such/mod", **kwargs}
    with pytest.raises(UsageError) as info:
        vampy.run(**kwargs)
    assert info.value.exit_code == 2 and str(info.value)
    assert capfd.readouterr() == ("", "")


def test_eval_native_with_input_shape_is_the_clis_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError) as info:
        vampy.evaluate(src_dir=tmp_path, gt_dir=tmp_path, input_npz_path=tmp_path / "l.txt", out_npz_dir=tmp_path, native=True,
                       input_shape=(8, 8))
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--src_dir", "s", "--gt_dir", "g", "--input_npz_path", "l", "--out_npz_dir", "o", "--native",
              "--input_shape", "8", "8"])
    assert exit_info.value.code == 2 and f"error: {info.value}" in capsys.readouterr().err
    for bad in (dict(input_shape=(8,)), dict(input_shape="8 8"), dict(scale=-1), dict(ycbcr="hsv")):
        with pytest.raises(UsageError):
            vampy.evaluate(src_dir=tmp_path, gt_dir=tmp_path, input_npz_path=tmp_path / "l.txt", out_npz_dir=tmp_path, **bad)  # type: ignore[arg-type]


def test_missing_files_raise_input_errors_silently(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing"
    calls = [
        lambda: vampy.run(model=missing / "mod", shape="1,8,8"),
        lambda: vampy.evaluate(src_dir=missing, gt_dir=missing, input_npz_path=missing / "l.txt", out_npz_dir=missing),
        lambda: vampy.compile(config=missing / "c.yaml"),
        lambda: vampy.sweep(model=missing / "mod", instances=1, processes=1, batch=1, threads=1),
        lambda: vampy.infer(lr_image_dir=missing, model=missing / "mod", hr_image_dir=missing),
    ]
    for call in calls:
        with pytest.raises(InputError) as info:
            call()
        assert isinstance(info.value, VampyError) and info.value.exit_code == 3
        assert str(missing) in str(info.value)
    assert capfd.readouterr() == ("", "")


def test_infer_bad_arguments(tmp_path: Path) -> None:
    base = dict(lr_image_dir=tmp_path, model=tmp_path / "m", hr_image_dir=tmp_path)
    for bad in (dict(batch=0), dict(mode="cmyk"), dict(native=True, input_shape=(8, 8)), dict(pattern=" "), dict(threads="2")):
        with pytest.raises(UsageError):
            vampy.infer(**base, **bad)  # type: ignore[arg-type]
