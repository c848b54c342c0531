"""`vampy compile` checks itself: the built model against the float one (mod.json `drift`, the second stdout
line, `vampy table`, the HTML page), and `--min_snr_db` exits 8 with the model kept."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.support.cli import exit_code as _vampy
from tests.support.files import COMPILE_HW, write_compile_yaml


def _meta(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "ws" / "tiny" / "mod.json").read_text())


def _check_datalist(tmp_path: Path, n: int = 3) -> Path:
    """n float inputs of the tiny model's shape, as npz (fed as they are: no --vdsp_params)."""
    rng = np.random.default_rng(5)
    folder = tmp_path / "check"
    folder.mkdir()
    for k in range(n):
        np.savez(folder / f"c{k}.npz", input_0=rng.random((1, COMPILE_HW, COMPILE_HW)).astype(np.float32))
    datalist = tmp_path / "check.txt"
    datalist.write_text("".join(f"check/c{k}.npz\n" for k in range(n)))
    return datalist


def test_int8_reports_its_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(["compile", str(write_compile_yaml(tmp_path)), "-q"]) == 0
    drift = _meta(tmp_path)["drift"]
    assert (drift["origin"], drift["samples"], drift["gates"]) == ("the calibration samples", 2, [])
    snr = drift["summary"]["output_0"]["snr_db"]
    assert snr["lines"] == 2 and 20 < snr["min"] <= snr["mean"] < 120  # int8 moves the outputs, a little
    assert sorted(w["path"] for w in drift["worst"]) == ["im0.bmp", "im1.bmp"]  # each sample named by its file
    assert drift["worst"][0]["snr_db"] == snr["min"] <= drift["worst"][1]["snr_db"] and drift["engine"]["precision"] == "int8"
    out = capsys.readouterr().out
    assert f"output_0 SNR mean {snr['mean']:.2f} / min {snr['min']:.2f} dB" in out


@pytest.mark.parametrize(("threshold", "code"), [("200", 8), ("10", 0)])
def test_min_snr_db_gates_and_keeps_the_model(tmp_path: Path, capsys: pytest.CaptureFixture[str], threshold: str, code: int) -> None:
    report = tmp_path / "r.json"
    assert _vampy(["compile", str(write_compile_yaml(tmp_path)), "--min_snr_db", threshold, "--json", str(report), "-q"]) == code
    err = capsys.readouterr().err
    (gate,) = _meta(tmp_path)["drift"]["gates"]
    assert (tmp_path / "ws" / "tiny" / "mod.onnx").is_file() and json.loads(report.read_text())["drift"]["gates"] == [gate]
    assert gate["passed"] is (code == 0)
    if code:
        assert f"--min_snr_db {threshold}: FAILED" in err and "sample 0 (im0.bmp, output_0" in err and "Traceback" not in err


def test_fp16_checks_on_the_yaml_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(["compile", str(write_compile_yaml(tmp_path, "fp16")), "-q"]) == 0
    drift = _meta(tmp_path)["drift"]
    assert drift["origin"] == "the YAML's dataset" and drift["samples"] == 2
    assert drift["summary"]["output_0"]["snr_db"]["min"] > 40  # fp16 weights and activations: close to fp32
    err = capsys.readouterr().err
    assert "not used for fp16: dataset" not in err and "not used for fp16: backend.quantize" in err


def test_fp32_is_checked_only_on_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_compile_yaml(tmp_path, "fp32"))
    assert _vampy(["compile", config, "-q"]) == 0
    assert _meta(tmp_path)["drift"] is None and "drift" not in capsys.readouterr().out
    assert _vampy(["compile", config, "--min_snr_db", "30", "-q"]) == 2
    assert "--min_snr_db: an fp32 build is checked only with --check_datalist" in capsys.readouterr().err
    assert _vampy(["compile", config, "--check_datalist", str(_check_datalist(tmp_path)), "--min_snr_db", "60", "-q"]) == 0
    drift = _meta(tmp_path)["drift"]
    assert drift["origin"].startswith("--check_datalist") and drift["samples"] == 3
    assert [w["path"] for w in drift["worst"]] and all(w["path"].startswith("c") for w in drift["worst"])
    snr_min = drift["summary"]["output_0"]["snr_db"]["min"]
    assert snr_min == "inf" or snr_min > 100  # graph optimisation alone: the same numbers to rounding


def test_check_datalist_errors_name_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_compile_yaml(tmp_path))
    assert _vampy(["compile", config, "--check_datalist", str(tmp_path / "absent.txt"), "-q"]) == 3
    assert "absent.txt: no such datalist file" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    np.savez(tmp_path / "x.npz", other=np.zeros(3, np.float32))
    bad.write_text("x.npz\n")
    assert _vampy(["compile", config, "--check_datalist", str(bad), "-q"]) == 3
    err = capsys.readouterr().err
    assert "--check_datalist" in err and "--calib_datalist" not in err and not (tmp_path / "ws").exists()


def test_no_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_compile_yaml(tmp_path))
    assert _vampy(["compile", config, "--no_check", "-q"]) == 0
    assert _meta(tmp_path)["drift"] is None and "not checked: turned off (--no_check)" in capsys.readouterr().err
    assert _vampy(["compile", config, "--no_check", "--min_snr_db", "30", "-q"]) == 2


def test_table_and_page_show_the_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(["compile", str(write_compile_yaml(tmp_path)), "-q"]) == 0
    snr_min = _meta(tmp_path)["drift"]["summary"]["output_0"]["snr_db"]["min"]
    capsys.readouterr()
    folder = tmp_path / "ws" / "tiny"
    csv = tmp_path / "t.csv"
    assert _vampy(["table", str(folder), "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "| drift SNR min (dB) |" in out and f"| {snr_min:.2f} |" in out and "drift SNR min: the lowest SNR" in out
    header, row = csv.read_text().splitlines()
    assert header.endswith("drift_snr_min_db,drift_snr_mean_db,drift_samples") and row.endswith(f"{snr_min!r},{row.split(',')[-2]},2")
    page = tmp_path / "p.html"
    assert _vampy(["report", str(folder / "mod.json"), "-o", str(page)]) == 0
    assert "Drift against the float model: 2 sample(s), the calibration samples" in page.read_text()
