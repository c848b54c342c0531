"""vampy/quality/drift_boxes.py and `vampy diff`'s box comparison: planted detections against a test side
with two rows swapped, an extra low-score box, a box shifted by 2 px, a box missing; the figures are
computed again here by hand; padding is ignored; the layout is recognised only where it is."""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vampy.config.diff import DiffConfig
from vampy.config.flags import DIFF_FLAGS, flag_named
from vampy.errors import GateFailed, UsageError
from vampy.quality.drift import tensor_drift
from vampy.quality.drift_boxes import (
    DEFAULT_BOX_IOU,
    DEFAULT_BOX_SCORE_MIN,
    BoxDrift,
    Detections,
    box_block,
    box_drift,
    detections,
    iou_matrix,
    is_box_layout,
    line_box_drift,
    match,
    recall_gate,
    worst_box_lines,
)
from vampy.results.schema import json_safe
from vampy.workflows.diff import diff_outputs, raise_for_outcome

ROWS = 8  # N: the rows each side holds, padded with -1
# the planted detections: class id, score, x1 y1 x2 y2 (input pixels), by descending score as NMS writes them
PLANTED: list[Row] = [(0, 0.9, (64, 160, 192, 480)), (2, 0.8, (256, 256, 448, 384)), (16, 0.7, (480, 192, 608, 320)),
           (56, 0.6, (224, 416, 352, 512))]
Row = tuple[int, float, tuple[float, ...]]


