"""`vampy infer --preset NAME` equals the npz route (image2npz --preset + run --datalist + eval --preset, the
real commands) on the zoo's RGB models and made-up images; refusals and per-image failures."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.models import conv_model
from vampy.api import infer as api_infer
from vampy.cli import main
from vampy.errors import PartialResult, UsageError
from vampy.models.zoo_sr import edsr_spec, face_spec, write_sr

NAMES = ("0803", "0801", "0802")  # made in this order: results must come back in name order


def _vampy(args: list[str]) -> int:
    with pytest.raises(SystemExit) as info:
        main(args)
    code = info.value.code
    return code if isinstance(code, int) else 0


def _image(seed: int, height: int, width: int) -> np.ndarray:
    noise = np.random.default_rng(seed).integers(0, 256, (height, width, 3)).astype(np.uint8)
    return cv2.GaussianBlur(noise, (7, 7), 2)


def _vdsp(path: Path, hw: tuple[int, int], norm: str, mean: float = 0.0, std: float = 1.0) -> Path:
    config = {
        "IimageFormat": "RGB_PLANAR", "IimageWidth": hw[1], "IimageHeight": hw[0], "OimageWidth": hw[1], "OimageHeight": hw[0],
        "IimageWidthPitch": hw[1], "IimageHeightPitch": hw[0], "Mean": [mean] * 3, "Std": [std] * 3,
        "NormaType": norm, "ColorCvtCode": "NO_CHANGE", "ResizeType": "BILINEAR_CV",
    }
    path.write_text(json.dumps({"OpType": "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR", "OpConfig": config}))
    return path


def _div2k_like(root: Path, lr_suffix: str, gt_suffix: str, lr_hw: tuple[int, int], gt_hw: tuple[int, int]) -> tuple[Path, Path]:
    lr, hr = root / "lr", root / "hr"
    lr.mkdir(parents=True)
    hr.mkdir()
    for seed, name in enumerate(NAMES):
        gt = _image(seed, *gt_hw)
        cv2.imwrite(str(hr / f"{name}{gt_suffix}"), gt)
        cv2.imwrite(str(lr / f"{name}{lr_suffix}"), cv2.resize(gt, (lr_hw[1], lr_hw[0]), interpolation=cv2.INTER_CUBIC))
    return lr, hr


def _npz_route(tmp: Path, preset: str, lr: Path, hr: Path, model: Path, vdsp: Path, shape: str) -> dict[str, Any]:
    datalist, npz, out, report = tmp / "datalist.txt", tmp / "npz", tmp / "out", tmp / "eval.json"
    assert _vampy(["image2npz", "--preset", preset, "--dataset_path", str(lr), "--target_path", str(npz), "--text_path", str(datalist), "-q"]) == 0
    assert _vampy(["run", "-m", str(model), "--vdsp_params", str(vdsp), "-i", "1", "p", "1", "-b", "1", "-s", shape,
                   "--datalist", str(datalist), "--path_output", str(out)]) == 0
    assert _vampy(["eval", "--preset", preset, "--gt_dir", str(hr), "--input_npz_path", str(datalist), "--out_npz_dir", str(out),
                   "--vamp_flag", "-q", "--json", str(report)]) == 0
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def _assert_same(infer_report: Any, eval_data: dict[str, Any]) -> None:
    assert [i["name"] for i in eval_data["images"]] == [i.name for i in infer_report.images]
    assert [i["psnr_db"] for i in eval_data["images"]] == [i.psnr_db for i in infer_report.images]
    assert [i["ssim"] for i in eval_data["images"]] == [i.ssim for i in infer_report.images]
    assert infer_report.mean_psnr_db == eval_data["mean_psnr_db"] and infer_report.mean_ssim == eval_data["mean_ssim"]
    assert infer_report.deviations == tuple(eval_data["deviations"])


def test_edsr_x2_infer_preset_equals_npz_route(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lr, hr = _div2k_like(tmp_path, "x2.png", ".png", (20, 26), (40, 52))
    model = write_sr(tmp_path / "edsr", edsr_spec(2), seed=3).model_path
    vdsp = _vdsp(tmp_path / "edsr-vdsp.json", (24, 32), "EQUAL")
    eval_data = _npz_route(tmp_path, "edsr", lr, hr, model, vdsp, "[3,24,32]")
    report = api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=vdsp, preset="edsr", save_dir=tmp_path / "sr")
    _assert_same(report, eval_data)
    assert [i.name for i in report.images] == ["0801x2", "0802x2", "0803x2"]
    assert (report.images[0].height_px, report.images[0].width_px) == (48, 64)  # 2x the vdsp size; GT INTER_AREA to it
    assert report.saved == 3 and cv2.imread(str(tmp_path / "sr" / "0801x2.png")).shape == (48, 64, 3)
    assert report.kind == "infer" and report.preset == "edsr" and report.scoring["gt_resize"] == "cv2_area"
    assert 5.0 < report.mean_psnr_db < 40.0  # a real score of a random-weight model, not inf/nan


def test_edsr_infer_cli_prints_preset_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lr, hr = _div2k_like(tmp_path, "x2.png", ".png", (20, 26), (40, 52))
    model = write_sr(tmp_path / "edsr", edsr_spec(2), seed=0).model_path
    vdsp = _vdsp(tmp_path / "v.json", (16, 16), "EQUAL")
    out = tmp_path / "r.json"
    assert _vampy(["infer", "--lr_image_dir", str(lr), "--hr_image_dir", str(hr), "-m", str(model), "--vdsp_params", str(vdsp),
                   "--preset", "edsr", "-q", "--json", str(out)]) == 0
    captured = capsys.readouterr()
    data = json.loads(out.read_text())
    assert data["kind"] == "infer" and data["preset"] == "edsr" and len(data["images"]) == 3
    assert f"mean psnr: {data['mean_psnr_db']!r}" in captured.out and f"mean ssim: {data['mean_ssim']!r}" in captured.out
    assert "preset edsr (convention A4)" in captured.out and "differs from the family's script" in captured.err


def test_gpen_face_model_infer_preset_equals_npz_route(tmp_path: Path) -> None:
    lr, hr = _div2k_like(tmp_path, ".png", ".jpg", (30, 30), (40, 40))  # gpen: LQ name = GT name, GT .jpg
    model = write_sr(tmp_path / "face", face_spec(1), seed=1).model_path
    vdsp = _vdsp(tmp_path / "face-vdsp.json", (32, 32), "DIV255_MINUSMEAN_DIVSTD", 0.5, 0.5)
    eval_data = _npz_route(tmp_path, "gpen", lr, hr, model, vdsp, "[3,32,32]")
    report = api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=vdsp, preset="gpen")
    _assert_same(report, eval_data)
    assert report.scoring["quantise"] == "trunc" and report.images[0].height_px == 32


def test_pfsrnet_face_x8_uses_the_pillow_recipe(tmp_path: Path) -> None:
    lr, hr = _div2k_like(tmp_path, ".jpg", ".jpg", (190, 180), (190, 180))  # pfsrnet: crop 178 of the same .jpg
    model = write_sr(tmp_path / "face", face_spec(8), seed=2).model_path
    vdsp = _vdsp(tmp_path / "face-vdsp.json", (16, 16), "DIV255_MINUSMEAN_DIVSTD", 0.5, 0.5)
    eval_data = _npz_route(tmp_path, "pfsrnet", lr, hr, model, vdsp, "[3,16,16]")
    report = api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=vdsp, preset="pfsrnet")
    _assert_same(report, eval_data)
    assert (report.images[0].height_px, report.images[0].width_px) == (128, 128)


def test_missing_ground_truth_is_listed_and_the_rest_scored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lr, hr = _div2k_like(tmp_path, "x2.png", ".png", (20, 26), (40, 52))
    (hr / "0802.png").unlink()
    model = write_sr(tmp_path / "edsr", edsr_spec(2), seed=0).model_path
    vdsp = _vdsp(tmp_path / "v.json", (16, 16), "EQUAL")
    assert _vampy(["infer", "--lr_image_dir", str(lr), "--hr_image_dir", str(hr), "-m", str(model), "--vdsp_params", str(vdsp),
                   "--preset", "edsr", "-q"]) == 6
    err = capsys.readouterr().err
    assert "not processed (ground truth)" in err and "0802.png: no ground truth for 0802x2 (preset edsr" in err
    with pytest.raises(PartialResult) as info:
        api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=vdsp, preset="edsr")
    assert [i.name for i in info.value.report.images] == ["0801x2", "0803x2"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("preset", "extra", "message"),
    [
        ("nosuch", {}, "no such preset; choose one of"),
        ("vdsr", {}, "drop --preset and give --scale 4"),
        ("ecbsr", {}, "use the npz route: image2npz --preset ecbsr"),
        ("realsr", {}, "writes the HR-512 ground truth"),
        ("fsrnet", {}, "reads output_2, but the model has 1 output(s)"),
        ("edsr", {"gt_pattern": "{stem}.png"}, "--gt_pattern does not apply"),
        ("edsr", {"mode": "y3"}, "--mode y3"),
    ],
)
def test_refusals_name_the_fix(tmp_path: Path, preset: str, extra: dict[str, Any], message: str) -> None:
    lr, hr = _div2k_like(tmp_path, "x2.png", ".png", (20, 26), (40, 52))
    model = write_sr(tmp_path / "edsr", edsr_spec(2), seed=0).model_path
    vdsp = _vdsp(tmp_path / "v.json", (16, 16), "EQUAL")
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=vdsp, preset=preset, **extra)


def test_one_channel_model_is_refused(tmp_path: Path) -> None:
    lr, hr = _div2k_like(tmp_path, "x2.png", ".png", (20, 26), (40, 52))
    model = conv_model(tmp_path / "y.onnx", hw=(16, 16))
    with pytest.raises(UsageError, match="has 1 channel; the preset scores RGB models"):
        api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=_vdsp(tmp_path / "v.json", (16, 16), "DIV255"), preset="edsr")


def test_scoring_file_overrides_the_preset(tmp_path: Path) -> None:
    lr, hr = _div2k_like(tmp_path, "x2.png", ".png", (20, 26), (40, 52))
    model = write_sr(tmp_path / "edsr", edsr_spec(2), seed=0).model_path
    vdsp = _vdsp(tmp_path / "v.json", (16, 16), "EQUAL")
    scoring = tmp_path / "s.yaml"
    scoring.write_text("gt_resize: cv2_linear\n")
    area = api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=vdsp, preset="edsr")
    linear = api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=vdsp, preset="edsr", scoring=scoring)
    assert linear.scoring["gt_resize"] == "cv2_linear" and linear.mean_psnr_db != area.mean_psnr_db
    scoring.write_text("gt_rezise: cv2_linear\n")
    with pytest.raises(Exception, match="unknown key 'gt_rezise'"):
        api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=vdsp, scoring=scoring)


def test_html_with_preset_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(["infer", "--lr_image_dir", str(tmp_path), "--hr_image_dir", str(tmp_path), "-m", str(tmp_path / "m.onnx"),
                   "--preset", "edsr", "--html", str(tmp_path / "p.html")]) == 2
    assert "--html does not show --preset" in capsys.readouterr().err
