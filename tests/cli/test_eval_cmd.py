"""`vampy eval` on made-up images and outputs written here: scores, pairing, table, JSON, exit codes."""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.cli import exit_code as _vampy
from vampy.data.imaging import read_image, resize_plane, to_y
from vampy.quality.metrics import psnr_y

NAMES = ("alpha_scale_4", "beta_scale_4")
HEIGHT, WIDTH = 32, 40


def _gt(seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH, 3)).astype(np.uint8)
    smooth = cv2.GaussianBlur(noise, (7, 7), 2).astype(np.float64)
    return (30 + (smooth - smooth.min()) * 190 / (smooth.max() - smooth.min())).round().astype(np.uint8)


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    """set/NAME.png (ground truth), set/NAME_scale_4.png (blurred source), list.txt (npz paths)."""
    folder = tmp_path / "set"
    folder.mkdir()
    for seed, name in enumerate(NAMES):
        gt = _gt(seed)
        cv2.imwrite(str(folder / f"{name.removesuffix('_scale_4')}.png"), gt)
        cv2.imwrite(str(folder / f"{name}.png"), cv2.GaussianBlur(gt, (5, 5), 1.5))
    (tmp_path / "list.txt").write_text("".join(f"npz/{name}.npz\n" for name in NAMES))
    (tmp_path / "out").mkdir()
    return tmp_path


def _gt_y(root: Path, name: str, height: int = HEIGHT, width: int = WIDTH, method: str = "opencv") -> np.ndarray:
    bgr = read_image(root / "set" / f"{name.removesuffix('_scale_4')}.png")
    return resize_plane(to_y(bgr, method), height, width)