def _outputs(rows: Sequence[Row], n: int = ROWS) -> dict[int, np.ndarray]:
    """output_0 class ids [1,n,1], output_1 scores [1,n,1], output_2 boxes [1,n,4], padded with -1."""
    ids, scores, boxes = (np.full((1, n, width), -1.0, np.float32) for width in (1, 1, 4))
    for i, (cls, score, box) in enumerate(rows):
        ids[0, i, 0], scores[0, i, 0], boxes[0, i] = cls, score, box
    return {0: ids, 1: scores, 2: boxes}


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """IoU written out for two boxes, independently of iou_matrix."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = lambda box: (box[2] - box[0]) * (box[3] - box[1])  # noqa: E731
    return w * h / (area(a) + area(b) - w * h)


def _swapped() -> list[Row]:  # (a) a near-tie after int8: rows 1 and 2 exchange places
    return [PLANTED[0], PLANTED[2], PLANTED[1], PLANTED[3]]


def _extra() -> list[Row]:  # (b) one extra box at a low score that still passes 0.25, between rows as NMS sorts
    return [*PLANTED, (3, 0.3, (10, 10, 50, 50))]


def _shifted() -> list[Row]:  # (c) the first box 2 px to the right
    x1, y1, x2, y2 = PLANTED[0][2]
    return [(0, 0.9, (x1 + 2, y1, x2 + 2, y2)), *PLANTED[1:]]


def _missing() -> list[Row]:  # (d) the last box dropped
    return PLANTED[:3]


SHIFT_IOU = _iou(PLANTED[0][2], _shifted()[0][2])
# scenario -> (rows, ref count, test count, matched, mean IoU, min IoU, max shift px)
SCENARIOS = {
    "swapped": (_swapped, 4, 4, 4, 1.0, 1.0, 0.0),
    "extra": (_extra, 4, 5, 4, 1.0, 1.0, 0.0),
    "shifted": (_shifted, 4, 4, 4, (3 + SHIFT_IOU) / 4, SHIFT_IOU, 2.0),
    "missing": (_missing, 4, 3, 3, 1.0, 1.0, 0.0),
}


def _dets(rows: Sequence[Row], score_min: float = DEFAULT_BOX_SCORE_MIN, n: int = ROWS) -> Detections:
    ids, scores, boxes = _outputs(rows, n).values()
    return detections(ids, scores, boxes, score_min)


def _drift(rows: Sequence[Row], score_min: float = DEFAULT_BOX_SCORE_MIN, iou_min: float = DEFAULT_BOX_IOU) -> BoxDrift:
    return line_box_drift(_outputs(PLANTED), _outputs(rows), score_min, iou_min, 0, "img.npz")


def test_the_shift_iou_by_hand() -> None:
    # 128 x 320 boxes 2 px apart: the overlap is 126 x 320, the union 130 x 320
    assert SHIFT_IOU == pytest.approx(126 / 130, rel=1e-15)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_scenario_has_the_figures_computed_by_hand(name: str) -> None:
    rows, ref_count, test_count, matched, mean_iou, min_iou, shift_px = SCENARIOS[name]
    got = _drift(rows())
    assert (got.ref_count, got.test_count, got.matched) == (ref_count, test_count, matched)
    assert got.recall == matched / ref_count and got.precision == matched / test_count
    assert got.mean_iou == pytest.approx(mean_iou, rel=1e-12) and got.min_iou == pytest.approx(min_iou, rel=1e-12)
    assert got.max_shift_px == pytest.approx(shift_px, abs=1e-12)
    assert got.max_score_diff == pytest.approx(0.0, abs=1e-7)  # the same scores, as float32 on both sides


def test_the_expected_recall_and_precision_of_each_scenario() -> None:
    got = {name: (_drift(s[0]()).recall, _drift(s[0]()).precision) for name, s in SCENARIOS.items()}
    assert got == {"swapped": (1.0, 1.0), "extra": (1.0, 0.8), "shifted": (1.0, 1.0), "missing": (0.75, 1.0)}


def test_swapped_rows_ruin_the_element_wise_figures_but_not_the_boxes() -> None:
    """Why the comparison exists: two rows exchanged, the same detections, an SNR of a few dB on the boxes tensor."""
    ref, test = _outputs(PLANTED)[2], _outputs(_swapped())[2]
    assert tensor_drift(ref, test, 0, "p", "output_2").snr_db < 20
    assert _drift(_swapped()).min_iou == 1.0


def test_the_gate_fails_on_the_missing_box_only() -> None:
    records = [line_box_drift(_outputs(PLANTED), _outputs(s[0]()), 0.25, 0.5, line, f"img{line}.npz")
               for line, s in enumerate(SCENARIOS.values())]
    gate = recall_gate(records, 1.0)
    assert not gate.passed and gate.value == 0.75
    assert gate.failing == ({"line": 3, "path": "img3.npz", "tensor": "boxes", "value": 0.75},)
    assert "--min_box_recall 1: FAILED (lowest 0.75); below: line 3 (img3.npz, boxes: 0.75)" == gate.text()
    assert recall_gate(records, 0.75).passed and recall_gate(records[:3], 1.0).passed


def test_padded_rows_are_ignored_whatever_the_threshold() -> None:
    # the same four detections, with 8 and with 300 rows of padding; score_min 0 keeps every real row but no -1 row
    got = line_box_drift(_outputs(PLANTED), _outputs(PLANTED, n=ROWS), 0.0, 0.5, 0, "p")
    assert (got.ref_count, got.test_count, got.matched) == (4, 4, 4)
    kept = _dets(PLANTED, 0.0, n=300)
    assert kept.class_ids.tolist() == [0, 2, 16, 56] and kept.boxes_px.shape == (4, 4)
    # a padding row is any row with a negative class id or score, whatever its box says
    ids, scores, boxes = _outputs(PLANTED).values()
    ids[0, 4, 0], scores[0, 5, 0] = -1, -1
    scores[0, 4, 0], ids[0, 5, 0] = 0.5, 1
    assert len(detections(ids, scores, boxes, 0.0).scores) == 4


def test_the_score_threshold_is_inclusive_and_drops_low_boxes() -> None:
    low = [*PLANTED, (3, 0.1, (10, 10, 50, 50))]  # below 0.25: not a detection, precision stays 1
    assert (_drift(low).test_count, _drift(low).precision) == (4, 1.0)
    at = [*PLANTED, (3, 0.25, (10, 10, 50, 50))]
    assert _drift(at).test_count == 5
    assert _drift(_missing(), score_min=0.65).recall == 1.0  # only the 0.9, 0.8 and 0.7 boxes count then


def test_matching_needs_the_same_class_and_the_iou() -> None:
    other_class = [(1, 0.9, PLANTED[0][2]), *PLANTED[1:]]
    assert _drift(other_class).matched == 3
    far = [(0, 0.9, (64 + 100, 160, 192 + 100, 480)), *PLANTED[1:]]  # IoU 28/228
    assert _drift(far).matched == 3 and _drift(far, iou_min=0.1).matched == 4
    assert _drift(far, iou_min=0.1).min_iou == pytest.approx(_iou(PLANTED[0][2], far[0][2]), rel=1e-12)


def test_greedy_by_reference_score_gives_the_contested_box_to_the_higher_score() -> None:
    ref = _dets([(0, 0.5, (0, 0, 10, 10)), (0, 0.9, (1, 0, 11, 10))])
    test = _dets([(0, 0.7, (0, 0, 10, 10))])
    assert match(ref, test, 0.5) == [(1, 0, pytest.approx(_iou((1, 0, 11, 10), (0, 0, 10, 10)), rel=1e-12))]


def test_iou_matrix_against_the_written_out_definition() -> None:
    rng = np.random.default_rng(5)
    corners = rng.uniform(0, 100, (7, 2))
    a = np.concatenate([corners, corners + rng.uniform(1, 50, (7, 2))], axis=1)
    b = a[::-1] + rng.uniform(-5, 5, a.shape)
    got = iou_matrix(a, b)
    assert got.shape == (7, 7)
    for i in range(7):
        for j in range(7):
            assert got[i, j] == pytest.approx(_iou(tuple(a[i]), tuple(b[j])), rel=1e-12, abs=1e-15)
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 7) and iou_matrix(a[:1], a[:1])[0, 0] == 1.0
    assert iou_matrix(np.array([[5.0, 5, 5, 5]]), np.array([[5.0, 5, 5, 5]]))[0, 0] == 0.0  # empty boxes, no division by 0


def test_empty_sides_and_nan_boxes() -> None:
    none = box_drift(_dets([]), _dets([]), 0.5, 0, "p")
    assert (none.recall, none.precision, none.mean_iou, none.max_shift_px) == (1.0, 1.0, None, None)
    nan: list[Row] = [(0, 0.9, (math.nan, 160, 192, 480)), *PLANTED[1:]]
    assert _drift(nan).matched == 3 and _drift(nan).recall == 0.75  # a NaN box matches nothing, and crashes nothing


def test_layout_recognition() -> None:
    shapes = {0: (1, 300, 1), 1: (1, 300, 1), 2: (1, 300, 4)}
    assert is_box_layout(shapes)
    assert not is_box_layout({0: (1, 3, 256, 256)})  # a super-resolution model's one output
    assert not is_box_layout({0: (1, 300, 1), 1: (1, 300, 1), 2: (1, 300, 5)})
    assert not is_box_layout({0: (1, 300, 1), 1: (1, 200, 1), 2: (1, 300, 4)})
    assert not is_box_layout({0: (2, 300, 1), 1: (2, 300, 1), 2: (2, 300, 4)})
    with_extra = {**shapes, 3: (1, 10)}
    assert not is_box_layout(with_extra) and is_box_layout(with_extra, exact=False)


def test_worst_lines_block_and_json() -> None:
    records = [line_box_drift(_outputs(PLANTED), _outputs(s[0]()), 0.25, 0.5, line, f"img{line}.npz")
               for line, s in enumerate(SCENARIOS.values())]
    # missing (recall 0.75), then shifted (min IoU 126/130), then extra (precision 0.8), then swapped
    assert [r.line for r in worst_box_lines(records, 10)] == [3, 2, 1, 0]
    block = json.loads(json.dumps(json_safe(box_block(records, 0.25, 0.5, worst=2))))
    assert block["totals"] == {"reference": 16, "test": 16, "matched": 15, "recall": 15 / 16, "precision": 15 / 16}
    assert [w["line"] for w in block["worst"]] == [3, 2] and len(block["records"]) == 4
    assert block["summary"]["recall"]["min"] == 0.75 and block["summary"]["precision"]["min"] == 0.8
    assert block["summary"]["min_iou"]["min"] == pytest.approx(126 / 130, rel=1e-12) and block["summary"]["recall"]["lines"] == 4
    assert (block["tensors"], block["score_min"], block["iou_min"], block["lines"]) == (["output_0", "output_1", "output_2"], 0.25, 0.5, 4)


# --- through the workflow ---


def _folders(tmp_path: Path, sides: list[tuple[dict[str, Any], dict[str, Any]]]) -> DiffConfig:
    ref, test = tmp_path / "ref", tmp_path / "test"
    ref.mkdir()
    test.mkdir()
    for line, (r, t) in enumerate(sides):
        np.savez(ref / f"output_{line:06d}.npz", **r)
        np.savez(test / f"output_{line:06d}.npz", **t)
    datalist = tmp_path / "dl.txt"
    datalist.write_text("".join(f"img{line}.npz\n" for line in range(len(sides))))
    return DiffConfig(str(ref), str(test), str(datalist))


def _named(outputs: dict[int, np.ndarray]) -> dict[str, Any]:
    return {f"output_{k}": a for k, a in outputs.items()}


def test_the_workflow_compares_boxes_and_gates_on_the_missing_box(tmp_path: Path) -> None:
    cfg = _folders(tmp_path, [(_named(_outputs(PLANTED)), _named(_outputs(s[0]()))) for s in SCENARIOS.values()])
    report = diff_outputs(cfg)
    assert report.boxes is not None and [r["recall"] for r in report.boxes["records"]] == [1.0, 1.0, 1.0, 0.75]
    assert len(report.records) == 12 and any("rows may be reordered" in n for n in report.notes)
    raise_for_outcome(report)  # no gate given: nothing raised
    with pytest.raises(GateFailed, match=r"--min_box_recall 1: FAILED .* line 3 \(img3.npz, boxes: 0.75\)$"):
        raise_for_outcome(diff_outputs(replace(cfg, min_box_recall=1.0)))
    assert diff_outputs(replace(cfg, boxes="off")).boxes is None


def test_auto_does_not_trigger_on_a_super_resolution_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    image = rng.random((1, 1, 16, 16)).astype(np.float32)
    cfg = _folders(tmp_path, [({"output_0": image}, {"output_0": image + np.float32(0.01)})] * 2)
    report = diff_outputs(cfg)
    assert report.boxes is None and report.to_dict()["boxes"] is None and not any("NMS" in n for n in report.notes)
    with pytest.raises(UsageError, match=r"--boxes on: line 0 \(img0.npz\) holds output_0 \[1, 1, 16, 16\]"):
        diff_outputs(replace(cfg, boxes="on"))
    with pytest.raises(UsageError, match="--min_box_recall: no line's outputs are detections"):
        diff_outputs(replace(cfg, min_box_recall=0.9))


def test_on_accepts_extra_outputs_that_auto_leaves_alone(tmp_path: Path) -> None:
    extra = {"output_3": np.zeros((1, 10), np.float32)}
    cfg = _folders(tmp_path, [({**_named(_outputs(PLANTED)), **extra}, {**_named(_outputs(_missing())), **extra})])
    assert diff_outputs(cfg).boxes is None
    forced = diff_outputs(replace(cfg, boxes="on")).boxes
    assert forced is not None and forced["totals"]["recall"] == 0.75


# --- config and flags ---


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("boxes", "yes", "--boxes 'yes'"), ("box_score_min", 1.5, "--box_score_min"), ("box_score_min", -0.1, "--box_score_min"),
    ("box_iou", 0.0, "--box_iou"), ("box_iou", 1.01, "--box_iou"), ("min_box_recall", 1.2, "--min_box_recall"),
])
def test_bad_box_settings_are_usage_errors(field: str, value: object, needle: str) -> None:
    settings: dict[str, Any] = {field: value}
    with pytest.raises(UsageError, match=needle):
        DiffConfig("a", "b", "dl", **settings)


def test_a_recall_gate_with_boxes_off_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--boxes off"):
        DiffConfig("a", "b", "dl", boxes="off", min_box_recall=1.0)
    assert DiffConfig("a", "b", "dl", boxes="on", box_score_min=0.0, box_iou=1.0, min_box_recall=0.0).boxes == "on"


def test_the_flag_defaults_are_the_module_defaults() -> None:
    assert flag_named(DIFF_FLAGS, "box_score_min").default == DEFAULT_BOX_SCORE_MIN == DiffConfig("a", "b", "dl").box_score_min
    assert flag_named(DIFF_FLAGS, "box_iou").default == DEFAULT_BOX_IOU == DiffConfig("a", "b", "dl").box_iou
    assert flag_named(DIFF_FLAGS, "boxes").default == "auto" == DiffConfig("a", "b", "dl").boxes
