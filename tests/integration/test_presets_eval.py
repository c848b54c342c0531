"""`vampy eval --preset NAME` against each family script's convention written out here, independently
of vampy's code (numpy, OpenCV, Pillow and scikit-image as the scripts call them; SR-ZOO.md section 3).
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.support.cli import exit_code as _vampy
from tests.support.sr_scripts import script_psnr, script_ssim

PSNR_TOL_DB, SSIM_TOL = 1e-4, 1e-5


# --- synthetic data ---

def _image(seed: int, height: int, width: int) -> np.ndarray:
    noise = np.random.default_rng(seed).integers(0, 256, (height, width, 3)).astype(np.uint8)
    return cv2.GaussianBlur(noise, (5, 5), 1.2)


def _output(seed: int, height: int, width: int, low: float, high: float, channels: int = 3) -> np.ndarray:
    smooth = cv2.resize(_image(seed + 100, height, width), (width, height)).astype(np.float32)
    if channels == 1:
        smooth = smooth[:, :, :1]
    unit = smooth.transpose(2, 0, 1)[None] / 255.0
    return (low + unit * (high - low) + np.random.default_rng(seed).normal(0, 0.02 * (high - low), unit.shape)).astype(np.float32)


def _setup(root: Path, stems: list[str], outputs: list[np.ndarray], key: str = "output_0") -> None:
    (root / "gt").mkdir()
    (root / "out").mkdir()
    (root / "list.txt").write_text("".join(f"/data/npz/{stem}.npz\n" for stem in stems))
    for i, out in enumerate(outputs):
        np.savez(root / "out" / f"output_{i:06d}.npz", **{key: out})


def _run(root: Path, preset: str, *extra: str) -> dict:
    args = ["eval", "--preset", preset, "--gt_dir", str(root / "gt"), "--input_npz_path", str(root / "list.txt"),
            "--out_npz_dir", str(root / "out"), "--json", str(root / "r.json"), "-q", *extra]
    assert _vampy(args) == 0
    return json.loads((root / "r.json").read_text())


def _check(report: dict, expected: list[tuple[float, float | None]]) -> None:
    psnrs = [p for p, _ in expected]
    assert [i["psnr_db"] for i in report["images"]] == pytest.approx(psnrs, abs=PSNR_TOL_DB)
    assert report["mean_psnr_db"] == pytest.approx(float(np.mean(psnrs)), abs=PSNR_TOL_DB)
    ssims = [s for _, s in expected if s is not None]
    if ssims:
        assert report["mean_ssim"] == pytest.approx(float(np.mean(ssims)), abs=SSIM_TOL)
        assert [i["ssim"] for i in report["images"]] == pytest.approx(ssims, abs=SSIM_TOL)
    # schema 2: the same values under `metrics` (no ssim where the convention has none); the flat keys are v1 aliases
    assert report["schema_version"] == 2 and report["metrics"] == {
        k: v for k, v in (("psnr_db", report["mean_psnr_db"]), ("ssim", report["mean_ssim"])) if v is not None}
    assert [i["metrics"] for i in report["images"]] == [
        {k: v for k, v in (("psnr_db", i["psnr_db"]), ("ssim", i["ssim"])) if v is not None} for i in report["images"]]


def _bgr_hwc(out: np.ndarray) -> np.ndarray:
    return out[0].transpose(1, 2, 0)[:, :, [2, 1, 0]]


# A: 0..1 (x255 clip) or 0..255 raw; GT cv2, name .replace('x2', ''), INTER_LINEAR / INTER_AREA to output (W, H).
A_PRESETS = {
    "bicubic_plusplus": (True, cv2.INTER_LINEAR), "dipnet-basicsr": (True, cv2.INTER_LINEAR),
    "ecbsr-basicsr": (True, cv2.INTER_LINEAR), "edsr-basicsr": (True, cv2.INTER_AREA), "rcan-basicsr": (True, cv2.INTER_AREA),
    "msrn": (False, cv2.INTER_LINEAR), "ncnet": (False, cv2.INTER_LINEAR), "rcan": (False, cv2.INTER_LINEAR),
    "edsr": (False, cv2.INTER_AREA),
}


@pytest.mark.parametrize("preset", sorted(A_PRESETS))
def test_convention_a(tmp_path: Path, preset: str) -> None:
    unit, interpolation = A_PRESETS[preset]
    stems, sizes = ["0801x2", "0802x2"], [(24, 36), (30, 20)]
    outputs = [_output(i, h, w, -0.05, 1.05) if unit else _output(i, h, w, -10, 265) for i, (h, w) in enumerate(sizes)]
    _setup(tmp_path, stems, outputs)
    expected = []
    for i, (stem, out) in enumerate(zip(stems, outputs)):
        gt = _image(i, 50, 70)  # the native HR, resized to the output's size by the script
        cv2.imwrite(str(tmp_path / "gt" / (stem.replace("x2", "") + ".png")), gt)
        sr = _bgr_hwc(out)
        sr = np.clip(sr * 255.0, 0, 255) if unit else sr
        gt_r = cv2.resize(cv2.imread(str(tmp_path / "gt" / (stem.replace("x2", "") + ".png"))), (sr.shape[1], sr.shape[0]),
                          interpolation=interpolation)
        expected.append((script_psnr(sr, gt_r), script_ssim(sr, gt_r)))
    report = _run(tmp_path, preset)
    _check(report, expected)
    assert any("replace('x2', '')" in d for d in report["deviations"])


@pytest.mark.parametrize("preset", ["bsrgan", "esrgan", "real_esrgan", "lesrcnn"])
def test_convention_b(tmp_path: Path, preset: str) -> None:
    suffix = "x2" if preset == "lesrcnn" else "x4"
    stems = [f"0801{suffix}", f"0802{suffix}"]
    outputs = [_output(i, 32, 32, -0.05, 1.05) for i in range(2)]  # square: the scripts' (H, W) dsize works
    _setup(tmp_path, stems, outputs)
    expected = []
    for i, (stem, out) in enumerate(zip(stems, outputs)):
        path = tmp_path / "gt" / (stem.replace(suffix, "") + ".png")
        cv2.imwrite(str(path), _image(i, 60, 60))
        sr = (np.clip(_bgr_hwc(out), 0, 1) * 255).round().astype(np.uint8)
        flag = cv2.IMREAD_COLOR if preset == "lesrcnn" else cv2.IMREAD_UNCHANGED
        dsize = (sr.shape[1], sr.shape[0]) if preset == "lesrcnn" else sr.shape[:2]
        gt = cv2.resize(cv2.imread(str(path), flag), dsize, interpolation=cv2.INTER_AREA)
        expected.append((script_psnr(sr, gt), script_ssim(sr, gt)))
    _check(_run(tmp_path, preset), expected)


def test_convention_b_non_square_fixed(tmp_path: Path) -> None:
    """The (H, W) dsize of bsrgan's script crashes on 24x40 outputs; vampy resizes to (W, H) and says so."""
    out = _output(0, 24, 40, 0, 1)
    _setup(tmp_path, ["0801x4"], [out])
    cv2.imwrite(str(tmp_path / "gt" / "0801.png"), _image(0, 48, 80))
    sr = (np.clip(_bgr_hwc(out), 0, 1) * 255).round().astype(np.uint8)
    gt = cv2.resize(cv2.imread(str(tmp_path / "gt" / "0801.png")), (40, 24), interpolation=cv2.INTER_AREA)
    with pytest.raises(ValueError):  # the script's own call: the (H, W) dsize gives a 40x24 GT
        script_psnr(sr, cv2.resize(gt, sr.shape[:2], interpolation=cv2.INTER_AREA))
    report = _run(tmp_path, "bsrgan")
    _check(report, [(script_psnr(sr, gt), script_ssim(sr, gt))])
    assert any("(W, H)" in d for d in report["deviations"])


