"""The family zoo models through the user's pipeline: `vampy zoo X`, (`vampy compile` for the detector),
`vampy run --datalist`, `vampy eval --preset`. yolov5-head's planted boxes come back through the zoo's own
yolov5 YAML, the letterbox and COCO mAP exactly; the random-weight families are scored and the scores are
checked against a computation written here from the outputs (their values mean nothing)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml
from PIL import Image

from tests.support.files import images
from vampy.quality.classification import synset_names
from vampy.quality.detection import COCO80_TO_91, COCO_NAMES
from vampy.quality.nlp import NER_LABELS

pytestmark = pytest.mark.slow

VENDOR_YAML = Path(__file__).resolve().parents[2] / "build" / "vendor" / "ultralytics_yolov5.yaml"
TIMEOUT_S = 120
SIZE_PX = 64
# Landscape 4:3 images: letterboxed to 64x64 at gain 64/w, centred, so 8 model rows of padding above.
IMAGES_HW = {"000000000001": (48, 64), "000000000002": (96, 128)}


def vampy(*args: str) -> dict[str, Any]:
    """Run the CLI; the --json report it writes (the last argument pair), exit 0 asserted."""
    proc = subprocess.run([sys.executable, "-m", "vampy", *args], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report: dict[str, Any] = json.loads(Path(args[-1]).read_text()) if args[-2] == "--json" else {}
    return report


def zoo(tmp_path: Path, command: str, *flags: str) -> tuple[str, dict[str, Any]]:
    """`vampy zoo COMMAND`: (the model prefix for -m, its mod.json)."""
    folder = tmp_path / command
    proc = subprocess.run([sys.executable, "-m", "vampy", "zoo", command, "-o", str(folder), *flags], capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    assert proc.returncode == 0 and "RANDOM weights" in proc.stdout and "warning: seeded random weights" in proc.stderr, proc.stderr
    return str(folder / "mod"), json.loads((folder / "mod.json").read_text())


def run_datalist(tmp_path: Path, model: str, arrays: list[dict[str, np.ndarray]], names: list[str]) -> tuple[Path, Path]:
    """Write each input npz (images CHW, as image2npz writes them) under its name's path, run the datalist; (datalist, outputs)."""
    lines = []
    for feeds, name in zip(arrays, names):
        path = tmp_path / "inputs" / f"{name}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **feeds)  # type: ignore[arg-type]  # numpy's stub types **kwds as its allow_pickle flag
        lines.append(str(path))
    datalist, out = tmp_path / "datalist.txt", tmp_path / "outputs"
    datalist.write_text("\n".join(lines) + "\n")
    report = vampy("run", "-m", model, "--datalist", str(datalist), "--path_output", str(out), "-q", "--json", str(tmp_path / "run.json"))
    assert report["datalist"]["written"] == len(arrays)
    return datalist, out


def outputs(out: Path, n: int) -> list[np.ndarray]:
    return [np.load(out / f"output_{i:06d}.npz")["output_0"] for i in range(n)]


# --- yolov5-head: compiled with the zoo's YAML, planted boxes scored by COCO mAP ---


def _compile(tmp_path: Path, checkpoint: str, dtype: str) -> str:
    data: dict[str, Any] = yaml.safe_load(VENDOR_YAML.read_text())
    data["frontend"]["checkpoint"] = checkpoint + ".onnx"
    data["frontend"]["shape"] = {"images": [1, 3, SIZE_PX, SIZE_PX]}
    data["dataset"]["path"] = str(images(tmp_path / "calib", n=2, size_wh=(40, 30)))
    data["dataset"]["sampler"]["suffix"] = "bmp"
    data["dataset"]["process_ops"][1]["size"] = [SIZE_PX, -1]
    data["backend"]["dtype"] = dtype
    data["workspace"]["path"] = str(tmp_path / "ws")
    config = tmp_path / "yolov5.yaml"
    config.write_text(yaml.safe_dump(data))
    report = vampy("compile", str(config), "--json", str(tmp_path / "compile.json"))
    assert any("yolov5_nms applied: raw heads [1, 3*(5+80), H, W] at strides 8, 16, 32" in note for note in report["notes"])
    return str(Path(report["model_path"]).with_suffix(""))


