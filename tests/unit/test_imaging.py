"""Image reading, the two Y definitions, npz tensors by mode, colourising."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vampy.data.imaging import colourise, encode_png, image_to_chw, read_image, resize_plane, to_y
from vampy.errors import InputError


def _bgr(b: int, g: int, r: int, size: int = 4) -> np.ndarray:
    image = np.zeros((size, size, 3), np.uint8)
    image[:] = (b, g, r)
    return image


def _picture(height: int = 24, width: int = 32, seed: int = 0) -> np.ndarray:
    smooth = cv2.GaussianBlur(np.random.default_rng(seed).integers(0, 256, (height, width, 3)).astype(np.uint8), (5, 5), 2)
    low, high = int(smooth.min()), int(smooth.max())
    return (20 + (smooth.astype(np.float64) - low) * 210 / max(high - low, 1)).round().astype(np.uint8)


@pytest.mark.parametrize(
    ("bgr", "opencv_y", "bt601_y"),
    [
        ((0, 0, 0), 0, 16),
        ((255, 255, 255), 255, 235),
        ((0, 0, 255), 76, 81),  # red: 0.299*255 = 76.2; 16 + 65.481 = 81.48
        ((0, 255, 0), 150, 145),  # green: 0.587*255 = 149.7; 16 + 128.553 = 144.6
        ((255, 0, 0), 29, 41),  # blue: 0.114*255 = 29.1; 16 + 24.966 = 41.0
    ],
)
def test_y_of_pure_colours(bgr: tuple[int, int, int], opencv_y: int, bt601_y: int) -> None:
    image = _bgr(*bgr)
    assert np.all(to_y(image, "opencv") == opencv_y)
    assert np.all(to_y(image, "bt601") == bt601_y)


def test_bt601_matches_the_matlab_formula_everywhere() -> None:
    image = _picture()
    r, g, b = (image[:, :, k].astype(np.float64) for k in (2, 1, 0))
    expected = np.floor(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255 + 0.5)
    y = to_y(image, "bt601")
    assert y.dtype == np.uint8 and y.shape == image.shape[:2]
    assert np.array_equal(y, expected.astype(np.uint8))


def test_to_y_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        to_y(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="unknown YCbCr"):
        to_y(_bgr(1, 2, 3), "yuv")


def test_chw_modes() -> None:
    image = _bgr(10, 20, 30)
    rgb = image_to_chw(image, "rgb")
    assert rgb.shape == (3, 4, 4) and rgb.dtype == np.uint8 and list(rgb[:, 0, 0]) == [30, 20, 10]
    y3 = image_to_chw(image, "y3", "bt601")
    assert y3.shape == (3, 4, 4) and y3.flags["C_CONTIGUOUS"]
    assert np.array_equal(y3[0], y3[1]) and np.array_equal(y3[0], y3[2]) and np.array_equal(y3[0], to_y(image, "bt601"))
    gray = image_to_chw(image, "gray")
    assert gray.shape == (1, 4, 4) and np.array_equal(gray[0], to_y(image, "opencv"))
    with pytest.raises(ValueError, match="unknown mode"):
        image_to_chw(image, "bgr")


def test_read_image(tmp_path: Path) -> None:
    good = tmp_path / "a.png"
    cv2.imwrite(str(good), _picture())
    assert read_image(good).shape == (24, 32, 3)
    gray = tmp_path / "g.png"
    cv2.imwrite(str(gray), np.zeros((5, 6), np.uint8))
    assert read_image(gray).shape == (5, 6, 3)  # always three channels
    with pytest.raises(InputError, match="absent.png: no such image"):
        read_image(tmp_path / "absent.png")
    junk = tmp_path / "junk.bmp"
    junk.write_bytes(b"not an image at all")
    with pytest.raises(InputError, match="junk.bmp: not an image"):
        read_image(junk)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty.png"):
        read_image(empty)


def test_resize_plane() -> None:
    plane = np.arange(64, dtype=np.uint8).reshape(8, 8)
    assert resize_plane(plane, 8, 8) is plane
    assert resize_plane(plane, 4, 6).shape == (4, 6)
    assert np.array_equal(resize_plane(plane, 4, 6), cv2.resize(plane, (6, 4), interpolation=cv2.INTER_LINEAR))


@pytest.mark.parametrize("method", ["opencv", "bt601"])
def test_colourise_round_trips(method: str) -> None:
    image = _picture()
    y = to_y(image, method)
    back = colourise(y, image, method)
    assert back.shape == image.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - image.astype(int)).max() <= 3
    # the Y of the result is the Y handed in, within rounding
    assert np.abs(to_y(back, method).astype(int) - y.astype(int)).max() <= 1


def test_colourise_resizes_the_source_chroma() -> None:
    image = _picture(24, 32)
    y = np.full((12, 10), 128, np.uint8)
    assert colourise(y, image).shape == (12, 10, 3)


def test_encode_png_is_lossless() -> None:
    image = _picture()
    decoded = cv2.imdecode(np.frombuffer(encode_png(image), np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and np.array_equal(decoded, image)
