"""Per-class IoU of the segmentation presets (segmentation.Tally.per_class_iou), against an independent numpy confusion
matrix; carried in the eval and infer reports (optional `per_class_iou`), printed, and rendered by `vampy report`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vampy
from vampy.quality.families import FAMILY_PRESETS
from vampy.quality.family_report import per_class_text
from vampy.quality.segmentation import Tally
from vampy.report.html import load_all, render
from vampy.results.schema import EvalPresetReport, read_json, write_json

RNG = np.random.default_rng(11)
HW = (6, 9)


def _reference(pairs: list[tuple[np.ndarray, np.ndarray]], n: int, scale: float) -> dict[str, float | None]:
    """Pool every (ground truth, prediction) pixel into an n x n matrix one pixel at a time; IoU = tp / (row + column - tp)."""
    hist = np.zeros((n, n), np.int64)
    for truth, pred in pairs:
        for t, p in zip(truth.ravel(), pred.ravel()):
            hist[int(t), int(p)] += 1
    out: dict[str, float | None] = {}
    for c in range(n):
        union = hist[c, :].sum() + hist[:, c].sum() - hist[c, c]
        out[str(c)] = None if union == 0 else hist[c, c] / union * scale
    return out


def _logits(classes: int, allowed: list[int]) -> np.ndarray:
    """(classes, H, W) float32 whose argmax is always one of `allowed`."""
    x = np.full((classes, *HW), -20.0, np.float32)
    x[allowed] = RNG.normal(0, 3, (len(allowed), *HW)).astype(np.float32)
    return x


def _assert_close(mine: dict[str, float | None], theirs: dict[str, float | None], rel: float = 0.0) -> None:
    assert list(mine) == list(theirs)
    assert [k for k, v in mine.items() if v is None] == [k for k, v in theirs.items() if v is None]
    for key, value in theirs.items():
        if value is not None:
            assert mine[key] == pytest.approx(value, rel=rel, abs=1e-9), key


def test_voc_seg_per_class_is_the_scripts_inter_over_union_and_absent_is_none() -> None:
    seg = FAMILY_PRESETS["voc_seg"].seg
    assert seg is not None
    tally, pairs = Tally(seg), []
    for _ in range(3):
        logits = _logits(21, [0, 1, 2, 5])  # 5 is predicted, never labelled: 0, not absent
        label = np.array([0, 1, 2, 7, 255])[RNG.integers(0, 5, HW)]  # 7 is labelled, never predicted: 0; 255 ignored
        tally.add(logits, label)
        keep = label != 255
        pairs.append((label[keep], np.argmax(logits, axis=0)[keep]))
    mine = tally.per_class_iou()
    _assert_close(mine, _reference(pairs, 21, 100.0), rel=1e-6)  # the script's float32
    assert mine["5"] == 0.0 and mine["7"] == 0.0 and mine["3"] is None and mine["20"] is None
    # the script's mIoU is the mean over all 21 classes with the absent ones as 0
    assert tally.metrics()["miou"] == pytest.approx(sum(v or 0.0 for v in mine.values()) / 21, rel=1e-6)


def test_cityscapes_seg_per_class_on_train_ids() -> None:
    seg = FAMILY_PRESETS["cityscapes_seg"].seg
    assert seg is not None
    train = {7: 0, 8: 1, 11: 2, 26: 13}
    tally, pairs = Tally(seg), []
    for _ in range(2):
        label = np.array([0, 7, 8, 11, 26, 40])[RNG.integers(0, 6, HW)]  # 0 and 40: no train id, not scored
        pred = np.array([0, 1, 2, 13, 18])[RNG.integers(0, 5, HW)]
        tally.add(pred, label)
        keep = np.isin(label, list(train))
        pairs.append((np.vectorize(train.get)(label[keep]), pred[keep]))
    mine = tally.per_class_iou()
    _assert_close(mine, _reference(pairs, 19, 100.0))
    assert mine["18"] == 0.0 and mine["5"] is None


@pytest.mark.parametrize("preset", ["unet_milesial_seg", "unet_keras_seg"])
def test_stream2_per_class_in_fractions(preset: str) -> None:
    seg = FAMILY_PRESETS[preset].seg
    assert seg is not None
    tally, pairs = Tally(seg), []
    for _ in range(3):
        label = RNG.integers(0, 2, HW)
        pred = RNG.integers(0, 2, HW)
        tally.add(pred, label)
        pairs.append((label, pred))
    mine = tally.per_class_iou()
    _assert_close(mine, _reference(pairs, 2, 1.0))
    assert np.nanmean([v for v in mine.values()]) == pytest.approx(tally.metrics()["mean_iou"])  # every class present


def test_per_image_presets_pool_the_pixels_of_all_images() -> None:
    """r2unet_seg (binary_dice_iou) and human_seg (per_image_miou) average per image; per class is pooled instead."""
    r2u, human = FAMILY_PRESETS["r2unet_seg"].seg, FAMILY_PRESETS["human_seg"].seg
    assert r2u is not None and human is not None
    tally, pairs = Tally(r2u), []
    for _ in range(3):
        label = RNG.integers(0, 256, HW)
        pred = RNG.integers(0, 2, HW)
        tally.add(pred, label)
        pairs.append((np.where(label < 125, 0, 1), pred))
    _assert_close(tally.per_class_iou(), _reference(pairs, 2, 100.0))
    tally, pairs = Tally(human), []
    for classes in (3, 3):
        logits, label = _logits(classes, [0, 1]), RNG.integers(0, 3, HW)  # labels > 0 are the person; class 2 never predicted
        tally.add(logits, label)
        pairs.append((np.where(label > 0, 1, 0), np.argmax(logits, axis=0)))
    mine = tally.per_class_iou()
    _assert_close(mine, _reference(pairs, 3, 100.0))
    assert mine["2"] is None


def test_a_class_in_neither_is_absent_even_when_the_image_is_all_one_class() -> None:
    seg = FAMILY_PRESETS["unet_milesial_seg"].seg
    assert seg is not None
    tally = Tally(seg)
    tally.add(np.zeros(HW, np.int64), np.zeros(HW, np.int64))
    assert tally.per_class_iou() == {"0": 1.0, "1": None}


def _voc_eval(tmp_path: Path) -> EvalPresetReport:
    """A real voc_seg eval of one image: labels 0 and 1 only, predictions 0, 1 and 3."""
    (tmp_path / "gt").mkdir()
    (tmp_path / "out").mkdir()
    label = RNG.integers(0, 2, HW).astype(np.uint8)
    image = Image.fromarray(label, mode="P")
    image.putpalette([v for i in range(256) for v in (i, i, i)])
    image.save(tmp_path / "gt" / "a.png")
    np.savez(tmp_path / "out" / "output_000000.npz", output_0=_logits(21, [0, 1, 3])[None])
    (tmp_path / "dl.txt").write_text("/n/a.npz\n")
    report = vampy.evaluate(preset="voc_seg", gt_dir=str(tmp_path / "gt"), input_npz_path=str(tmp_path / "dl.txt"),
                            out_npz_dir=str(tmp_path / "out"), input_shape=(HW[1], HW[0]))
    assert isinstance(report, EvalPresetReport)
    return report


def test_eval_report_carries_it_as_an_optional_schema_2_key(tmp_path: Path) -> None:
    report = _voc_eval(tmp_path)
    path = tmp_path / "eval.json"
    write_json(path, report.to_dict())
    data = read_json(path, "eval")  # a schema_version 2 reader takes it
    assert data["schema_version"] == 2 and list(data["per_class_iou"]) == [str(c) for c in range(21)]
    assert data["per_class_iou"]["2"] is None and data["per_class_iou"]["3"] == 0.0 and data["per_class_iou"]["0"] > 0
    # the other presets' reports have no such key: they are as they were
    other = EvalPresetReport(config={}, preset="imagenet_topk", scoring={}, images=(), metrics={"top1_rate": 1.0}, failures=(),
                             drawn=0, deviations=())
    assert "per_class_iou" not in other.to_dict()


def test_printed_and_rendered_with_absent_classes(tmp_path: Path) -> None:
    report = _voc_eval(tmp_path)
    line = per_class_text(report.per_class_iou)
    assert line is not None and "2: absent" in line and "3: 0.0000" in line
    assert per_class_text(None) is None
    path = tmp_path / "eval.json"
    write_json(path, report.to_dict())
    page = render(load_all([str(path)]))
    assert "IoU per class" in page and page.count(">absent<") == 18  # 21 classes, 0 1 3 present
    # an older report (no key) renders without the table
    data = json.loads(path.read_text())
    del data["per_class_iou"]
    path.write_text(json.dumps(data))
    assert "IoU per class" not in render(load_all([str(path)]))


def test_every_label_rule_has_its_pattern_for_messages() -> None:
    from vampy.quality.families import GT_RULES
    from vampy.quality.segmentation import GT_RULE_PATTERNS

    assert set(GT_RULE_PATTERNS) == set(GT_RULES)
