"""`vampy compile`: summary line, notes and warnings on stderr, --json, exit codes."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import exit_code as _vampy
from tests.support.files import write_compile_yaml


def test_int8_writes_model_and_metadata(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "result.json"
    assert _vampy(["compile", str(write_compile_yaml(tmp_path)), "--json", str(report), "-q"]) == 0
    captured = capsys.readouterr()
    out_dir = tmp_path / "ws" / "tiny"
    lines = captured.out.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"wrote {out_dir / 'mod.onnx'} (+ mod.json): int8, input input [1,1,8,8]")
    assert lines[1].startswith("drift against the float model on 2 sample(s) (the calibration samples): output_0 SNR mean")
    assert "max per-channel, 2 calibration sample(s)" in lines[0] and "Q/DQ" in lines[0]
    assert ("vampy: note: ignored vendor-only key backend.type: the vendor's backend (tvm_vacc)" in captured.err
            and "Traceback" not in captured.err)
    meta = json.loads((out_dir / "mod.json").read_text())
    assert json.loads(report.read_text()) == meta and meta["precision"] == "int8"


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_fp32_and_fp16(tmp_path: Path, capsys: pytest.CaptureFixture[str], precision: str) -> None:
    assert _vampy(["compile", str(write_compile_yaml(tmp_path, precision))]) == 0
    captured = capsys.readouterr()
    assert f": {precision}, input input [1,1,8,8]" in captured.out
    assert "not used for" in captured.err and (tmp_path / "ws" / "tiny" / "mod.onnx").is_file()


def test_warning_for_raw_pixel_calibration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def raw(d: dict[str, Any]) -> None:
        d["dataset"]["process_ops"][3] = {"type": "Normalize", "norm_type": "None"}

    assert _vampy(["compile", str(write_compile_yaml(tmp_path, edit=raw)), "-q"]) == 0
    assert "vampy: warning: calibration tensors are raw pixel values 0..255" in capsys.readouterr().err


def test_vdsp_params_completes_the_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def raw(d: dict[str, Any]) -> None:
        d["dataset"]["process_ops"][3] = {"type": "Normalize", "norm_type": "None"}

    vdsp = tmp_path / "v.json"
    vdsp.write_text(json.dumps({"OpType": "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR", "OpConfig": {"NormaType": "DIV255"}}))
    assert _vampy(["compile", str(write_compile_yaml(tmp_path, edit=raw)), "--vdsp_params", str(vdsp), "-q"]) == 0
    captured = capsys.readouterr()
    assert "normalisation div255 from --vdsp_params" in captured.out and "warning" not in captured.err


@pytest.mark.parametrize(
    ("edit", "code", "message"),
    [
        (lambda d: d["backend"].update(speed="max"), 3, "backend.speed: unknown key"),
        (lambda d: d["frontend"].update(checkpoint="absent.onnx"), 3, "frontend.checkpoint absent.onnx: no such file"),
        (lambda d: d["dataset"]["sampler"].update(pattern="*.none"), 3, "the calibration set is empty"),
        (lambda d: d["dataset"]["process_ops"][2].update(size=6), 4, "produce (1,1,6,6) for input 'input'"),
    ],
)
def test_errors_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: Any, code: int, message: str) -> None:
    assert _vampy(["compile", str(write_compile_yaml(tmp_path, edit=edit))]) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "ws").exists()


def test_missing_yaml_datalist_and_bad_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(["compile", str(tmp_path / "absent.yaml")]) == 3
    assert "no such compiler YAML file" in capsys.readouterr().err
    assert _vampy(["compile", str(write_compile_yaml(tmp_path)), "--calib_datalist", str(tmp_path / "absent.txt")]) == 3
    assert "absent.txt: no such datalist file" in capsys.readouterr().err
    assert _vampy(["compile", str(write_compile_yaml(tmp_path)), "--no_such_flag"]) == 2


def test_bad_vdsp_and_json_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_compile_yaml(tmp_path))
    assert _vampy(["compile", config, "--vdsp_params", str(tmp_path / "absent.json")]) == 3
    assert "absent.json" in capsys.readouterr().err
    assert _vampy(["compile", config, "-q", "--json", str(tmp_path / "no" / "dir" / "r.json")]) == 7
    assert "r.json" in capsys.readouterr().err


def test_flags_unused_by_fp32_are_noted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(["compile", str(write_compile_yaml(tmp_path, "fp32")), "--vdsp_params", str(tmp_path / "v.json")]) == 0
    assert "note: not used for fp32: --vdsp_params" in capsys.readouterr().err


# --- vendor files: --dry_run, other frontends, the typo warning ---


def _vendor_edit(data: dict[str, Any]) -> None:
    data["dataset"]["type"] = "tvm"
    data["backend"]["compile"] = {"cluster_mode": 0, "output_layout": "NCHW"}
    data["graph"] = {"extra_ops": [{"type": "retinaface_nms", "params": {"anchor": [1, 2]}}]}


def test_dry_run_prints_the_plan_and_reads_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_compile_yaml(tmp_path, edit=_vendor_edit)
    (tmp_path / "src.onnx").unlink()  # not read: reported missing
    report = tmp_path / "plan.json"
    assert _vampy(["compile", str(config), "--dry_run", "--json", str(report)]) == 0
    captured = capsys.readouterr()
    plan = json.loads(captured.out)
    assert plan == json.loads(report.read_text())
    assert plan["precision"] == "int8" and plan["calibration"]["method"] == "max" and plan["calibration"]["per_channel"]
    assert plan["missing_files"] == [f"frontend.checkpoint {tmp_path / 'src.onnx'}"]
    assert sorted(k["key"] for k in plan["ignored_keys"]) == ["backend.compile.cluster_mode", "backend.compile.output_layout",
                                                            "backend.type", "dataset.type"]
    assert plan["extra_ops_applied"] == [] and "retinaface_nms: not applied" in plan["notes"][0]
    assert not (tmp_path / "ws").exists() and captured.err == ""


def test_dry_run_bad_vdsp_file_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vdsp = tmp_path / "v.json"
    vdsp.write_text("{not json")
    assert _vampy(["compile", str(write_compile_yaml(tmp_path)), "--dry_run", "--vdsp_params", str(vdsp)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("vampy: error: ") and err.count("\n") == 1 and str(vdsp) in err


@pytest.mark.parametrize("frontend", ["pytorch", "huggingface", "keras", "tensorflow", "darknet"])
def test_other_frontends_exit_3_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], frontend: str) -> None:
    config = write_compile_yaml(tmp_path, edit=lambda d: d["frontend"].update(type=frontend, model_kwargs={"tp": 1}))
    assert _vampy(["compile", str(config), "--dry_run"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"frontend.type: str '{frontend}'" in err and "export the model to ONNX first" in err


def test_misspelt_key_warns_and_compiles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_compile_yaml(tmp_path, edit=lambda d: d["backend"]["quantize"].update(alibrate_mode="max"))
    assert _vampy(["compile", str(config), "-q"]) == 0
    err = capsys.readouterr().err
    assert ("vampy: warning: " in err
            and "backend.quantize.alibrate_mode: not a key vampy knows, probably a misspelling of calibrate_mode" in err)