def _letterbox(image: np.ndarray) -> np.ndarray:
    """The vdsp letterbox the YAML's Resize + Pad do: long side to SIZE_PX, centred, pad 114; then div255, CHW."""
    h, w = image.shape[:2]
    gain = SIZE_PX / max(h, w)
    nh, nw = round(h * gain), round(w * gain)
    canvas = np.full((SIZE_PX, SIZE_PX, 3), 114, np.uint8)
    top, left = (SIZE_PX - nh) // 2, (SIZE_PX - nw) // 2
    canvas[top:top + nh, left:left + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return (canvas[:, :, ::-1].transpose(2, 0, 1) / 255).astype(np.float32)


def _gt(path: Path, planted: list[dict[str, Any]]) -> list[list[float]]:
    """COCO instances json: each planted box mapped back through each image's letterbox (whole pixels here)."""
    annotations: list[dict[str, Any]] = []
    per_image: list[list[list[float]]] = []
    for stem, (h, w) in IMAGES_HW.items():
        gain = SIZE_PX / max(h, w)
        pad_x, pad_y = (SIZE_PX - w * gain) / 2, (SIZE_PX - h * gain) / 2
        boxes = [[(b["x1"] - pad_x) / gain, (b["y1"] - pad_y) / gain, (b["x2"] - pad_x) / gain, (b["y2"] - pad_y) / gain] for b in planted]
        per_image.append(boxes)
        for b, (x1, y1, x2, y2) in zip(planted, boxes):
            annotations.append({"id": len(annotations) + 1, "image_id": int(stem), "category_id": COCO80_TO_91[b["class"]],
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    gt = {"images": [{"id": int(s), "height": h, "width": w, "file_name": f"{s}.jpg"} for s, (h, w) in IMAGES_HW.items()],
          "annotations": annotations, "categories": [{"id": i, "name": f"c{i}"} for i in range(1, 91)]}
    path.write_text(json.dumps(gt))
    return [b for boxes in per_image for b in boxes]


@pytest.mark.parametrize("dtype", ["fp32", "int8"])  # int8: the YAML as the zoo ships it (8-bit heads, float decode and NMS)
def test_yolov5_head_compiled_with_the_zoo_yaml_gives_the_planted_boxes_a_perfect_coco_map(tmp_path: Path, dtype: str) -> None:
    model, meta = zoo(tmp_path, "yolov5-head", "--size", str(SIZE_PX))
    planted = meta["planted_boxes"]
    compiled = _compile(tmp_path, model, dtype)
    image_dir = tmp_path / "val2017"
    image_dir.mkdir()
    rng = np.random.default_rng(0)
    arrays = []
    for stem, (h, w) in IMAGES_HW.items():
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        cv2.imwrite(str(image_dir / f"{stem}.jpg"), image)
        arrays.append({"input_0": _letterbox(image)})
    datalist, out = run_datalist(tmp_path, compiled, arrays, list(IMAGES_HW))
    labels, gt_path, txt = tmp_path / "coco.txt", tmp_path / "instances.json", tmp_path / "txt"
    labels.write_text("\n".join(COCO_NAMES) + "\n")
    expected_boxes = _gt(gt_path, planted)
    report = vampy("eval", "--preset", "coco_det", "--label_txt", str(labels), "--input_image_dir", str(image_dir), "--model_size",
                   str(SIZE_PX), str(SIZE_PX), "--vamp_datalist_path", str(datalist), "--vamp_output_dir", str(out), "--txt", str(txt),
                   "--gt", str(gt_path), "--json", str(tmp_path / "eval.json"))
    found = []  # the reader's txt lines, best first per image: every planted box, in whole image pixels, nothing else
    for stem in IMAGES_HW:
        for line in (txt / f"{stem}.txt").read_text().splitlines():
            *name, score, x1, y1, x2, y2 = line.split()
            found.append((" ".join(name), float(score), [float(v) for v in (x1, y1, x2, y2)]))
    expected = [(COCO_NAMES[b["class"]], b["score"], box) for b, box in zip(planted * len(IMAGES_HW), expected_boxes)]
    assert [(name, box) for name, _, box in found] == [(name, box) for name, _, box in expected]  # planted best first
    np.testing.assert_allclose([score for _, score, _ in found], [score for _, score, _ in expected], atol=0.01)
    metrics = report["metrics"]
    assert metrics["bbox_map"] == metrics["bbox_map_50"] == metrics["bbox_map_75"] == metrics["bbox_map_s"] == 1.0
    assert metrics["bbox_map_m"] == pytest.approx(1.0) and metrics["bbox_map_l"] == -1.0  # the x2 image's boxes are COCO-medium


# --- the random-weight families: scored, and the scores agree with the outputs ---


def test_ctc_rec_outputs_score_as_ctc_ppocr_v4_rec(tmp_path: Path) -> None:
    model, meta = zoo(tmp_path, "ctc-rec")
    rng = np.random.default_rng(1)
    arrays = [{"x": rng.uniform(-1, 1, (3, 32, 100)).astype(np.float32)} for _ in range(3)]
    datalist, out = run_datalist(tmp_path, model, arrays, [f"word_{i}" for i in range(3)])
    charset = meta["charset"]
    texts = []
    for probs in outputs(out, 3):  # greedy CTC: argmax per step, repeats merged, blank (0) dropped
        best = probs.reshape(25, 37).argmax(axis=1)
        texts.append("".join(charset[c] for k, c in enumerate(best) if c != 0 and (k == 0 or c != best[k - 1])))
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"word_{i} {text if i != 1 else 'zz' + text}\n" for i, text in enumerate(texts)))
    report = vampy("eval", "--preset", "ctc_ppocr_v4_rec", "--label_file", str(labels), "--pred_npz_dir", str(out),
                   "--npz_datalist", str(datalist), "--json", str(tmp_path / "eval.json"))
    assert report["metrics"]["right_num"] == 2 and report["metrics"]["all_num"] == 3  # word_1's label was made wrong


def test_token_cls_outputs_score_as_ner_people_daily(tmp_path: Path) -> None:
    model, _ = zoo(tmp_path, "token-cls")
    rng = np.random.default_rng(2)
    arrays, label_lines = [], []
    for length in (20, 40):
        mask = (np.arange(256) < length).astype(np.int64)[None]
        arrays.append({"input_ids": rng.integers(1, 21128, (1, 256)) * mask, "attention_mask": mask,
                       "token_type_ids": np.zeros((1, 256), np.int64)})
        ids = [0, *rng.integers(0, 6, length - 2).tolist(), 6]  # [CLS], tags, the script's end id
        label_lines.append("[" + ",".join(map(str, ids)) + "]")
    _, out = run_datalist(tmp_path, model, arrays, [f"sentence_{i}" for i in range(2)])
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(label_lines) + "\n")
    report = vampy("eval", "--preset", "ner_people_daily", "--result_dir", str(out), "--label_path", str(labels),
                   "--json", str(tmp_path / "eval.json"))
    right = total = 0
    for logits, line in zip(outputs(out, 2), label_lines):
        ids = [int(v) for v in line.strip("[]").split(",")]
        predicted = logits.reshape(256, len(NER_LABELS)).argmax(axis=1)
        right += sum(int(predicted[j] == ids[j]) for j in range(1, len(ids) - 1))
        total += len(ids) - 2
    assert report["metrics"]["accuracy"] == pytest.approx(right / total) and 0 <= report["metrics"]["f1"] <= 1


