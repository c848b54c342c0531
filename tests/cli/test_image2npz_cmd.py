"""`vampy image2npz`: files written, summary line, skipped list, exit codes."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.cli import exit_code as _vampy
from vampy.data.imaging import read_image


def _data(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in ("b_scale_4.bmp", "a_scale_4.bmp", "a_scale_2.bmp"):
        cv2.imwrite(str(folder / name), rng.integers(0, 256, (10, 12, 3)).astype(np.uint8))
    return folder


def _args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "image2npz", "--dataset_path", str(tmp_path / "data"), "--pattern", "*_scale_4.bmp",
        "--target_path", str(tmp_path / "npz"), "--text_path", str(tmp_path / "list.txt"), *extra,
    ]


def test_y3_bt601_relative(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _data(tmp_path / "data")
    assert _vampy(_args(tmp_path, "--mode", "y3", "--ycbcr", "bt601", "--relative")) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith(f"wrote 2 npz (y3, bt601 Y) to {tmp_path / 'npz'}")
    assert (tmp_path / "list.txt").read_text() == "npz/a_scale_4.npz\nnpz/b_scale_4.npz\n"
    array = np.load(tmp_path / "npz" / "a_scale_4.npz")["input_0"]
    assert array.shape == (3, 10, 12) and array.dtype == np.uint8 and array.min() >= 16 and array.max() <= 235


def test_default_rgb_absolute(tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    assert _vampy(_args(tmp_path)) == 0
    assert (tmp_path / "list.txt").read_text().splitlines()[0] == str(tmp_path / "npz" / "a_scale_4.npz")
    bgr = read_image(data / "a_scale_4.bmp")
    assert np.array_equal(np.load(tmp_path / "npz" / "a_scale_4.npz")["input_0"], bgr[:, :, ::-1].transpose(2, 0, 1))


def test_unreadable_images_are_listed_and_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _data(tmp_path / "data")
    (tmp_path / "data" / "c_scale_4.bmp").write_bytes(b"broken")
    assert _vampy(_args(tmp_path, "--mode", "gray")) == 0
    captured = capsys.readouterr()
    assert "wrote 2 npz" in captured.out and "skipped 1 (unreadable, or a name already written; listed on stderr)" in captured.out
    assert f"skipped {tmp_path / 'data' / 'c_scale_4.bmp'}" in captured.err
    assert len((tmp_path / "list.txt").read_text().splitlines()) == 2


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--mode", "bgr"], 2, "--mode bgr"),
        (["--ycbcr", "yuv"], 2, "--ycbcr yuv"),
        (["--pattern", "*.png"], 3, "no file in"),
    ],
)
def test_bad_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], code: int, message: str) -> None:
    _data(tmp_path / "data")
    assert _vampy(_args(tmp_path, *extra)) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "list.txt").exists()


def test_missing_dataset_is_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(_args(tmp_path)) == 3
    assert f"--dataset_path {tmp_path / 'data'}: no such folder" in capsys.readouterr().err


def test_unwritable_target_is_output_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _data(tmp_path / "data")
    (tmp_path / "npz").write_text("a file in the way")
    assert _vampy(_args(tmp_path)) == 7
    assert "--target_path" in capsys.readouterr().err


def test_missing_required_flag_is_usage_error(tmp_path: Path) -> None:
    assert _vampy(["image2npz", "--dataset_path", str(tmp_path)]) == 2


def _tree(root: Path) -> None:
    """ImageNet's val layout: the same file name in two synset folders, and a file at the top."""
    rng = np.random.default_rng(1)
    for sub in ("n01440764", "n02012849", ""):
        (root / sub).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / sub / "x.png"), rng.integers(0, 256, (6, 8, 3)).astype(np.uint8))


@pytest.mark.parametrize("flag", [["--keep_folders"], ["--preset", "imagenet_topk"]])
def test_keep_folders_writes_the_tree_and_its_datalist(tmp_path: Path, flag: list[str]) -> None:
    _tree(tmp_path / "val")
    args = ["image2npz", "--dataset_path", str(tmp_path / "val"), "--pattern", "**/*.png", "--target_path", str(tmp_path / "npz"),
            "--text_path", str(tmp_path / "list.txt"), "--relative", "-q", *flag]
    assert _vampy(args) == 0
    assert (tmp_path / "list.txt").read_text().splitlines() == ["npz/n01440764/x.npz", "npz/n02012849/x.npz", "npz/x.npz"]
    expected = cv2.cvtColor(read_image(tmp_path / "val" / "n02012849" / "x.png"), cv2.COLOR_BGR2RGB).transpose(2, 0, 1)
    np.testing.assert_array_equal(np.load(tmp_path / "npz" / "n02012849" / "x.npz")["input_0"], expected)


def test_without_keep_folders_a_second_same_name_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tree(tmp_path / "val")
    args = ["image2npz", "--dataset_path", str(tmp_path / "val"), "--pattern", "**/*.png", "--target_path", str(tmp_path / "npz"),
            "--text_path", str(tmp_path / "list.txt"), "-q"]
    assert _vampy(args) == 0
    err = capsys.readouterr().err
    assert len((tmp_path / "list.txt").read_text().splitlines()) == 1 and "same output name x.npz" in err and "--keep_folders" in err


def test_imagenet_preset_recurses_by_default_and_a_flat_pattern_gets_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tree(tmp_path / "val")
    (tmp_path / "val" / "x.png").unlink()
    common = ["image2npz", "--dataset_path", str(tmp_path / "val"), "--target_path", str(tmp_path / "npz"), "--text_path",
              str(tmp_path / "list.txt"), "--relative", "-q"]
    assert _vampy([*common, "--preset", "imagenet_topk"]) == 0
    assert (tmp_path / "list.txt").read_text().splitlines() == ["npz/n01440764/x.npz", "npz/n02012849/x.npz"]
    assert _vampy(common) == 3
    assert "has subfolders: give --pattern '**/*' to look inside them" in capsys.readouterr().err