def test_scale_suffix_rule_on_x2_data_for_bsrgan(tmp_path: Path) -> None:
    """bsrgan's replace('x4', '') cannot find 0801.png for 0801x2 (the documented x2 run crashes); vampy strips x2."""
    out = _output(1, 16, 16, 0, 1)
    _setup(tmp_path, ["0801x2"], [out])
    cv2.imwrite(str(tmp_path / "gt" / "0801.png"), _image(3, 16, 16))
    assert not (tmp_path / "gt" / ("0801x2".replace("x4", "") + ".png")).exists()
    report = _run(tmp_path, "bsrgan")
    assert report["images"][0]["gt_path"].endswith("0801.png")


def test_set5_lrbi_maps_to_hr(tmp_path: Path) -> None:
    out = _output(2, 20, 20, 0, 255)
    _setup(tmp_path, ["baby_LRBI_x2"], [out])
    cv2.imwrite(str(tmp_path / "gt" / "baby_HR_x2.png"), _image(4, 20, 20))
    assert _run(tmp_path, "rcan")["images"][0]["gt_path"].endswith("baby_HR_x2.png")


def test_realsr_b3_and_true_mean_ssim(tmp_path: Path) -> None:
    stems = ["a", "b", "c"]
    outputs = [_output(i, 32, 32, -0.05, 1.05) for i in range(3)]
    _setup(tmp_path, stems, outputs)
    expected = []
    for i, (stem, out) in enumerate(zip(stems, outputs)):
        Image.fromarray(_image(i, 32, 32)).save(tmp_path / "gt" / f"{stem}.png")
        sr = (np.clip(_bgr_hwc(out), 0, 1) * 255).round().astype(np.uint8)
        gt = np.array(Image.open(tmp_path / "gt" / f"{stem}.png"))[:, :, ::-1]
        expected.append((script_psnr(sr, gt), script_ssim(sr, gt)))
    report = _run(tmp_path, "realsr")
    _check(report, expected)
    assert report["mean_ssim"] != pytest.approx(expected[-1][1], abs=SSIM_TOL)  # the script prints the last one
    assert any("last image" in d for d in report["deviations"])