def test_classifier_outputs_score_as_imagenet_topk(tmp_path: Path) -> None:
    model, _ = zoo(tmp_path, "classifier")
    rng = np.random.default_rng(3)
    arrays = [{"input": rng.normal(0, 1, (3, 224, 224)).astype(np.float32)} for _ in range(2)]
    synsets = ["n01440764", "n02012849"]
    datalist, out = run_datalist(tmp_path, model, arrays, [f"{s}/ILSVRC_{i}" for i, s in enumerate(synsets)])
    top1 = [int(np.argmax(o)) for o in outputs(out, 2)]
    names = [f"class {i}" for i in range(1000)]
    names[top1[0]] = synset_names()[synsets[0]]  # image 0's top-1 is made its synset's class; image 1's is not
    if top1[1] != top1[0]:
        names[top1[1]] = "not a crane"
    labels = tmp_path / "imagenet.txt"
    labels.write_text("\n".join(names) + "\n")
    report = vampy("eval", "--preset", "imagenet_topk", "--npz_txt", str(datalist), "--npz_dir", str(out), "--result_txt",
                   str(tmp_path / "result.txt"), "--label_txt", str(labels), "--json", str(tmp_path / "eval.json"))
    assert report["metrics"]["top1_rate"] == 50.0 and report["metrics"]["top5_rate"] >= 50.0


