"""`vampy zoo yolov5-head | db-text | ctc-rec | token-cls | classifier | segmenter`: shapes on ONNX Runtime, seeds,
labels, the planted boxes against the independent numpy decode + NMS of tests/support/yolo_heads.py, and every flag."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from tests.support.cli import exit_code as _vampy
from tests.support.yolo_heads import decode_heads, reference_nms
from vampy.errors import UsageError
from vampy.models.zoo import RANDOM_WEIGHTS_WARNING
from vampy.models.zoo_build import FamilyModel, family_metadata
from vampy.models.zoo_families import build_classifier, build_ctc_rec, build_db_text, build_segmenter, build_token_cls
from vampy.models.zoo_yolo import build_yolov5_head, planted_cells

RNG = np.random.default_rng(7)


def _run(built: FamilyModel, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(built.model.SerializeToString(), providers=["CPUExecutionProvider"])
    return [np.asarray(o) for o in session.run(None, feeds)]


def _image(h: int, w: int) -> np.ndarray:
    return RNG.uniform(0, 1, (1, 3, h, w)).astype(np.float32)


def _tokens(length: int) -> dict[str, np.ndarray]:
    mask = (np.arange(length) < length // 2).astype(np.int64)[None]
    return {"input_ids": RNG.integers(0, 21128, (1, length)) * mask, "attention_mask": mask,
            "token_type_ids": np.zeros((1, length), np.int64)}


# (builder at a seed, its feeds, the output shapes expected)
CASES: dict[str, tuple[Callable[[int], FamilyModel], Callable[[], dict[str, np.ndarray]], list[tuple[int, ...]]]] = {
    "yolov5-head": (lambda s: build_yolov5_head(s, 64), lambda: {"images": _image(64, 64)},
                    [(1, 255, 8, 8), (1, 255, 4, 4), (1, 255, 2, 2)]),
    "db-text": (build_db_text, lambda: {"x": _image(64, 96)}, [(1, 1, 64, 96)]),
    "ctc-rec": (build_ctc_rec, lambda: {"x": _image(32, 100)}, [(1, 25, 37)]),
    "ctc-rec-crnn": (lambda s: build_ctc_rec(s, "ctc_crnn"), lambda: {"x": _image(32, 128)}, [(1, 32, 48)]),
    "token-cls": (build_token_cls, lambda: _tokens(256), [(1, 256, 7)]),
    "classifier": (build_classifier, lambda: {"input": _image(224, 224)}, [(1, 1000)]),
    "segmenter": (build_segmenter, lambda: {"input": _image(96, 64)}, [(1, 21, 96, 64)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_runs_with_the_family_shapes_and_the_seed_decides_the_weights(name: str) -> None:
    build, feeds, shapes = CASES[name]
    x = feeds()
    first, again, other = (_run(build(seed), x) for seed in (0, 0, 1))
    assert [o.shape for o in first] == shapes
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
    assert build(0).model.SerializeToString() == build(0).model.SerializeToString()


def test_probabilities_where_the_presets_read_probabilities() -> None:
    maps = _run(build_db_text(0), {"x": _image(64, 64)})[0]
    assert 0 < maps.min() and maps.max() < 1
    probs = _run(build_ctc_rec(0), {"x": _image(32, 100)})[0]
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-5)


def test_dynamic_models_take_other_sizes() -> None:
    assert _run(build_db_text(0), {"x": _image(32, 160)})[0].shape == (1, 1, 32, 160)
    assert _run(build_segmenter(0), {"input": _image(40, 24)})[0].shape == (1, 21, 40, 24)


@pytest.mark.parametrize("size_px", [64, 128, 640])
def test_planted_boxes_come_back_within_a_pixel_from_any_image(size_px: int) -> None:
    built = build_yolov5_head(3, size_px)
    planted = family_metadata(built, 3)["planted_boxes"]
    for image in (np.zeros((1, 3, size_px, size_px), np.float32), _image(size_px, size_px), np.ones((1, 3, size_px, size_px), np.float32)):
        decoded = decode_heads(_run(built, {"images": image}))  # the independent numpy yolov5 decode
        ids, scores, boxes = reference_nms(decoded, iou_max=0.65, score_min=0.001, n=10)
        best_first = sorted(planted, key=lambda b: -b["score"])
        assert [int(i) for i in ids[: len(planted), 0]] == [b["class"] for b in best_first]
        assert np.all(ids[len(planted):] == -1)  # nothing else passes the YAML's 0.001
        np.testing.assert_allclose(scores[: len(planted), 0], [b["score"] for b in best_first], atol=0.005)
        np.testing.assert_allclose(boxes[: len(planted)], [[b["x1"], b["y1"], b["x2"], b["y2"]] for b in best_first], atol=1.0)
        confidence = decoded[:, 4:5] * decoded[:, 5:]
        assert np.sort(confidence.max(axis=1))[-len(planted) - 1] < 1e-9  # the background, far under 0.001


def test_planted_boxes_are_whole_pixels_inside_the_input_and_take_the_class_count() -> None:
    cells = planted_cells(64, 80)
    assert [c.class_id for c in cells] == [0, 2, 16, 56]
    assert all(v == int(v) and 0 <= v <= 64 for c in cells for v in c.box_px)
    assert [c.class_id for c in planted_cells(640, 10)] == [0, 2, 6, 6]  # modulo --classes
    assert _run(build_yolov5_head(0, 64, 10), {"images": _image(64, 64)})[0].shape == (1, 45, 8, 8)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: build_yolov5_head(0, 100), "--size 100"), (lambda: build_yolov5_head(0, 32), "--size 32"),
    (lambda: build_yolov5_head(0, 64, 0), "--classes 0"), (lambda: build_ctc_rec(0, "ctc_x"), "ctc_x"),
    (lambda: build_token_cls(0, 0), "--seq_len 0"),
])
def test_bad_parameters_are_usage_errors(call: Callable[[], object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        call()


@pytest.mark.parametrize(("command", "flags", "preset", "output_shape"), [
    ("yolov5-head", ["--size", "64", "--classes", "3"], "coco_det", [1, 24, 8, 8]),
    ("db-text", [], "icdar_db", [1, 1, "height", "width"]),
    ("ctc-rec", ["--preset", "ctc_crnn"], "ctc_crnn", [1, 32, 48]),
    ("token-cls", ["--seq_len", "256"], "ner_people_daily", [1, 256, 7]),
    ("classifier", [], "imagenet_topk", [1, 1000]),
    ("segmenter", [], "voc_seg", [1, 21, "height", "width"]),
])
def test_cli_writes_labelled_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, flags: list[str], preset: str,
                                   output_shape: list[object]) -> None:
    out = tmp_path / "m"
    assert _vampy(["zoo", command, "-o", str(out), "--seed", "4", *flags]) == 0
    captured = capsys.readouterr()
    meta = json.loads((out / "mod.json").read_text())
    assert meta["model"] == command and meta["seed"] == 4 and meta["weights"] == "random"
    assert meta["accuracy_meaningful"] is False and meta["warning"] == RANDOM_WEIGHTS_WARNING
    assert meta["presets"] == [preset] and meta["outputs"][0]["shape"] == output_shape
    props = {p.key: p.value for p in onnx.load(str(out / "mod.onnx")).metadata_props}
    assert props["accuracy_meaningful"] == "false" and props["seed"] == "4"
    assert captured.out.startswith(f"wrote {out / 'mod.onnx'}") and f"scored by --preset {preset}" in captured.out
    assert "RANDOM weights (seed 4)" in captured.out and "warning: seeded random weights" in captured.err


def test_cli_yolov5_head_prints_the_planted_boxes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(["zoo", "yolov5-head", "-o", str(tmp_path), "--size", "64"]) == 0
    assert "planted boxes (x1,y1,x2,y2 input pixels): person 0.9 [6,16,19,48], car 0.8" in capsys.readouterr().out
    assert json.loads((tmp_path / "mod.json").read_text())["planted_boxes"][0]["name"] == "person"


@pytest.mark.parametrize(("args", "message"), [
    (["yolov5-head", "--size", "100"], "--size 100"), (["yolov5-head", "--classes", "0"], "--classes 0"),
    (["yolov5-head", "--size", "x"], "--size"), (["ctc-rec", "--preset", "imdb"], "--preset 'imdb'"),
    (["token-cls", "--seq_len", "0"], "--seq_len 0"), (["classifier", "--seed", "x"], "--seed"),
    (["segmenter"], "-o"),
])
def test_cli_bad_flags_exit_2_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    out = ["-o", str(tmp_path / "m")] if args != ["segmenter"] else []
    assert _vampy(["zoo", *args, *out]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not (tmp_path / "m" / "mod.onnx").exists()


def test_help_says_what_scores_each(capsys: pytest.CaptureFixture[str]) -> None:
    for command, preset in (("yolov5-head", "coco_det"), ("db-text", "icdar_db"), ("ctc-rec", "ctc_ppocr_v4_rec"),
                            ("token-cls", "ner_people_daily"), ("classifier", "imagenet_topk"), ("segmenter", "voc_seg")):
        assert _vampy(["zoo", command, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split())
        assert preset in text and "RANDOM" in text