def _tanh_pixels(out: np.ndarray) -> np.ndarray:
    return (np.clip(_bgr_hwc(out) * 0.5 + 0.5, 0, 1) * 255).astype(np.uint8)


def test_gpen_c1(tmp_path: Path) -> None:
    outputs = [_output(i, 48, 48, -1.05, 1.05) for i in range(2)]
    _setup(tmp_path, ["00000", "00001"], outputs)
    expected = []
    for i, out in enumerate(outputs):
        path = tmp_path / "gt" / f"0000{i}.jpg"
        cv2.imwrite(str(path), _image(i, 64, 64))
        sr = _tanh_pixels(out)
        gt = cv2.resize(cv2.imread(str(path)), (48, 48), interpolation=cv2.INTER_LINEAR)
        expected.append((script_psnr(sr, gt), script_ssim(sr, gt)))
    _check(_run(tmp_path, "gpen"), expected)


def test_sparnet_c2(tmp_path: Path) -> None:
    outputs = [_output(i, 32, 32, -1.05, 1.05) for i in range(2)]
    _setup(tmp_path, ["h1", "h2"], outputs)
    expected = []
    for i, out in enumerate(outputs):
        Image.fromarray(_image(i, 40, 40)).save(tmp_path / "gt" / f"h{i + 1}.png")
        gt = Image.open(tmp_path / "gt" / f"h{i + 1}.png").resize([32, 32], Image.NEAREST)
        gt = np.array(gt.convert("RGB"))[:, :, ::-1]
        expected.append((script_psnr(_tanh_pixels(out), gt), script_ssim(_tanh_pixels(out), gt)))
    _check(_run(tmp_path, "sparnet", "--input_shape", "32", "32"), expected)


def test_pfsrnet_c3(tmp_path: Path) -> None:
    outputs = [_output(i, 32, 32, -1.05, 1.05) for i in range(2)]
    _setup(tmp_path, ["000001", "000002"], outputs)
    expected = []
    for i, out in enumerate(outputs):
        path = tmp_path / "gt" / f"00000{i + 1}.jpg"
        Image.fromarray(_image(i, 218, 178)).save(path, quality=95)
        img = Image.open(path).convert("RGB")
        top = int(round((218 - 178) / 2.0))
        gt = np.array(img.crop((0, top, 178, top + 178)).resize((32, 32), Image.BILINEAR))[:, :, ::-1]
        expected.append((script_psnr(_tanh_pixels(out), gt), script_ssim(_tanh_pixels(out), gt)))
    _check(_run(tmp_path, "pfsrnet"), expected)


def test_fsrnet_d_scores_output_2_with_skimage(tmp_path: Path) -> None:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    outputs = [_output(i, 32, 32, -1.05, 1.05) for i in range(2)]
    (tmp_path / "gt").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "list.txt").write_text("/d/f1.npz\n/d/f2.npz\n")
    expected = []
    for i, out in enumerate(outputs):
        np.savez(tmp_path / "out" / f"output_{i:06d}.npz", output_0=np.zeros((1, 3, 4, 4), np.float32), output_2=out)
        path = tmp_path / "gt" / f"f{i + 1}.jpg"
        Image.fromarray(_image(i, 50, 50)).save(path)
        gt = np.array(Image.open(path).resize([32, 32], Image.BICUBIC))
        sr = np.clip((out.transpose(0, 2, 3, 1)[0] + 1) * 127.5, 0, 255).astype(np.uint8)
        expected.append((peak_signal_noise_ratio(gt, sr), structural_similarity(gt, sr, channel_axis=-1)))
    _check(_run(tmp_path, "fsrnet", "--input_shape", "32", "32"), expected)


