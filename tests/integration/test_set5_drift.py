"""VDSR's int8 build against fp32 on Set5 x4 (needs ../shared/data; skipped without it): compile's self-check
and `vampy diff` over two real runs' outputs measure the same drift, to the last bit, and it is small."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.support.cli import exit_code as _vampy
from tests.support.paths import REPO_ROOT
from vampy.models.zoo import write_vdsr

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]
VDSP = REPO_ROOT / "vdsp_params" / "official-vdsr-vdsp_params.json"


def test_vdsr_int8_drift_on_set5_is_the_same_from_compile_and_from_diff(shared_data: Path, tmp_path: Path) -> None:
    set5 = shared_data / "Set5"
    write_vdsr(tmp_path / "vdsr", weights=shared_data / "vdsr" / "vdsr_x234_weights.npz", seed=0, dynamic=False)
    ops = [{"type": "DecodeImage"}, {"type": "CvtColor", "code": "COLOR_RGB2YCrCb"}, {"type": "Resize", "size": [256, 256]},
           {"type": "ChannelSplit", "index": 0}, {"type": "Normalize", "norm_type": "None"}, {"type": "ToTensor"}]
    config = {  # build/official_vdsr_int8.yaml's pipeline; max calibration (one pass; the same ranges here) keeps the test short
        "name": "int8",
        "frontend": {"type": "onnx", "checkpoint": str(tmp_path / "vdsr" / "mod.onnx"), "shape": {"input": [1, 1, 256, 256]}},
        "backend": {"dtype": "int8", "quantize": {"calibrate_mode": "max", "quantize_per_channel": True}},
        "dataset": {"path": str(set5), "sampler": {"suffix": "bmp", "pattern": "*_scale_4.bmp"}, "process_ops": ops},
        "workspace": {"path": str(tmp_path)},
    }
    (tmp_path / "int8.yaml").write_text(yaml.safe_dump(config))
    assert _vampy(["compile", str(tmp_path / "int8.yaml"), "--vdsp_params", str(VDSP), "--min_snr_db", "30", "-q"]) == 0
    datalist = tmp_path / "set5.txt"
    assert _vampy(["image2npz", "--dataset_path", str(set5), "--pattern", "*_scale_4.bmp", "--mode", "y3", "--target_path",
                   str(tmp_path / "npz"), "--text_path", str(datalist), "-q"]) == 0
    for name, model in (("fp32", tmp_path / "vdsr" / "mod"), ("int8", tmp_path / "int8" / "mod")):
        assert _vampy(["run", "-m", str(model), "--vdsp_params", str(VDSP), "-s", "[3,256,256]", "--datalist", str(datalist),
                       "--path_output", str(tmp_path / name), "-q"]) == 0
    report = tmp_path / "diff.json"
    assert _vampy(["diff", str(tmp_path / "fp32"), str(tmp_path / "int8"), "--datalist", str(datalist), "--min_snr_db", "30",
                   "--json", str(report), "-q"]) == 0
    diff = json.loads(report.read_text())
    drift = json.loads((tmp_path / "int8" / "mod.json").read_text())["drift"]
    # the same five pictures through the same two models, once inside compile and once as two runs' npz files
    assert diff["summary"] == drift["summary"] and diff["compared"] == drift["samples"] == 5
    assert [w["line"] for w in diff["worst"]] == [w["line"] for w in drift["worst"]]
    assert 30 < diff["summary"]["output_0"]["snr_db"]["min"] < 80 and diff["summary"]["output_0"]["cosine"]["min"] > 0.999
