"""Colorization, low-light (CZ-1, LLE-1, LLE-2) and salient-object (SOD-1/2 + SOD-0) presets against independent
transcriptions of the vendor scripts (ZOO-EVAL.md 2.6, 2.8)."""
from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

import vampy
from tests.support.sr_scripts import script_psnr, script_ssim
from vampy.errors import PartialResult, UsageError
from vampy.quality.families import FAMILY_PRESETS, SOD_METRICS
from vampy.quality.family_eval import vendor_line

RNG = np.random.default_rng(11)


def _write(tmp_path: Path, names: list[str], outputs: list[dict[str, np.ndarray]]) -> dict[str, str]:
    out = tmp_path / "out"
    out.mkdir()
    for i, arrays in enumerate(outputs):
        members: dict[str, Any] = {k: v.astype(np.float32) for k, v in arrays.items()}
        np.savez(out / f"output_{i:06d}.npz", **members)
    datalist = tmp_path / "datalist.txt"
    datalist.write_text("".join(f"/data/npz/{n}.npz\n" for n in names))
    (tmp_path / "gt").mkdir(exist_ok=True)
    return dict(input_npz_path=str(datalist), out_npz_dir=str(out), gt_dir=str(tmp_path / "gt"))


def _imread(path: Path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    image = cv2.imread(str(path), flags)
    assert image is not None, path
    return np.asarray(image)


def _gt(tmp_path: Path, file_name: str, hw: tuple[int, int]) -> np.ndarray:
    """A BGR ground truth saved losslessly (PNG bytes, even under a .jpg name: cv2 reads by content)."""
    image = (RNG.random((*hw, 3)) * 255).astype(np.uint8)
    ok, data = cv2.imencode(".png", image)
    assert ok
    (tmp_path / "gt").mkdir(exist_ok=True)
    (tmp_path / "gt" / file_name).write_bytes(data.tobytes())
    return image


def test_colorization_gpen_truncates_and_resizes_non_square_gt(tmp_path: Path) -> None:
    sizes = {"zz_first": ((15, 13), (12, 14)), "aa_second": ((12, 14), (12, 14))}  # decoy: datalist order is not sorted order
    outputs, refs = [], []
    for name, (gt_hw, out_hw) in sizes.items():
        gt = _gt(tmp_path, f"{name}.jpg", gt_hw)
        k = RNG.integers(0, 255, (3, *out_hw))
        x = (2 * ((k + 0.5) / 255) - 1).astype(np.float32)  # x*0.5+0.5 lands on (k + .5)/255: truncation gives k
        x[0, :2] = RNG.uniform(-1.3, 1.3, (2, out_hw[1]))  # past the clip on both sides
        outputs.append({"output_0": x[None]})
        pred = (np.clip(np.transpose(x[[2, 1, 0]], (1, 2, 0)) * 0.5 + 0.5, 0, 1) * 255).astype(np.uint8)
        refs.append((pred, cv2.resize(gt, out_hw[::-1])))
    flags = _write(tmp_path, list(sizes), outputs)
    report = vampy.evaluate(preset="colorization_gpen", draw_dir=str(tmp_path / "draw"), **flags)
    for image, (pred, gt) in zip(report.images, refs):
        assert image.metrics["psnr"] == pytest.approx(script_psnr(gt, pred), abs=1e-9)
        assert image.metrics["ssim"] == pytest.approx(script_ssim(gt, pred), abs=1e-9)
    assert report.metrics["mean_psnr"] == pytest.approx(np.mean([script_psnr(g, p) for p, g in refs]), abs=1e-9)
    assert np.array_equal(_imread(tmp_path / "draw" / "zz_first.png"), refs[0][0])
    line = vendor_line(FAMILY_PRESETS["colorization_gpen"], report.metrics)
    assert line == f"mean psnr: {report.metrics['mean_psnr']}, mean ssim: {report.metrics['mean_ssim']}"


def test_lowlight_usuir_float_clip_jpg_name_and_the_failures(tmp_path: Path) -> None:
    gt = _gt(tmp_path, "b.jpg", (13, 17))
    x = RNG.uniform(-0.2, 1.2, (1, 3, 12, 16)).astype(np.float32)
    flags = _write(tmp_path, ["b", "no_gt", "no_output"], [{"output_0": x}, {"output_0": x}])
    with pytest.raises(PartialResult) as caught:
        vampy.evaluate(preset="lowlight_usuir", input_shape=(99, 99), draw_dir=str(tmp_path / "d"), **flags)
    report = caught.value.report  # type: ignore[attr-defined]
    pred = np.clip(np.transpose(np.squeeze(x)[[2, 1, 0]], (1, 2, 0)) * 255, 0, 255)  # kept as float
    ref = cv2.resize(gt, (16, 12))
    assert report.metrics["mean_psnr"] == pytest.approx(script_psnr(ref, pred), abs=1e-9)
    assert report.metrics["mean_ssim"] == pytest.approx(script_ssim(ref, pred), abs=1e-9)
    reasons = " | ".join(f.reason for f in report.failures)
    assert len(report.failures) == 2 and "no_gt.jpg" in reasons and "has no output" in reasons
    drawn = _imread(tmp_path / "d" / "b.png")
    assert np.array_equal(drawn, np.clip(np.round(pred), 0, 255).astype(np.uint8))  # cv2.imwrite(float) rounds half to even


def test_lowlight_pairlie_retinex_product_and_negative_light(tmp_path: Path) -> None:
    gt = _gt(tmp_path, "p.png", (11, 12))
    light = RNG.uniform(0.01, 1, (1, 1, 11, 12)).astype(np.float32)
    reflectance = RNG.uniform(0, 1.5, (1, 3, 11, 12)).astype(np.float32)
    light_neg = light.copy()
    light_neg[0, 0, 3, :4] = -0.05
    flags = _write(tmp_path, ["p", "p"], [{"output_0": light, "output_1": reflectance}, {"output_0": light_neg, "output_1": reflectance}])
    report = vampy.evaluate(preset="lowlight_pairlie", **flags)

    def vendor(l_map: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            out = np.squeeze(np.power(l_map, 0.2) * reflectance)
        return np.clip(np.transpose(out[[2, 1, 0]], (1, 2, 0)) * 255, 0, 255)

    assert report.images[0].metrics["psnr"] == pytest.approx(script_psnr(gt, vendor(light)), abs=1e-9)
    assert report.images[0].metrics["ssim"] == pytest.approx(script_ssim(gt, vendor(light)), abs=1e-9)
    assert math.isnan(script_psnr(gt, vendor(light_neg)))  # the script's NaN: vampy takes L < 0 as 0 (a deviation)
    clamped = vendor(np.maximum(light_neg, 0))
    assert report.images[1].metrics["psnr"] == pytest.approx(script_psnr(gt, clamped), abs=1e-9)
    assert any("L < 0" in d for d in report.deviations)


def test_pixel_presets_small_image_ssim_is_nan_as_printed(tmp_path: Path) -> None:
    gt = _gt(tmp_path, "s.png", (8, 8))
    x = RNG.uniform(0, 1, (1, 1, 8, 8)).astype(np.float32)
    report = vampy.evaluate(preset="lowlight_pairlie", **_write(tmp_path, ["s"], [{"output_0": x, "output_1": np.ones((1, 3, 8, 8))}]))
    pred = np.clip(np.transpose(np.squeeze(np.power(x, 0.2) * np.ones((1, 3, 8, 8), np.float32))[[2, 1, 0]], (1, 2, 0)) * 255, 0, 255)
    assert report.metrics["mean_psnr"] == pytest.approx(script_psnr(gt, pred), abs=1e-9)
    assert math.isnan(report.metrics["mean_ssim"]) and math.isnan(script_ssim(gt, pred))


def test_pixel_preset_flags(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--gt_dir"):
        vampy.evaluate(preset="lowlight_usuir", input_npz_path="d.txt", out_npz_dir=str(tmp_path))


# --- salient objects ---


def _masks(tmp_path: Path, sizes: dict[str, tuple[int, int]]) -> dict[str, np.ndarray]:
    (tmp_path / "gt").mkdir(exist_ok=True)
    masks = {}
    for name, (h, w) in sizes.items():
        mask = np.zeros((h, w), np.uint8)
        mask[h // 4 : 3 * h // 4, w // 5 : 4 * w // 5] = 255
        cv2.imwrite(str(tmp_path / "gt" / f"{name}.png"), mask)
        masks[name] = mask
    return masks


def _toolkit(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """eval.py's GrayscaleMetricRecorder(mae fmeasure precision recall em sm wfm), built as the toolkit builds it."""
    lib = pytest.importorskip("py_sod_metrics")
    fm = lib.FmeasureV2()
    fm.add_handler(handler_name="fmeasure", metric_handler=lib.FmeasureHandler(with_dynamic=True, with_adaptive=True, beta=0.3))
    fm.add_handler(handler_name="precision", metric_handler=lib.PrecisionHandler(with_dynamic=True, with_adaptive=False))
    fm.add_handler(handler_name="recall", metric_handler=lib.RecallHandler(with_dynamic=True, with_adaptive=False))
    objs = {"mae": lib.MAE(), "fmeasurev2": fm, "em": lib.Emeasure(), "sm": lib.Smeasure(), "wfm": lib.WeightedFmeasure()}
    for pred, gt in pairs:
        for obj in objs.values():
            obj.step(pred, gt)
    out: dict[str, float] = {}
    for m_name, m_obj in objs.items():
        info = m_obj.get_results()
        if m_name == "fmeasurev2":
            for name, res in info.items():
                out[f"max{name}"], out[f"avg{name}"] = res["dynamic"].max(), res["dynamic"].mean()
                if res.get("adaptive") is not None:
                    out[f"adp{name}"] = res["adaptive"]
        elif m_name == "em":
            out.update(maxem=info["em"]["curve"].max(), avgem=info["em"]["curve"].mean(), adpem=info["em"]["adp"])
        else:
            out[m_name] = info[m_name]
    return out


def _read_back(map_path: Path, mask: np.ndarray) -> np.ndarray:
    pred = _imread(map_path, cv2.IMREAD_GRAYSCALE)
    return pred if pred.shape == mask.shape else cv2.resize(pred, mask.shape[::-1], interpolation=cv2.INTER_LINEAR).astype(np.uint8)


def test_sod_f3net_maps_round_and_the_table(tmp_path: Path) -> None:
    pytest.importorskip("py_sod_metrics")
    masks = _masks(tmp_path, {"zz": (30, 40), "aa": (40, 30)})
    outs = [RNG.normal(0, 2, (1, 1, 16, 16)).astype(np.float32) for _ in masks]
    flags = _write(tmp_path, ["zz", "aa", "nomask"], [{"output_0": o} for o in [*outs, outs[0]]])
    with pytest.raises(PartialResult) as caught:
        vampy.evaluate(preset="sod_f3net", draw_dir=str(tmp_path / "maps"), num_bits=4, **flags)
    report = caught.value.report  # type: ignore[attr-defined]
    assert report.drawn == 3 and (tmp_path / "maps" / "nomask.png").is_file()  # the writer writes every map
    assert len(report.failures) == 1 and "no mask" in report.failures[0].reason
    for name, out in zip(masks, outs):
        written = _imread(tmp_path / "maps" / f"{name}.png", cv2.IMREAD_UNCHANGED)
        scaled = 255.0 / (1.0 + np.exp(-out[0, 0].astype(np.float64)))
        boundary = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-3  # float32 vs float64 may differ only right at .5
        assert written.ndim == 2 and np.array_equal(written[~boundary], np.round(scaled).astype(np.uint8)[~boundary])
    pairs = [(_read_back(tmp_path / "maps" / f"{n}.png", m), m) for n, m in masks.items()]
    expected = _toolkit(pairs)
    assert list(report.metrics) == list(SOD_METRICS)
    assert report.metrics == pytest.approx(expected, abs=1e-12)
    # MAE by hand: the mask > 128, the map / 255 min-max normalised (PySOD's _prepare_data)
    maes = []
    for pred, gt in pairs:
        p = pred / 255.0
        p = (p - p.min()) / (p.max() - p.min()) if p.max() != p.min() else p
        maes.append(np.mean(np.abs(p - (gt > 128))))
    assert report.metrics["mae"] == pytest.approx(np.mean(maes), abs=1e-12)
    assert report.images[1].metrics == pytest.approx(_toolkit(pairs[1:]), abs=1e-12)


def test_sod_basnet_maps_truncate_as_pil(tmp_path: Path) -> None:
    pytest.importorskip("py_sod_metrics")
    masks = _masks(tmp_path, {"m": (16, 20)})
    k = RNG.integers(0, 256, (16, 20))
    x = ((k + RNG.choice([-0.002, 0.002], (16, 20))) / 255).astype(np.float32)
    x[0, :4] = [-0.1, 1.2, 0.9999, 0.5355 / 255]
    report = vampy.evaluate(preset="sod_basnet", draw_dir=str(tmp_path / "maps"), **_write(tmp_path, ["m"], [{"output_0": x[None, None]}]))
    written = _imread(tmp_path / "maps" / "m.png", cv2.IMREAD_UNCHANGED)
    vendor = np.asarray(Image.fromarray(x * 255).convert("RGB"))  # the writer's own PIL call
    assert np.array_equal(written[:, :, ::-1], vendor)
    assert report.metrics == pytest.approx(_toolkit([(_read_back(tmp_path / "maps" / "m.png", masks["m"]), masks["m"])]), abs=1e-12)


def test_sod_vendor_table_matches_the_toolkit_print() -> None:
    values = [0.052, 0.908, 0.894, 0.896, 0.981, 0.925, 1, 0.873, 0.929, 0.917, 0.919, 0.895, 0.866]  # f3net fp16, the writer's notes
    metrics = {k: v + 1e-5 for k, v in zip(SOD_METRICS, values)}
    table = vendor_line(FAMILY_PRESETS["sod_f3net"], metrics, dataset="ECSSD", num_bits=3).splitlines()
    assert table[1] == "Dataset: ECSSD"
    assert table[2] == ("| methods   |   mae |   maxfmeasure |   avgfmeasure |   adpfmeasure |   maxprecision |   avgprecision |   "
                        "maxrecall |   avgrecall |   maxem |   avgem |   adpem |    sm |   wfm |")
    assert table[3] == ("|-----------|-------|---------------|---------------|---------------|----------------|----------------|"
                        "-------------|-------------|---------|---------|---------|-------|-------|")
    assert table[4] == ("| Method1   | 0.052 |         0.908 |         0.894 |         0.896 |          0.981 |          0.925 |"
                        "           1 |       0.873 |   0.929 |   0.917 |   0.919 | 0.895 | 0.866 |")


def test_sod_needs_draw_dir_and_names_the_extra_when_pysod_is_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _masks(tmp_path, {"m": (8, 8)})
    flags = _write(tmp_path, ["m"], [{"output_0": np.zeros((1, 1, 8, 8))}])
    with pytest.raises(UsageError, match="--draw_dir"):
        vampy.evaluate(preset="sod_f3net", **flags)
    monkeypatch.setitem(sys.modules, "py_sod_metrics", None)  # import fails as when not installed
    with pytest.raises(UsageError, match=r"pip install --no-deps 'pysodmetrics>=1\.6'.*make setup-zoo-eval") as caught:
        vampy.evaluate(preset="sod_basnet", draw_dir=str(tmp_path / "maps"), **flags)
    assert "\n" not in str(caught.value)


def test_cli_prints_pysod_table_last_and_exits_6_on_a_missing_mask(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("py_sod_metrics")
    from vampy.cli import main

    data = tmp_path / "ECSSD"
    data.mkdir()
    _masks(data, {"m": (20, 24)})
    flags = _write(data, ["m", "gone"], [{"output_0": RNG.normal(0, 1, (1, 1, 10, 12))}] * 2)
    args = ["eval", "--preset", "sod_f3net", "--gt_dir", flags["gt_dir"], "--input_npz_path", flags["input_npz_path"],
            "--out_npz_dir", flags["out_npz_dir"], "--draw_dir", str(data / "maps"), "--num_bits", "2", "--json", str(data / "r.json")]
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 6
    out = capsys.readouterr().out.rstrip().splitlines()
    assert out[-4] == "Dataset: ECSSD" and out[-3].startswith("| methods   |   mae |") and out[-1].startswith("| Method1   |")
    mae = json.loads((data / "r.json").read_text())["metrics"]["mae"]
    assert out[-1].split("|")[2].strip() == format(round(mae, 2), "g")


def test_docs_list_each_preset_deviations() -> None:
    text = (Path(__file__).parents[2] / "docs" / "eval.md").read_text()
    for name in ("colorization_gpen", "lowlight_usuir", "lowlight_pairlie", "sod_f3net", "sod_basnet"):
        assert re.findall(rf"^- `{name}`: (.*)$", text, re.M) == list(FAMILY_PRESETS[name].deviations)


def test_bad_inputs_fail_one_image_or_refuse(tmp_path: Path) -> None:
    _gt(tmp_path, "p.png", (12, 12))
    light = np.ones((1, 1, 12, 12))
    flags = _write(tmp_path, ["p", "p"], [{"output_0": light, "output_1": np.ones((1, 2, 12, 12))},
                                          {"output_0": light, "output_1": np.ones((1, 3, 12, 12))}])
    with pytest.raises(PartialResult) as caught:
        vampy.evaluate(preset="lowlight_pairlie", **flags)
    reason = caught.value.report.failures[0].reason  # type: ignore[attr-defined]
    assert "output_1 has shape (1, 2, 12, 12)" in reason
    with pytest.raises(UsageError, match="would overwrite the masks"):
        vampy.evaluate(preset="sod_f3net", draw_dir=flags["gt_dir"], **flags)