def _srcnn_ycbcr(img: np.ndarray) -> np.ndarray:
    y = 16. + (64.738 * img[:, :, 0] + 129.057 * img[:, :, 1] + 25.064 * img[:, :, 2]) / 256.
    cb = 128. + (-37.945 * img[:, :, 0] - 74.494 * img[:, :, 1] + 112.439 * img[:, :, 2]) / 256.
    cr = 128. + (112.439 * img[:, :, 0] - 94.154 * img[:, :, 1] - 18.285 * img[:, :, 2]) / 256.
    return np.array([y, cb, cr]).transpose([1, 2, 0])


def _srcnn_rgb(img: np.ndarray) -> np.ndarray:
    r = 298.082 * img[:, :, 0] / 256. + 408.583 * img[:, :, 2] / 256. - 222.921
    g = 298.082 * img[:, :, 0] / 256. - 100.291 * img[:, :, 1] / 256. - 208.120 * img[:, :, 2] / 256. + 135.576
    b = 298.082 * img[:, :, 0] / 256. + 516.412 * img[:, :, 1] / 256. - 276.836
    return np.array([r, g, b]).transpose([1, 2, 0])


def test_ecbsr_f_recolours_y_with_lr_chroma(tmp_path: Path) -> None:
    out = _output(0, 40, 60, 0, 255, channels=1)
    _setup(tmp_path, ["0801x2"], [out])
    (tmp_path / "lr").mkdir()
    cv2.imwrite(str(tmp_path / "lr" / "0801x2.png"), _image(5, 17, 33))
    cv2.imwrite(str(tmp_path / "gt" / "0801.png"), _image(6, 40, 66))
    lr = cv2.resize(cv2.imread(str(tmp_path / "lr" / "0801x2.png")), (30, 20), interpolation=cv2.INTER_LINEAR)
    ycbcr = _srcnn_ycbcr(lr[:, :, ::-1].astype(np.float32)).astype(np.float32)
    ycbcr = cv2.resize(ycbcr, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
    ycbcr[:, :, 0] = out[0][0]
    sr = np.clip(_srcnn_rgb(ycbcr), 0, 255).astype(np.uint8)[:, :, ::-1]
    gt = cv2.resize(cv2.imread(str(tmp_path / "gt" / "0801.png")), (60, 40), interpolation=cv2.INTER_LINEAR)
    _check(_run(tmp_path, "ecbsr", "--lr_dir", str(tmp_path / "lr"), "--input_shape", "20", "30"),
           [(script_psnr(sr, gt), script_ssim(sr, gt))])


@pytest.mark.parametrize("preset", ["drrn", "vdsr"])
def test_convention_e_y(tmp_path: Path, preset: str) -> None:
    """Y in 0..1 rounded; GT .bmp without _scale_4, BGR2YCrCb, INTER_LINEAR to --input_shape, Y; shave 4; PSNR."""
    outputs = [_output(i, 24, 24, -0.05, 1.05, channels=1) for i in range(2)]
    stems = ["baby_GT_scale_4", "bird_GT_scale_4"]
    _setup(tmp_path, stems, outputs)
    expected = []
    for i, (stem, out) in enumerate(zip(stems, outputs)):
        path = tmp_path / "gt" / (stem.replace("_scale_4", "") + ".bmp")
        cv2.imwrite(str(path), _image(i, 30, 30))
        cv2.imwrite(str(tmp_path / "gt" / f"{stem}.bmp"), _image(i + 9, 30, 30))  # the source, for --src_dir
        sr = (np.clip(out[0][0], 0, 1) * 255).round().astype(np.uint8)
        gt = cv2.resize(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2YCrCb), [24, 24], interpolation=cv2.INTER_LINEAR)[:, :, 0]
        diff = (sr.astype(np.float64) - gt.astype(np.float64))[4:-4, 4:-4]
        expected.append((20 * math.log10(255.0 / math.sqrt(np.mean(diff ** 2))), None))
    report = _run(tmp_path, preset, "--src_dir", str(tmp_path / "gt"), "--input_shape", "24", "24")
    assert [i["scores"]["psnr_db"] for i in report["images"]] == pytest.approx([p for p, _ in expected], abs=PSNR_TOL_DB)
    assert report["preset"] == preset and report["deviations"]
    assert [i["metrics"]["psnr_db"] for i in report["images"]] == [i["scores"]["psnr_db"] for i in report["images"]]
    assert report["metrics"] == report["mean"]  # drrn/vdsr are plain eval's Y convention: its metrics, bicubic included


# --- bad input: one clear line each ---