def _src_y(root: Path, name: str, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    return resize_plane(to_y(read_image(root / "set" / f"{name}.png")), height, width)


def _write_output(path: Path, y_u8: np.ndarray, offset: int) -> None:
    plane = (y_u8.astype(np.float32) + offset) / 255.0
    np.savez(path, output_0=plane[None, None].astype(np.float16 if offset == 0 else np.float32))


def _args(root: Path, *extra: str) -> list[str]:
    return [
        "eval", "--src_dir", str(root / "set"), "--gt_dir", str(root / "set"), "--input_npz_path", str(root / "list.txt"),
        "--out_npz_dir", str(root / "out"), "-q", *extra,
    ]


def test_native_by_name_scores_table_and_json(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, offset in zip(NAMES, (2, 4)):
        _write_output(dataset / "out" / f"{name}.npz", _gt_y(dataset, name), offset)
    assert _vampy(_args(dataset, "--native", "--json", str(dataset / "r.json"))) == 0
    out = capsys.readouterr().out
    assert "alpha_scale_4" in out and "mean of 2" in out and "native size" in out
    report = json.loads((dataset / "r.json").read_text())
    assert report["kind"] == "eval" and report["schema_version"] == 2 and report["failures"] == []
    psnrs = [image["scores"]["psnr_db"] for image in report["images"]]
    assert psnrs == pytest.approx([20 * math.log10(255 / 2), 20 * math.log10(255 / 4)], abs=1e-9)
    assert report["mean"]["psnr_db"] == pytest.approx(sum(psnrs) / 2)
    # schema 2: the same scores under `metrics`, the v1 keys kept as aliases with equal values
    assert report["metrics"] == report["mean"] and list(report["metrics"]) == ["psnr_db", "ssim", "bicubic_psnr_db", "bicubic_ssim"]
    assert [image["metrics"] for image in report["images"]] == [image["scores"] for image in report["images"]]
    bicubic = psnr_y(_src_y(dataset, NAMES[0]), _gt_y(dataset, NAMES[0]), 4)
    assert report["images"][0]["scores"]["bicubic_psnr_db"] == pytest.approx(bicubic)
    assert report["images"][0]["gt_path"] == str(dataset / "set" / "alpha.png")
    assert report["images"][0]["source_path"] == str(dataset / "set" / "alpha_scale_4.png")
    assert 0 < report["images"][0]["scores"]["ssim"] <= 1


def test_vamp_flag_input_shape_and_draw(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for index, name in enumerate(NAMES):
        _write_output(dataset / "out" / f"output_{index:06d}.npz", _gt_y(dataset, name, 24, 20), 0)
    draw = dataset / "draw"
    args = _args(dataset, "--vamp_flag", "--input_shape", "24", "20", "--draw_dir", str(draw), "--json", str(dataset / "r.json"))
    assert _vampy(args) == 0
    report = json.loads((dataset / "r.json").read_text())
    assert [i["scores"]["psnr_db"] for i in report["images"]] == [100.0, 100.0]
    assert [(i["height_px"], i["width_px"]) for i in report["images"]] == [(24, 20), (24, 20)]
    assert report["drawn"] == 2 and sorted(p.name for p in draw.iterdir()) == [f"{n}.png" for n in NAMES]
    assert read_image(draw / f"{NAMES[0]}.png").shape == (24, 20, 3)
    assert "24x20" in capsys.readouterr().out


def test_default_compare_size_is_256(dataset: Path) -> None:
    for name in NAMES:
        _write_output(dataset / "out" / f"{name}.npz", _gt_y(dataset, name, 256, 256), 1)
    assert _vampy(_args(dataset, "--json", str(dataset / "r.json"))) == 0
    report = json.loads((dataset / "r.json").read_text())
    assert report["config"]["input_hw"] == [256, 256] and report["mean"]["psnr_db"] == pytest.approx(20 * math.log10(255))


def test_bt601_and_scale_and_gt_pattern(dataset: Path) -> None:
    for name in NAMES:
        base = name.removesuffix("_scale_4")
        (dataset / "set" / f"{base}.png").rename(dataset / "set" / f"{base}_hr.png")
    for name in NAMES:
        y = to_y(read_image(dataset / "set" / f"{name.removesuffix('_scale_4')}_hr.png"), "bt601")
        _write_output(dataset / "out" / f"{name}.npz", y, 3)
    args = _args(dataset, "--native", "--ycbcr", "bt601", "--scale", "2", "--gt_pattern", "{base}_hr.png",
                 "--json", str(dataset / "r.json"))
    assert _vampy(args) == 0
    report = json.loads((dataset / "r.json").read_text())
    assert report["config"]["shave_px"] == 2 and report["mean"]["psnr_db"] == pytest.approx(20 * math.log10(255 / 3))


def test_one_bad_output_is_listed_and_the_rest_scored(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_output(dataset / "out" / f"{NAMES[0]}.npz", _gt_y(dataset, NAMES[0]), 2)
    _write_output(dataset / "out" / f"{NAMES[1]}.npz", _gt_y(dataset, NAMES[1], 16, 16), 2)
    assert _vampy(_args(dataset, "--native", "--json", str(dataset / "r.json"))) == 6
    captured = capsys.readouterr()
    assert "mean of 1" in captured.out
    assert f"{dataset / 'out' / NAMES[1]}.npz: is 16x16 (HxW) but the ground truth is compared at 32x40" in captured.err
    report = json.loads((dataset / "r.json").read_text())
    assert len(report["images"]) == 1 and len(report["failures"]) == 1


def _object_array(path: Path) -> None:
    np.savez(path, output_0=np.array([None], dtype=object))


def _three_dims(path: Path) -> None:
    np.savez(path, output_0=np.zeros((1, HEIGHT, WIDTH), np.float32))


def _nan(path: Path) -> None:
    np.savez(path, output_0=np.full((1, 1, HEIGHT, WIDTH), np.nan, np.float32))


def _wrong_key(path: Path) -> None:
    np.savez(path, output=np.zeros((1, 1, HEIGHT, WIDTH), np.float32))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_object_array, "pickle"),
        (_three_dims, "expected (N, C, H, W)"),
        (_nan, "NaN"),
        (_wrong_key, "no key output_0"),
        (lambda p: p.write_text("not npz"), "not an npz file"),
    ],
)
def test_bad_output_files(dataset: Path, capsys: pytest.CaptureFixture[str], make: Callable[[Path], None], message: str) -> None:
    _write_output(dataset / "out" / f"{NAMES[0]}.npz", _gt_y(dataset, NAMES[0]), 2)
    make(dataset / "out" / f"{NAMES[1]}.npz")
    assert _vampy(_args(dataset, "--native")) == 6
    err = capsys.readouterr().err
    assert message in err and f"{NAMES[1]}.npz" in err and "Traceback" not in err


def test_missing_ground_truth_names_the_file(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in NAMES:
        _write_output(dataset / "out" / f"{name}.npz", _gt_y(dataset, name), 2)
    (dataset / "set" / "beta.png").unlink()
    assert _vampy(_args(dataset, "--native")) == 6
    assert f"{dataset / 'set' / 'beta'}.*: no ground truth for beta_scale_4.png" in capsys.readouterr().err


def test_nothing_scored_is_input_error(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(_args(dataset, "--native")) == 3
    err = capsys.readouterr().err
    assert "no image could be scored (2 failed)" in err and "no such file" in err


def test_vamp_outputs_without_vamp_flag_get_a_hint(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for index, name in enumerate(NAMES):
        _write_output(dataset / "out" / f"output_{index:06d}.npz", _gt_y(dataset, name), 0)
    assert _vampy(_args(dataset, "--native")) == 3
    assert "add --vamp_flag" in capsys.readouterr().err


def test_vamp_flag_count_mismatch(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_output(dataset / "out" / "output_000000.npz", _gt_y(dataset, NAMES[0]), 0)
    assert _vampy(_args(dataset, "--native", "--vamp_flag")) == 3
    err = capsys.readouterr().err
    assert f"--out_npz_dir {dataset / 'out'}: 1 npz files for 2 lines of {dataset / 'list.txt'}" in err


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--native", "--input_shape", "8", "8"], 2, "drop --input_shape or --native"),
        (["--ycbcr", "yuv"], 2, "--ycbcr yuv"),
        (["--gt_pattern", "{nope}.png"], 2, "--gt_pattern"),
        (["--scale", "-1"], 2, "--scale -1"),
        (["--input_shape", "0", "8"], 2, "--input_shape 0 8"),
        (["--input_shape", "8"], 2, ""),
    ],
)
def test_bad_flags(dataset: Path, capsys: pytest.CaptureFixture[str], extra: list[str], code: int, message: str) -> None:
    assert _vampy(_args(dataset, *extra)) == code
    assert message in capsys.readouterr().err


def test_missing_datalist_and_outputs_folder(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (dataset / "list.txt").unlink()
    assert _vampy(_args(dataset, "--native")) == 3
    assert "list.txt: no such datalist file" in capsys.readouterr().err
    (dataset / "list.txt").write_text("npz/alpha_scale_4.npz\n")
    (dataset / "out").rmdir()
    assert _vampy(_args(dataset, "--native")) == 3
    assert "--out_npz_dir" in capsys.readouterr().err


def test_unwritable_json_is_output_error(dataset: Path) -> None:
    for name in NAMES:
        _write_output(dataset / "out" / f"{name}.npz", _gt_y(dataset, name), 2)
    assert _vampy(_args(dataset, "--native", "--json", str(dataset / "absent" / "r.json"))) == 7


@pytest.mark.parametrize("command", [
    ["eval", "--preset", "coco_dett", "--gt", "instances.json"],
    ["eval", "--preset", "imagenet_top5", "--npz_txt", "dl.txt"],
    ["infer", "--preset", "voc_segg", "--lr_image_dir", "imgs", "-m", "m.onnx"],
])
def test_a_mistyped_preset_is_named_before_the_flags_it_would_need(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(command) == 2
    err = capsys.readouterr().err.strip()
    wanted = {"coco_dett": "coco_det", "imagenet_top5": "imagenet_topk", "voc_segg": "voc_seg"}[command[2]]
    assert err.startswith(f"vampy: error: --preset '{command[2]}': no such preset; did you mean {wanted}?") and "\n" not in err
