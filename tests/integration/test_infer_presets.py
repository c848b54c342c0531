"""`vampy infer --preset NAME` equals the npz route (image2npz --preset + run --datalist + eval --preset, the
real commands) on the zoo's RGB models and made-up images; refusals and per-image failures."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.models import conv_model
from tests.support.cli import exit_code as _vampy
from tests.support.sr_models import resize_vdsp, upsample_model
from vampy.api import infer as api_infer
from vampy.errors import PartialResult, UsageError
from vampy.models.zoo_sr import edsr_spec, face_spec, write_sr

NAMES = ("0803", "0801", "0802")  # made in this order: results must come back in name order


def _image(seed: int, height: int, width: int) -> np.ndarray:
    noise = np.random.default_rng(seed).integers(0, 256, (height, width, 3)).astype(np.uint8)
    return cv2.GaussianBlur(noise, (7, 7), 2)


def _div2k_like(root: Path, lr_suffix: str, gt_suffix: str, lr_hw: tuple[int, int], gt_hw: tuple[int, int]) -> tuple[Path, Path]:
    lr, hr = root / "lr", root / "hr"
    lr.mkdir(parents=True)
    hr.mkdir()
    for seed, name in enumerate(NAMES):
        gt = _image(seed, *gt_hw)
        cv2.imwrite(str(hr / f"{name}{gt_suffix}"), gt)
        cv2.imwrite(str(lr / f"{name}{lr_suffix}"), cv2.resize(gt, (lr_hw[1], lr_hw[0]), interpolation=cv2.INTER_CUBIC))
    return lr, hr


def _npz_route(
    tmp: Path, preset: str, lr: Path, hr: Path, model: Path, vdsp: Path, shape: str,
    prep_extra: tuple[str, ...] = (), eval_extra: tuple[str, ...] = (),
) -> dict[str, Any]:
    datalist, npz, out, report = tmp / "datalist.txt", tmp / "npz", tmp / "out", tmp / "eval.json"
    assert _vampy(["image2npz", "--preset", preset, "--dataset_path", str(lr), "--target_path", str(npz), "--text_path", str(datalist),
                   *prep_extra, "-q"]) == 0
    assert _vampy(["run", "-m", str(model), "--vdsp_params", str(vdsp), "-i", "1", "p", "1", "-b", "1", "-s", shape,
                   "--datalist", str(datalist), "--path_output", str(out)]) == 0
    assert _vampy(["eval", "--preset", preset, "--gt_dir", str(hr), "--input_npz_path", str(datalist), "--out_npz_dir", str(out),
                   *eval_extra, "--vamp_flag", "-q", "--json", str(report)]) == 0
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def _assert_same(infer_report: Any, eval_data: dict[str, Any]) -> None:
    assert [i["name"] for i in eval_data["images"]] == [i.name for i in infer_report.images]
    assert [i["psnr_db"] for i in eval_data["images"]] == [i.psnr_db for i in infer_report.images]
    assert [i["ssim"] for i in eval_data["images"]] == [i.ssim for i in infer_report.images]
    assert infer_report.mean_psnr_db == eval_data["mean_psnr_db"] and infer_report.mean_ssim == eval_data["mean_ssim"]
    assert infer_report.deviations == tuple(eval_data["deviations"])
    # one report shape: infer's metrics are eval's, per image and mean, in the same names
    assert [i["metrics"] for i in eval_data["images"]] == [i.metrics for i in infer_report.images]
    assert infer_report.metrics == eval_data["metrics"] and infer_report.to_dict()["metrics"] == eval_data["metrics"]


def test_edsr_x2_infer_preset_equals_npz_route(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lr, hr = _div2k_like(tmp_path, "x2.png", ".png", (20, 26), (40, 52))
    model = write_sr(tmp_path / "edsr", edsr_spec(2), seed=3).model_path
    vdsp = resize_vdsp(tmp_path / "edsr-vdsp.json", (24, 32), "EQUAL")
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
    vdsp = resize_vdsp(tmp_path / "v.json", (16, 16), "EQUAL")
    out = tmp_path / "r.json"
    assert _vampy(["infer", "--lr_image_dir", str(lr), "--hr_image_dir", str(hr), "-m", str(model), "--vdsp_params", str(vdsp),
                   "--preset", "edsr", "-q", "--json", str(out)]) == 0
    captured = capsys.readouterr()
    data = json.loads(out.read_text())
    assert data["kind"] == "infer" and data["preset"] == "edsr" and len(data["images"]) == 3
    assert f"mean psnr: {data['mean_psnr_db']!r}" in captured.out and f"mean ssim: {data['mean_ssim']!r}" in captured.out
    assert "preset edsr (convention A4)" in captured.out and "differs from the family's script" not in captured.err  # -q
    assert data["deviations"]  # they stay in the report
    assert _vampy(["infer", "--lr_image_dir", str(lr), "--hr_image_dir", str(hr), "-m", str(model), "--vdsp_params", str(vdsp),
                   "--preset", "edsr"]) == 0
    assert "differs from the family's script" in capsys.readouterr().err


def test_gpen_face_model_infer_preset_equals_npz_route(tmp_path: Path) -> None:
    lr, hr = _div2k_like(tmp_path, ".png", ".jpg", (30, 30), (40, 40))  # gpen: LQ name = GT name, GT .jpg
    model = write_sr(tmp_path / "face", face_spec(1), seed=1).model_path
    vdsp = resize_vdsp(tmp_path / "face-vdsp.json", (32, 32), "DIV255_MINUSMEAN_DIVSTD", 0.5, 0.5)
    eval_data = _npz_route(tmp_path, "gpen", lr, hr, model, vdsp, "[3,32,32]")
    report = api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=vdsp, preset="gpen")
    _assert_same(report, eval_data)
    assert report.scoring["quantise"] == "trunc" and report.images[0].height_px == 32


def test_pfsrnet_face_x8_uses_the_pillow_recipe(tmp_path: Path) -> None:
    lr, hr = _div2k_like(tmp_path, ".jpg", ".jpg", (190, 180), (190, 180))  # pfsrnet: crop 178 of the same .jpg
    model = write_sr(tmp_path / "face", face_spec(8), seed=2).model_path
    vdsp = resize_vdsp(tmp_path / "face-vdsp.json", (16, 16), "DIV255_MINUSMEAN_DIVSTD", 0.5, 0.5)
    eval_data = _npz_route(tmp_path, "pfsrnet", lr, hr, model, vdsp, "[3,16,16]")
    report = api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=vdsp, preset="pfsrnet")
    _assert_same(report, eval_data)
    assert (report.images[0].height_px, report.images[0].width_px) == (128, 128)


@pytest.mark.parametrize("in_ch", [1, 3])  # ECBSR's Y,Y,Y stack feeds a 1-channel model its first plane, a 3-channel one all three
def test_ecbsr_y_model_recoloured_with_the_input_chroma_equals_npz_route(tmp_path: Path, in_ch: int) -> None:
    lr, hr = _div2k_like(tmp_path, "x2.png", ".png", (20, 26), (40, 52))
    model = upsample_model(tmp_path / "ecbsr.onnx", in_ch, 1, 2, seed=4)
    vdsp = resize_vdsp(tmp_path / "ecbsr-vdsp.json", (24, 32), "EQUAL")
    # eval's --input_shape is the model's input size the LR chroma is resized to: infer knows it from the vdsp file.
    eval_data = _npz_route(tmp_path, "ecbsr", lr, hr, model, vdsp, "[3,24,32]",
                           eval_extra=("--lr_dir", str(lr), "--input_shape", "24", "32"))
    report = api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=vdsp, preset="ecbsr", save_dir=tmp_path / "sr")
    _assert_same(report, eval_data)
    assert [i.name for i in report.images] == ["0801x2", "0802x2", "0803x2"]
    assert (report.images[0].height_px, report.images[0].width_px) == (48, 64)  # x2 of the vdsp size; GT INTER_LINEAR to it
    assert report.saved == 3 and cv2.imread(str(tmp_path / "sr" / "0801x2.png")).shape == (48, 64, 3)
    assert report.scoring["layout"] == "y_chroma" and 15.0 < report.mean_psnr_db < 40.0  # colour PSNR of a near-identity Y model
    # The recoloured picture is eval --draw_dir's, pixel for pixel: the chroma is the input image's own.
    with_draw = tmp_path / "draw"
    assert _vampy(["eval", "--preset", "ecbsr", "--gt_dir", str(hr), "--input_npz_path", str(tmp_path / "datalist.txt"),
                   "--out_npz_dir", str(tmp_path / "out"), "--lr_dir", str(lr), "--input_shape", "24", "32", "--draw_dir", str(with_draw),
                   "--vamp_flag", "-q"]) == 0
    assert np.array_equal(cv2.imread(str(with_draw / "0802x2.png")), cv2.imread(str(tmp_path / "sr" / "0802x2.png")))


def test_a_y_chroma_scoring_file_without_preset_feeds_ecbsrs_y(tmp_path: Path) -> None:
    """A --scoring file names no input recipe: a y_chroma one is fed as ecbsr is (its Y), not as plain RGB."""
    import yaml

    from vampy.quality.presets import get_preset

    lr, hr = _div2k_like(tmp_path, "x2.png", ".png", (20, 26), (40, 52))
    model = upsample_model(tmp_path / "ecbsr.onnx", 1, 1, 2, seed=4)
    vdsp = resize_vdsp(tmp_path / "ecbsr-vdsp.json", (24, 32), "EQUAL")
    record = {k: v for k, v in get_preset("ecbsr").to_dict().items() if k not in ("name", "families", "deviations")}
    scoring = tmp_path / "mine.yaml"
    scoring.write_text(yaml.safe_dump(record))
    by_preset = api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=vdsp, preset="ecbsr")
    by_file = api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=vdsp, scoring=scoring)
    assert [i.psnr_db for i in by_file.images] == [i.psnr_db for i in by_preset.images]


def test_ecbsr_input_shape_sets_the_chroma_size(tmp_path: Path) -> None:
    lr, hr = _div2k_like(tmp_path, "x2.png", ".png", (20, 26), (40, 52))
    model = upsample_model(tmp_path / "ecbsr.onnx", 1, 1, 2, seed=5)
    vdsp = resize_vdsp(tmp_path / "ecbsr-vdsp.json", (24, 32), "EQUAL")
    eval_data = _npz_route(tmp_path, "ecbsr", lr, hr, model, resize_vdsp(tmp_path / "v2.json", (20, 26), "EQUAL"), "[3,20,26]",
                           eval_extra=("--lr_dir", str(lr), "--input_shape", "20", "26"))
    report = api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=vdsp, preset="ecbsr", input_shape=(20, 26))
    _assert_same(report, eval_data)
    native = api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, preset="ecbsr", native=True)  # each image's own size: 20x26 here
    assert [i.psnr_db for i in native.images] == [i.psnr_db for i in report.images]


def test_ecbsr_rgb_output_model_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lr, hr = _div2k_like(tmp_path, "x2.png", ".png", (20, 26), (40, 52))
    model = upsample_model(tmp_path / "rgb.onnx", 3, 3, 2, seed=0)
    vdsp = resize_vdsp(tmp_path / "v.json", (24, 32), "EQUAL")
    assert _vampy(["infer", "--lr_image_dir", str(lr), "--hr_image_dir", str(hr), "-m", str(model), "--vdsp_params", str(vdsp),
                   "--preset", "ecbsr", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "vampy: error: --preset ecbsr reads output_0 as Y (N, 1, 2H, 2W), but the model's output 'output' is ?x3x?x?; " \
                  "an RGB-output ECBSR is --preset ecbsr-basicsr"


def test_ecbsr_model_that_is_not_x2_fails_each_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lr, hr = _div2k_like(tmp_path, "x2.png", ".png", (20, 26), (40, 52))
    model = conv_model(tmp_path / "x1.onnx", in_ch=1, out_ch=1, dynamic=True)  # Y in, Y out at the same size
    vdsp = resize_vdsp(tmp_path / "v.json", (24, 32), "EQUAL")
    assert _vampy(["infer", "--lr_image_dir", str(lr), "--hr_image_dir", str(hr), "-m", str(model), "--vdsp_params", str(vdsp),
                   "--preset", "ecbsr", "-q"]) == 3
    err = capsys.readouterr().err
    assert "Y output is 24x32 for a 24x32 model input; preset ecbsr recolours x2 outputs (48x64)" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def _originals(root: Path, sizes: tuple[tuple[int, int], ...] = ((60, 80), (90, 70), (64, 64))) -> Path:
    """DIV2K_valid_HR-like originals of different sizes and aspect ratios (realsr squashes each to a square)."""
    folder = root / "orig"
    folder.mkdir()
    for seed, (name, hw) in enumerate(zip(NAMES, sizes)):
        cv2.imwrite(str(folder / f"{name}.png"), _image(seed + 10, *hw))
    return folder


def _realsr_model(tmp_path: Path) -> tuple[Path, Path]:
    model = upsample_model(tmp_path / "realsr.onnx", 3, 3, 4, seed=6)
    return model, resize_vdsp(tmp_path / "realsr-vdsp.json", (128, 128), "DIV255")


def test_realsr_originals_as_both_dirs_equal_npz_route(tmp_path: Path) -> None:
    originals = _originals(tmp_path)
    model, vdsp = _realsr_model(tmp_path)
    hr512 = tmp_path / "hr512"
    eval_data = _npz_route(tmp_path, "realsr", originals, hr512, model, vdsp, "[3,128,128]", prep_extra=("--hr_path", str(hr512)))
    report = api_infer(lr_image_dir=originals, model=model, hr_image_dir=originals, vdsp_params=vdsp, preset="realsr",
                       save_dir=tmp_path / "sr")
    _assert_same(report, eval_data)
    assert [i.name for i in report.images] == ["0801", "0802", "0803"]
    assert [(i.height_px, i.width_px) for i in report.images] == [(512, 512)] * 3
    assert report.saved == 3 and 15.0 < report.mean_psnr_db < 45.0
    # The folder image2npz --hr_path wrote is a ground-truth folder too: 512x512 already, the same scores.
    from_hr512 = api_infer(lr_image_dir=originals, model=model, hr_image_dir=hr512, vdsp_params=vdsp, preset="realsr")
    _assert_same(from_hr512, eval_data)


def test_realsr_palette_original_goes_through_rgb_first(tmp_path: Path) -> None:
    originals = _originals(tmp_path)
    rgb = Image.open(originals / "0802.png").convert("RGB")
    rgb.quantize(64).save(originals / "0802.png")  # a palette PNG: image2npz converts to RGB before both resizes
    model, vdsp = _realsr_model(tmp_path)
    hr512 = tmp_path / "hr512"
    eval_data = _npz_route(tmp_path, "realsr", originals, hr512, model, vdsp, "[3,128,128]", prep_extra=("--hr_path", str(hr512)))
    _assert_same(api_infer(lr_image_dir=originals, model=model, hr_image_dir=originals, vdsp_params=vdsp, preset="realsr"), eval_data)


def test_realsr_without_the_originals_names_what_hr_image_dir_holds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    originals = _originals(tmp_path)
    elsewhere = tmp_path / "jpg"
    elsewhere.mkdir()
    for name in NAMES:  # realsr's name rule: NAME.png, so .jpg originals are not its ground truth
        cv2.imwrite(str(elsewhere / f"{name}.jpg"), cv2.imread(str(originals / f"{name}.png")))
    model, vdsp = _realsr_model(tmp_path)
    assert _vampy(["infer", "--lr_image_dir", str(originals), "--hr_image_dir", str(elsewhere), "-m", str(model),
                   "--vdsp_params", str(vdsp), "--preset", "realsr", "-q"]) == 3
    err = capsys.readouterr().err
    assert f"{elsewhere / '0801.png'}: no ground truth for 0801 (preset realsr: same + .png); with realsr --hr_image_dir holds " \
           "the originals the HR-512 is made from" in err
    assert "Traceback" not in err


def test_realsr_model_that_is_not_128_to_512_fails_each_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    originals = _originals(tmp_path)
    model = upsample_model(tmp_path / "x2.onnx", 3, 3, 2, seed=0)
    vdsp = resize_vdsp(tmp_path / "v.json", (128, 128), "DIV255")
    assert _vampy(["infer", "--lr_image_dir", str(originals), "--hr_image_dir", str(originals), "-m", str(model),
                   "--vdsp_params", str(vdsp), "--preset", "realsr", "-q"]) == 3
    assert "decoded output is 256x256 but the ground truth is compared at 512x512 (preset realsr: image2npz --preset realsr's HR-512)" \
        in capsys.readouterr().err


def test_realsr_scoring_file_may_not_resize_its_ground_truth(tmp_path: Path) -> None:
    originals = _originals(tmp_path)
    model, vdsp = _realsr_model(tmp_path)
    scoring = tmp_path / "s.yaml"
    scoring.write_text("gt_resize: cv2_area\n")
    with pytest.raises(UsageError, match="the realsr ground truth is image2npz's HR-512, compared as it is; keep gt_resize none"):
        api_infer(lr_image_dir=originals, model=model, hr_image_dir=originals, vdsp_params=vdsp, preset="realsr", scoring=scoring)


def test_missing_ground_truth_is_listed_and_the_rest_scored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lr, hr = _div2k_like(tmp_path, "x2.png", ".png", (20, 26), (40, 52))
    (hr / "0802.png").unlink()
    model = write_sr(tmp_path / "edsr", edsr_spec(2), seed=0).model_path
    vdsp = resize_vdsp(tmp_path / "v.json", (16, 16), "EQUAL")
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
        ("nosuch", {}, "no such preset; choose one of"),  # nothing close: no guess
        ("vdsr", {}, "drop --preset and give --scale 4"),
        ("ecbsr", {}, "reads output_0 as Y (N, 1, 2H, 2W), but the model's output 'output' is ?x3x?x?; "
                      "an RGB-output ECBSR is --preset ecbsr-basicsr"),
        ("fsrnet", {}, "reads output_2, but the model has 1 output(s)"),
        ("edsr", {"gt_pattern": "{stem}.png"}, "--gt_pattern does not apply"),
        ("edsr", {"mode": "y3"}, "--mode y3"),
    ],
)
def test_refusals_name_the_fix(tmp_path: Path, preset: str, extra: dict[str, Any], message: str) -> None:
    lr, hr = _div2k_like(tmp_path, "x2.png", ".png", (20, 26), (40, 52))
    model = write_sr(tmp_path / "edsr", edsr_spec(2), seed=0).model_path
    vdsp = resize_vdsp(tmp_path / "v.json", (16, 16), "EQUAL")
    with pytest.raises(UsageError, match=re.escape(message)):
        api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=vdsp, preset=preset, **extra)


def test_one_channel_model_is_refused(tmp_path: Path) -> None:
    lr, hr = _div2k_like(tmp_path, "x2.png", ".png", (20, 26), (40, 52))
    model = conv_model(tmp_path / "y.onnx", hw=(16, 16))
    with pytest.raises(UsageError, match="has 1 channel; the preset scores RGB models"):
        api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=resize_vdsp(tmp_path / "v.json", (16, 16), "DIV255"),
                  preset="edsr")


def test_scoring_file_overrides_the_preset(tmp_path: Path) -> None:
    lr, hr = _div2k_like(tmp_path, "x2.png", ".png", (20, 26), (40, 52))
    model = write_sr(tmp_path / "edsr", edsr_spec(2), seed=0).model_path
    vdsp = resize_vdsp(tmp_path / "v.json", (16, 16), "EQUAL")
    scoring = tmp_path / "s.yaml"
    scoring.write_text("gt_resize: cv2_linear\n")
    area = api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=vdsp, preset="edsr")
    linear = api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=vdsp, preset="edsr", scoring=scoring)
    assert linear.scoring["gt_resize"] == "cv2_linear" and linear.mean_psnr_db != area.mean_psnr_db
    scoring.write_text("gt_rezise: cv2_linear\n")
    with pytest.raises(Exception, match="unknown key 'gt_rezise'"):
        api_infer(lr_image_dir=lr, model=model, hr_image_dir=hr, vdsp_params=vdsp, scoring=scoring)


def test_scoring_file_of_layout_y_is_refused(tmp_path: Path) -> None:
    lr, hr = _div2k_like(tmp_path, "x2.png", ".png", (20, 26), (40, 52))
    scoring = tmp_path / "y.yaml"
    scoring.write_text("layout: y\n")
    with pytest.raises(UsageError, match="layout y is scored by the drrn/vdsr convention, vampy infer without --preset"):
        api_infer(lr_image_dir=lr, model=upsample_model(tmp_path / "m.onnx", 3, 1, 2, seed=0), hr_image_dir=hr, scoring=scoring)


def test_html_with_preset_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(["infer", "--lr_image_dir", str(tmp_path), "--hr_image_dir", str(tmp_path), "-m", str(tmp_path / "m.onnx"),
                   "--preset", "edsr", "--html", str(tmp_path / "p.html")]) == 2
    assert "--html does not show --preset" in capsys.readouterr().err