def test_segmenter_outputs_score_as_voc_seg(tmp_path: Path) -> None:
    model, _ = zoo(tmp_path, "segmenter")
    rng = np.random.default_rng(4)
    arrays = [{"input": rng.normal(0, 1, (3, 32, 32)).astype(np.float32)} for _ in range(2)]
    datalist, out = run_datalist(tmp_path, model, arrays, ["a", "b"])
    gt_dir = tmp_path / "gt"
    gt_dir.mkdir()
    logits = outputs(out, 2)
    correct = labeled = 0
    for name, x in zip("ab", logits):
        label = np.argmax(x[0], axis=0).astype(np.uint8)  # the float argmax as the label on the top half, 0 below
        label[16:] = 0
        image = Image.fromarray(label, mode="P")
        image.putpalette([v for i in range(256) for v in (i, i, i)])
        image.save(gt_dir / f"{name}.png")
        truncated = np.argmax(x[0].astype(np.int64), axis=0)  # awesome score.py's pixAcc: argmax of int-truncated logits
        correct, labeled = correct + int((truncated == label).sum()), labeled + label.size
    report = vampy("eval", "--preset", "voc_seg", "--gt_dir", str(gt_dir), "--input_npz_path", str(datalist), "--out_npz_dir",
                   str(out), "--input_shape", "32", "32", "--json", str(tmp_path / "eval.json"))
    assert report["metrics"]["pixacc"] == pytest.approx(correct / labeled * 100, abs=1e-6)
    assert 0 < report["metrics"]["miou"] <= 100


def test_db_text_maps_score_as_icdar_db(tmp_path: Path) -> None:
    model, _ = zoo(tmp_path, "db-text")
    rng = np.random.default_rng(5)
    arrays = [{"x": rng.normal(0, 1, (3, 64, 96)).astype(np.float32)} for _ in range(2)]
    datalist, out = run_datalist(tmp_path, model, arrays, ["img_1", "img_2"])
    for maps in outputs(out, 2):
        assert maps.shape == (1, 1, 64, 96) and 0 < maps.min() and maps.max() < 1
    root = tmp_path / "icdar2015"
    (root / "ch4_test_images").mkdir(parents=True)
    word = [{"transcription": "word", "points": [[100, 100], [400, 100], [400, 200], [100, 200]]}]
    (root / "test_icdar2015_label.txt").write_text("".join(f"ch4_test_images/img_{i}.jpg\t{json.dumps(word)}\n" for i in (1, 2)))
    report = vampy("eval", "--preset", "icdar_db", "--gt_dir", str(root / "ch4_test_images"), "--input_npz_path", str(datalist),
                   "--out_npz_dir", str(out), "--input_shape", "64", "96", "--json", str(tmp_path / "eval.json"))
    metrics = report["metrics"]
    assert set(metrics) == {"precision", "recall", "hmean"} and all(0 <= v <= 1 for v in metrics.values())
    assert len(report["images"]) == 2