def _bad(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str]:
    code = _vampy(["eval", "--gt_dir", str(tmp_path / "gt"), "--input_npz_path", str(tmp_path / "list.txt"),
                   "--out_npz_dir", str(tmp_path / "out"), "-q", *args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_unknown_preset_lists_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _setup(tmp_path, ["a"], [_output(0, 16, 16, 0, 1)])
    code, err = _bad(tmp_path, capsys, ["--preset", "edsrr"])
    assert code == 2 and "'edsrr'" in err and "bicubic_plusplus" in err and "real_esrgan" in err


def test_missing_key_and_wrong_shape_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _setup(tmp_path, ["ax2", "bx2", "cx2"], [_output(0, 16, 16, 0, 1), _output(1, 16, 16, 0, 1, channels=1), _output(2, 16, 16, 0, 1)])
    np.savez(tmp_path / "out" / "output_000000.npz", other=np.zeros((1, 3, 16, 16), np.float32))
    for stem in ("a", "b", "c"):
        cv2.imwrite(str(tmp_path / "gt" / f"{stem}.png"), _image(0, 16, 16))
    code, err = _bad(tmp_path, capsys, ["--preset", "edsr"])
    assert code == 6
    assert "output_000000.npz: no key output_0 (keys: other)" in err
    assert "output_000001.npz: output_0 has shape (1, 1, 16, 16); preset edsr expects (1, 3, H, W) RGB" in err


def test_missing_gt_named_exit_6_rest_scored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _setup(tmp_path, ["ax2", "bx2"], [_output(0, 16, 16, 0, 1), _output(1, 16, 16, 0, 1)])
    cv2.imwrite(str(tmp_path / "gt" / "a.png"), _image(0, 16, 16))
    code, err = _bad(tmp_path, capsys, ["--preset", "edsr-basicsr", "--json", str(tmp_path / "r.json")])
    assert code == 6 and "b.png: no ground truth for datalist line bx2" in err
    assert len(json.loads((tmp_path / "r.json").read_text())["images"]) == 1


def test_count_mismatch_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _setup(tmp_path, ["ax2", "bx2"], [_output(0, 16, 16, 0, 1)])
    code, err = _bad(tmp_path, capsys, ["--preset", "msrn"])
    assert code == 3 and "1 npz files for 2 lines" in err and len(err.strip().splitlines()) == 1


def test_ecbsr_needs_lr_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _setup(tmp_path, ["ax2"], [_output(0, 16, 16, 0, 255, channels=1)])
    code, err = _bad(tmp_path, capsys, ["--preset", "ecbsr"])
    assert code == 3 and "--lr_dir is required" in err


def test_draw_dir_writes_decoded(tmp_path: Path) -> None:
    out = _output(0, 16, 20, -1, 1)
    _setup(tmp_path, ["x"], [out])
    cv2.imwrite(str(tmp_path / "gt" / "x.jpg"), _image(0, 16, 20))
    _run(tmp_path, "gpen", "--draw_dir", str(tmp_path / "draw"))
    assert np.array_equal(cv2.imread(str(tmp_path / "draw" / "x.png")), _tanh_pixels(out))


def test_scoring_file_over_preset(tmp_path: Path) -> None:
    out = _output(0, 16, 20, 0, 1)
    _setup(tmp_path, ["0801x3"], [out])
    cv2.imwrite(str(tmp_path / "gt" / "0801.png"), _image(0, 30, 40))
    (tmp_path / "s.yaml").write_text("gt_resize: cv2_area\nquantise: round\nclip: [0, 255]\n")
    sr = np.round(np.clip(_bgr_hwc(out) * 255.0, 0, 255))
    gt = cv2.resize(cv2.imread(str(tmp_path / "gt" / "0801.png")), (20, 16), interpolation=cv2.INTER_AREA)
    _check(_run(tmp_path, "bicubic_plusplus", "--scoring", str(tmp_path / "s.yaml")), [(script_psnr(sr, gt), script_ssim(sr, gt))])


def test_list_presets(capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(["eval", "--list_presets"]) == 0
    out = capsys.readouterr().out
    for name in ("bicubic_plusplus", "fsrnet", "vdsr", "rcan-basicsr", "output_2"):
        assert name in out


EXPECTED_PRESETS: list[str] = sorted([
    "bicubic_plusplus", "bsrgan", "dipnet-basicsr", "drrn", "ecbsr", "ecbsr-basicsr", "edsr", "edsr-basicsr", "esrgan",
    "fsrnet", "gpen", "lesrcnn", "msrn", "ncnet", "pfsrnet", "rcan", "rcan-basicsr", "real_esrgan", "realsr", "sparnet", "vdsr",
])
_: Callable[..., object] = _check


def test_every_preset_named_in_the_issue_exists() -> None:
    from vampy.quality.presets import PRESETS

    assert sorted(PRESETS) == EXPECTED_PRESETS
