"""icdar_db (TD-1) and icdar_db_mmocr (TD-2): planted text boxes whose decoded quads and ICDAR counts are worked out here by hand."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import vampy
from vampy.errors import PartialResult
from vampy.quality.families import FAMILY_PRESETS
from vampy.quality.family_eval import vendor_line
from vampy.quality.textdet import db_boxes

MAP_HW = (184, 320)  # the map is scaled to the scripts' 720x1280: x4 across, 720/184 down
SCALE_Y, SCALE_X = 720 / MAP_HW[0], 1280 / MAP_HW[1]
TEXT = (40, 20, 119, 39)  # x0, y0, x1, y1 of a planted text region, map pixels (inclusive)
CARE_LESS = (200, 100, 279, 129)
FAINT = (10, 150, 60, 170)  # above thresh 0.3, below box_thresh 0.6: no box


def _grown_image_box(rect: tuple[int, int, int, int]) -> list[list[float]]:
    """The quad DB should give for a filled rectangle: its contour's rectangle (x1-x0 by y1-y0) grown by
    area * 1.5 / perimeter on every side (the round corners do not change the minimum-area rectangle), scaled."""
    x0, y0, x1, y1 = rect
    w, h = x1 - x0, y1 - y0
    d = w * h * 1.5 / (2 * (w + h))
    return [[(x0 - d) * SCALE_X, (y0 - d) * SCALE_Y], [(x1 + d) * SCALE_X, (y0 - d) * SCALE_Y],
            [(x1 + d) * SCALE_X, (y1 + d) * SCALE_Y], [(x0 - d) * SCALE_X, (y1 + d) * SCALE_Y]]


def _prob_map() -> np.ndarray:
    prob = np.full(MAP_HW, 0.05, np.float32)
    for rect, value in ((TEXT, 0.9), (CARE_LESS, 0.8), (FAINT, 0.5)):
        x0, y0, x1, y1 = rect
        prob[y0:y1 + 1, x0:x1 + 1] = value
    return prob


def _case(tmp_path: Path, logits: bool) -> dict[str, str]:
    images = tmp_path / "icdar2015" / "ch4_test_images"
    images.mkdir(parents=True)
    out = tmp_path / "out"
    out.mkdir()
    prob = _prob_map()
    value = np.log(prob / (1 - prob)) if logits else prob
    np.savez(out / "output_000000.npz", output_0=value.reshape(1, 1, *MAP_HW).astype(np.float32))
    (tmp_path / "datalist.txt").write_text("/data/npz/img_1.npz\n")
    missed = [[900, 600], [1000, 600], [1000, 650], [900, 650]]  # a text nothing was detected on
    label = [{"transcription": "word", "points": [[round(x), round(y)] for x, y in _grown_image_box(TEXT)]},
             {"transcription": "###", "points": [[round(x), round(y)] for x, y in _grown_image_box(CARE_LESS)]},
             {"transcription": "miss", "points": missed}]
    (tmp_path / "icdar2015" / "test_icdar2015_label.txt").write_text(f"ch4_test_images/img_1.jpg\t{json.dumps(label)}\n")
    return dict(gt_dir=str(images), input_npz_path=str(tmp_path / "datalist.txt"), out_npz_dir=str(out))


def test_decoded_quads_are_the_grown_rectangles() -> None:
    boxes = db_boxes(_prob_map(), "icdar_db")
    assert boxes.shape == (2, 4, 2)  # the faint region scores under box_thresh
    expected = sorted(np.array(_grown_image_box(r)).min(axis=0).tolist() for r in (TEXT, CARE_LESS))
    found = sorted(box.min(axis=0).tolist() for box in boxes)
    assert np.allclose(found, expected, atol=SCALE_Y + 1)  # within one map pixel, scaled


@pytest.mark.parametrize("preset", ["icdar_db", "icdar_db_mmocr"])
def test_precision_recall_hmean(tmp_path: Path, preset: str) -> None:
    flags = _case(tmp_path, logits=preset == "icdar_db_mmocr")
    report = vampy.evaluate(preset=preset, input_shape=(736, 1280), **flags)
    # 2 cared-for GT (word, miss), 1 cared-for detection (the other covers ###), 1 match.
    assert report.metrics == {"precision": 1.0, "recall": 0.5, "hmean": 2 * 0.5 / 1.5}
    assert vendor_line(FAMILY_PRESETS[preset], report.metrics) == f"metric:  {{'precision': 1.0, 'recall': 0.5, 'hmean': {2 * 0.5 / 1.5}}}"


def test_a_ground_truth_image_without_output_is_listed(tmp_path: Path) -> None:
    flags = _case(tmp_path, logits=False)
    label = tmp_path / "icdar2015" / "test_icdar2015_label.txt"
    label.write_text(label.read_text() + 'ch4_test_images/img_9.jpg\t[{"transcription": "a", "points": [[0,0],[9,0],[9,9],[0,9]]}]\n')
    with pytest.raises(PartialResult) as caught:
        vampy.evaluate(preset="icdar_db", **flags)
    report = caught.value.report  # type: ignore[attr-defined]
    assert report.metrics["precision"] == 1.0 and "img_9.jpg has no decoded output" in report.failures[0].reason


def _east_case(tmp_path: Path) -> tuple[dict[str, str], list[list[int]]]:
    """Every pixel of a score region predicts the same quad (geometry = its origin x4 - the quad), so the quad is known."""
    images = tmp_path / "icdar2015" / "ch4_test_images"
    images.mkdir(parents=True)
    out = tmp_path / "out"
    out.mkdir()
    quad = np.array([100.5, 200.2, 300.5, 200.2, 300.5, 260.2, 100.5, 260.2])  # clockwise from top-left, 704x1280 input pixels
    score = np.zeros((1, 1, 176, 320), np.float32)
    score[0, 0, 50:65, 25:76] = 0.95
    ys, xs = np.mgrid[0:176, 0:320]
    origin = np.stack([xs * 4, ys * 4] * 4)  # (8, H, W): x, y, x, y, ...
    geo = (origin - quad[:, None, None]).astype(np.float32)[None]
    np.savez(out / "output_000000.npz", output_0=geo, output_1=score)
    (tmp_path / "datalist.txt").write_text("/data/npz/img_1.npz\n")
    # Back in the 720x1280 image: y / (704/720), then int32 truncation; the corner order sort_poly gives.
    expected = [[100, int(200.2 * 720 / 704)], [300, int(200.2 * 720 / 704)], [300, int(260.2 * 720 / 704)],
                [100, int(260.2 * 720 / 704)]]
    label = [{"transcription": "word", "points": expected},
             {"transcription": "miss", "points": [[900, 600], [1000, 600], [1000, 650], [900, 650]]}]
    (tmp_path / "icdar2015" / "label.txt").write_text(f"ch4_test_images/img_1.jpg\t{json.dumps(label)}\n")
    return dict(gt_dir=str(images), input_npz_path=str(tmp_path / "datalist.txt"), out_npz_dir=str(out)), expected


def test_east_quad_and_metrics(tmp_path: Path) -> None:
    from vampy.quality.textdet import east_boxes

    flags, expected = _east_case(tmp_path)
    arrays = np.load(Path(flags["out_npz_dir"]) / "output_000000.npz")
    assert east_boxes(arrays["output_1"][0][0], arrays["output_0"][0], "icdar_east").tolist() == [expected]
    report = vampy.evaluate(preset="icdar_east", **flags)
    assert report.metrics == {"precision": 1.0, "recall": 0.5, "hmean": 2 * 0.5 / 1.5}


def test_refused_in_one_line_without_pyclipper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from vampy.errors import UsageError

    flags = _case(tmp_path, logits=False)
    monkeypatch.setitem(sys.modules, "pyclipper", None)  # as if the [zoo-eval] extra were absent
    refusal = r"^preset icdar_db needs the pyclipper package: pip install 'vampy\[zoo-eval\]' \(in a clone of vampy: make setup-zoo-eval\)$"
    with pytest.raises(UsageError, match=refusal):
        vampy.evaluate(preset="icdar_db", **flags)
