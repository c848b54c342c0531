"""`vampy zoo vdsr`: flags, files written, summary line, warning, exit codes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.support.cli import exit_code as _vampy
from vampy.models.zoo import random_vdsr_weights, vdsr_layers


def test_vdsr_random_writes_files_and_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "deploy"
    assert _vampy(["zoo", "vdsr", "-o", str(out_dir)]) == 0
    captured = capsys.readouterr()
    assert (out_dir / "mod.onnx").is_file()
    meta = json.loads((out_dir / "mod.json").read_text())
    assert meta["weights"] == "random" and meta["seed"] == 0 and meta["dynamic"] is False
    lines = captured.out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"wrote {out_dir / 'mod.onnx'}")
    assert "RANDOM weights (seed 0)" in lines[0] and "0.665 M params" in lines[0]
    assert "warning: seeded random weights" in captured.err and "meaningless" in captured.err


def test_vdsr_dynamic_and_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(["zoo", "vdsr", "--output", str(tmp_path), "--dynamic", "--seed", "9"]) == 0
    meta = json.loads((tmp_path / "mod.json").read_text())
    assert meta["dynamic"] is True and meta["seed"] == 9
    assert "[batch,1,height,width]" in capsys.readouterr().out


def test_vdsr_input_rgb_bt601(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(["zoo", "vdsr", "-o", str(tmp_path), "--dynamic", "--input", "rgb-bt601"]) == 0
    meta = json.loads((tmp_path / "mod.json").read_text())
    assert meta["input_kind"] == "rgb-bt601" and meta["input"]["shape"] == ["batch", 3, "height", "width"]
    assert meta["output"]["shape"] == ["batch", 1, "height", "width"]
    out = capsys.readouterr().out
    assert "[batch,3,height,width] float32 (rgb-bt601)" in out and "at 1x3x256x256" in out


def test_vdsr_input_defaults_to_y(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(["zoo", "vdsr", "-o", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "mod.json").read_text())["input_kind"] == "y"
    assert "[1,1,256,256] float32 (y)" in capsys.readouterr().out


def test_vdsr_unknown_input_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(["zoo", "vdsr", "-o", str(tmp_path), "--input", "bgr"]) == 2
    err = capsys.readouterr().err
    assert "--input 'bgr'" in err and "rgb-bt601" in err and "Traceback" not in err
    assert not (tmp_path / "mod.onnx").exists()


def test_vdsr_with_weights_has_no_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = tmp_path / "w.npz"
    np.savez(weights, **{key: w for (key, _), w in zip(vdsr_layers(), random_vdsr_weights(4))})
    assert _vampy(["zoo", "vdsr", "-o", str(tmp_path / "out"), "--weights", str(weights)]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err and "sha256" in captured.out
    assert json.loads((tmp_path / "out" / "mod.json").read_text())["weights"] == "file"


def test_vdsr_missing_weights_is_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(["zoo", "vdsr", "-o", str(tmp_path), "--weights", str(tmp_path / "absent.npz")]) == 3
    err = capsys.readouterr().err
    assert "absent.npz" in err and "Traceback" not in err
    assert not (tmp_path / "mod.onnx").exists()


def test_vdsr_bad_weights_is_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "w.npz"
    bad.write_text("not an archive")
    assert _vampy(["zoo", "vdsr", "-o", str(tmp_path / "out"), "--weights", str(bad)]) == 3


def test_vdsr_seed_with_weights_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = tmp_path / "w.npz"
    assert _vampy(["zoo", "vdsr", "-o", str(tmp_path), "--weights", str(weights), "--seed", "1"]) == 2
    assert "--seed" in capsys.readouterr().err


def test_vdsr_unwritable_output_is_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert _vampy(["zoo", "vdsr", "-o", str(blocker)]) == 7


@pytest.mark.parametrize("args", [["zoo", "vdsr"], ["zoo", "vdsr", "-o", "x", "--seed", "abc"], ["zoo", "resnet", "-o", "x"]])
def test_bad_usage_exits_2(args: list[str]) -> None:
    assert _vampy(args) == 2


def test_help_lists_vdsr(capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(["zoo", "--help"]) == 0
    assert "vdsr" in capsys.readouterr().out


@pytest.mark.parametrize(("command", "scale", "shape"),
                         [("edsr", "2", "2*height"), ("edsr", "4", "4*height"), ("face-sr", "8", "8*height"), ("face-sr", "1", "height")])
def test_sr_models_write_files_and_warn(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, scale: str, shape: str) -> None:
    assert _vampy(["zoo", command, "-o", str(tmp_path / "m"), "--scale", scale, "--seed", "3"]) == 0
    captured = capsys.readouterr()
    meta = json.loads((tmp_path / "m" / "mod.json").read_text())
    assert meta["model"] == command and meta["scale"] == int(scale) and meta["seed"] == 3 and meta["accuracy_meaningful"] is False
    assert meta["output"]["shape"][2] == shape and (tmp_path / "m" / "mod.onnx").is_file()
    assert captured.out.startswith(f"wrote {tmp_path / 'm' / 'mod.onnx'}") and "RANDOM weights (seed 3)" in captured.out
    assert "warning: seeded random weights" in captured.err


def test_edsr_default_scale_is_2(tmp_path: Path) -> None:
    assert _vampy(["zoo", "edsr", "-o", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "mod.json").read_text())["scale"] == 2


@pytest.mark.parametrize(("command", "scale"), [("edsr", "3"), ("face-sr", "2")])
def test_sr_bad_scale_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, scale: str) -> None:
    assert _vampy(["zoo", command, "-o", str(tmp_path), "--scale", scale]) == 2
    err = capsys.readouterr().err
    assert f"--scale {scale}" in err and "Traceback" not in err and not (tmp_path / "mod.onnx").exists()
