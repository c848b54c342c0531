"""FolderIndex (eval's and infer's per-image lookups) finds exactly what a glob of the folder finds."""
from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

from vampy.errors import InputError
from vampy.quality.evaluate import FolderIndex, find_ground_truth

NAMES = [
    "baby.png", "baby_GT.bmp", "baby_GT_scale_4.bmp", "Baby.png", "baby.png.bak", ".baby.png", "bab.png",
    "a[1].png", "a*.png", "a?.png", "b c.jpg", "bird.PNG", "bird", "zebra_x.png",
]
PATTERNS = [
    "baby.*", "baby_GT.*", "baby*", "*.png", "*", ".*", ".baby.*", "Baby.*", "bird.*", "bird", "a[[]1].*",
    "a[*].*", "a[?].*", "a?.png", "b c.*", "[bz]*", "nothing.*", "",
]


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    for name in NAMES:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "baby.dir").mkdir()  # a folder that matches "baby.*" is not a file
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "baby.png").write_bytes(b"x")
    os.symlink(tmp_path / "baby.png", tmp_path / "baby_link.png")
    os.symlink(tmp_path / "missing.png", tmp_path / "baby_dangling.png")
    return tmp_path


def _glob_files(folder: Path, pattern: str) -> list[Path]:
    return sorted(p for p in map(Path, glob.glob(str(Path(glob.escape(str(folder))) / pattern))) if p.is_file())


@pytest.mark.parametrize("pattern", PATTERNS + ["sub/baby.*", "*/baby.png"])
def test_same_files_as_glob(folder: Path, pattern: str) -> None:
    assert FolderIndex(folder).files(pattern) == _glob_files(folder, pattern)


def test_escaped_names_and_missing_folder(folder: Path) -> None:
    index = FolderIndex(folder)
    assert find_ground_truth(index, "{stem}.*", "a[1]", "a[1]_scale_4.png") == folder / "a[1].png"
    assert find_ground_truth(index, "{base}.*", "baby_GT_scale_4", "x.bmp") == folder / "baby_GT.bmp"
    with pytest.raises(InputError, match="2 files match"):
        find_ground_truth(index, "{stem}.*", "baby", "x.bmp")  # baby.png and baby.png.bak
    with pytest.raises(InputError, match="no ground truth"):
        find_ground_truth(FolderIndex(folder / "absent"), "{stem}.*", "baby", "x.bmp")
