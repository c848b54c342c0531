"""Scoring records as data: the preset table, --scoring files (good and bad) and image2npz presets."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from vampy.cli import main
from vampy.config import Image2NpzConfig
from vampy.data.image2npz import PREP_PRESETS, images_to_npz
from vampy.errors import InputError, UsageError
from vampy.quality.presets import PRESETS, Scoring, get_preset, load_scoring, real_esrgan_preset


def test_presets_are_frozen_records() -> None:
    with pytest.raises(AttributeError):
        PRESETS["edsr"].gain = 2.0  # type: ignore[misc]
    assert PRESETS["fsrnet"].output_key == "output_2" and PRESETS["edsr"].clip is None
    assert set(PREP_PRESETS) == set(PRESETS)


def test_unknown_preset_lists_the_names() -> None:
    with pytest.raises(UsageError, match="bicubic_plusplus, bsrgan"):
        get_preset("nope")


def test_real_esrgan_model_type() -> None:
    assert real_esrgan_preset("x4plus").vendor_suffix == "x4" and real_esrgan_preset("x2plus").vendor_suffix == "x2"


def test_load_scoring_yaml_and_json(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("gt_resize: cv2_area\nclip: [0, 1]\nscale: 255\nshave_px: 2\n")
    s = load_scoring(tmp_path / "a.yaml")
    assert (s.gt_resize, s.clip, s.scale, s.shave_px) == ("cv2_area", (0, 1), 255.0, 2)
    (tmp_path / "b.json").write_text('{"quantise": "trunc"}')
    assert load_scoring(tmp_path / "b.json", PRESETS["edsr"]).quantise == "trunc"


@pytest.mark.parametrize(("text", "message"), [
    ("gt_resise: cv2_area\n", "unknown key 'gt_resise'"),
    ("- a\n", "expected a mapping"),
    ("shave_px: two\n", "shave_px must be a int"),
    ("gt_resize: lanczos\n", "gt_resize 'lanczos' is not one of"),
    ("!!python/object/apply:os.system ['true']\n", "not valid YAML"),
    ("clip: 3\n", "clip must be a list"),
])
def test_load_scoring_bad(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "s.yaml").write_text(text)
    with pytest.raises((InputError, UsageError), match=message):
        load_scoring(tmp_path / "s.yaml")


def test_scoring_rejects_bad_values() -> None:
    with pytest.raises(UsageError, match="gt_suffix"):
        Scoring(gt_suffix="png")


def _img(seed: int, h: int, w: int) -> np.ndarray:
    return cv2.GaussianBlur(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8), (5, 5), 1)


def _prep(tmp_path: Path, preset: str, suffix: str, size: tuple[int, int], **extra: str) -> tuple[list[Path], list[np.ndarray]]:
    src = tmp_path / "src"
    src.mkdir()
    paths = []
    for name, seed in (("b", 1), ("a", 0)):
        path = src / f"{name}{suffix}"
        Image.fromarray(_img(seed, *size)).save(path)
        paths.append(path)
    images_to_npz(Image2NpzConfig(str(src), f"*{suffix}", str(tmp_path / "npz"), str(tmp_path / "list.txt"), preset=preset, **extra))
    lines = (tmp_path / "list.txt").read_text().split()
    assert [Path(line).stem for line in lines] == ["a", "b"]  # sorted, unlike the vendor's drrn/vdsr/fsrnet globs
    return sorted(paths), [np.load(line)["input_0"] for line in lines]


def test_image2npz_rgb_and_y3(tmp_path: Path) -> None:
    paths, arrays = _prep(tmp_path, "edsr", ".png", (20, 30))
    assert np.array_equal(arrays[0], cv2.cvtColor(cv2.imread(str(paths[0])), cv2.COLOR_BGR2RGB).transpose(2, 0, 1))


def test_image2npz_drrn_y3(tmp_path: Path) -> None:
    paths, arrays = _prep(tmp_path, "drrn", ".bmp", (20, 30))
    y = cv2.cvtColor(cv2.imread(str(paths[0])), cv2.COLOR_BGR2YCrCb)[:, :, 0]
    assert np.array_equal(arrays[0], np.stack([y, y, y]))


def test_image2npz_ecbsr_truncating_y(tmp_path: Path) -> None:
    paths, arrays = _prep(tmp_path, "ecbsr", ".png", (20, 30))
    img = cv2.cvtColor(cv2.imread(str(paths[0]), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    y = (16. + (64.738 * img[:, :, 0] + 129.057 * img[:, :, 1] + 25.064 * img[:, :, 2]) / 256.).astype(np.uint8)
    assert np.array_equal(arrays[0], np.stack([y, y, y]))


def test_image2npz_pillow_chains(tmp_path: Path) -> None:
    for preset, suffix, size, chain in (
        ("fsrnet", ".jpg", (40, 40), lambda im: im.resize([16, 16], Image.BICUBIC).resize([128, 128], Image.BICUBIC)),
        ("sparnet", ".png", (128, 128), lambda im: im.resize((16, 16), Image.BICUBIC)),
        ("pfsrnet", ".jpg", (218, 178), lambda im: im.crop((0, 20, 178, 198)).resize((128, 128), Image.BILINEAR)
         .resize((64, 64), Image.BILINEAR).resize((32, 32), Image.BILINEAR).resize((16, 16), Image.BILINEAR)),
    ):
        root = tmp_path / preset
        root.mkdir()
        paths, arrays = _prep(root, preset, suffix, size)
        assert np.array_equal(arrays[0], np.asarray(chain(Image.open(paths[0]))).transpose(2, 0, 1)), preset


def test_image2npz_realsr_writes_hr512(tmp_path: Path) -> None:
    paths, arrays = _prep(tmp_path, "realsr", ".png", (30, 50), hr_path=str(tmp_path / "hr"))
    original = Image.open(paths[0]).convert("RGB")
    assert np.array_equal(arrays[0], np.asarray(original.resize((128, 128), Image.BICUBIC)).transpose(2, 0, 1))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "hr" / "a.png")), np.asarray(original.resize((512, 512), Image.BICUBIC)))


def test_image2npz_bad_preset_and_realsr_without_hr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s").mkdir()
    cv2.imwrite(str(tmp_path / "s" / "a.png"), _img(0, 8, 8))
    refusals = ((["--preset", "voc_seg"], "image2npz has no recipe of that name; choose one of"),
                (["--preset", "realsr"], "give --hr_path"))
    for extra, message in refusals:
        with pytest.raises(SystemExit) as info:
            main(["image2npz", "--dataset_path", str(tmp_path / "s"), "--target_path", str(tmp_path / "n"),
                  "--text_path", str(tmp_path / "l.txt"), *extra])
        assert info.value.code == 2 and message in capsys.readouterr().err
