"""`vampy infer --preset NAME` for imagenet_topk and the segmentation presets equals the npz route (image2npz +
run --datalist + eval --preset, the real commands) on tiny made-up images and seeded ONNX models; refusals."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from PIL import Image

from tests.models import make_model, save
from tests.support.cli import exit_code as _vampy
from tests.support.sr_models import resize_vdsp
from vampy.quality.classification import synset_names

MODEL_HW = (24, 32)  # the vdsp resize (H, W): non-square, so an H/W swap shows
IMAGE_HWS = ((30, 40), (20, 28), (24, 32))


def _palette(classes: int) -> np.ndarray:
    """A seeded RGB colour in [0, 1] per class the model tells apart (2 for a one-output sigmoid model)."""
    return np.random.default_rng(classes).uniform(0.1, 0.9, (max(2, classes), 3))


def _seg_model(path: Path, classes: int, sigmoid: bool = False) -> Path:
    """The nearest palette colour as a 1x1 conv 3 -> classes (logits 8 (x.p - |p|^2 / 2): small enough that truncating
    them changes some argmaxes); sigmoid: one output, > 0.5 where class 1's colour is the nearer. Dynamic N/H/W."""
    p = _palette(classes)
    weight, bias = 8 * p, -4 * (p * p).sum(1)
    if sigmoid:
        weight, bias = weight[1:] - weight[:1], bias[1:] - bias[:1]
    weight, bias = weight.reshape(classes, 3, 1, 1).astype(np.float32), bias.astype(np.float32)
    nodes = [helper.make_node("Conv", ["input", "w", "b"], ["logits" if sigmoid else "output"], kernel_shape=[1, 1])]
    if sigmoid:
        nodes.append(helper.make_node("Sigmoid", ["logits"], ["output"]))
    graph = helper.make_graph(
        nodes, "seg",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, ["n", classes, "h", "w"])],
        initializer=[numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    return save(make_model(graph), path)


def _cls_model(path: Path) -> Path:
    """Global mean of R, G, B -> 1000 scores: red picks class 0, green 1, blue 2 (plus seeded noise for the rest)."""
    weight = (np.random.default_rng(5).standard_normal((3, 1000)) * 0.05).astype(np.float32)
    weight[0, 0] = weight[1, 1] = weight[2, 2] = 5.0
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["input"], ["pooled"]), helper.make_node("Flatten", ["pooled"], ["flat"]),
         helper.make_node("MatMul", ["flat", "w"], ["output"])], "cls",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, ["n", 1000])],
        initializer=[numpy_helper.from_array(weight, "w")],
    )
    return save(make_model(graph), path)


def _blocks(seed: int, hw: tuple[int, int], count: int) -> np.ndarray:
    """A plane of 4x4 blocks of indices below count (so the resize to the model's size keeps regions)."""
    coarse = np.random.default_rng(seed).integers(0, count, (hw[0] // 4 + 1, hw[1] // 4 + 1))
    return np.kron(coarse, np.ones((4, 4), np.int64))[: hw[0], : hw[1]]


def _palette_png(path: Path, plane: np.ndarray) -> None:
    image = Image.fromarray(plane, mode="P")
    image.putpalette([v for i in range(256) for v in (i, i, i)])
    image.save(path)


def _write_label(preset: str, path: Path, plane: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if preset in ("voc_seg", "unet_milesial_seg"):
        _palette_png(path, plane)  # voc: a palette PNG; milesial: a palette GIF (Pillow's NEAREST)
    elif preset == "unet_keras_seg":
        Image.fromarray(plane, mode="L").save(path)  # mode L: Pillow's BICUBIC
    else:
        cv2.imwrite(str(path), plane)  # read by OpenCV as grey


# classes: the model's outputs; values: the label values drawn, each painted in the colour of the class the model should
# find there (None: an ignored label, painted grey); shape: eval's --input_shape, in the order the preset's script reads it.
CASES: dict[str, dict[str, Any]] = {
    "voc_seg": dict(classes=21, image="{i}_img.png", label="{i}_img.png", values=[0, 1, 2, 5, 20, 255],
                    finds=[0, 1, 2, 5, 20, None], shape="32 24"),
    "cityscapes_seg": dict(classes=19, folder="aachen", image="aachen_{i}_leftImg8bit.png", label="aachen/aachen_{i}_gtFine_labelIds.png",
                           values=[0, 7, 8, 11, 26, 33], finds=[None, 0, 1, 2, 13, 18], shape="24 32"),
    "r2unet_seg": dict(classes=1, sigmoid=True, image="{i}.png", label="{i}.png", values=[0, 100, 200, 255], finds=[0, 0, 1, 1],
                       hw=(96, 96)),
    "human_seg": dict(classes=2, folder="people", image="{i}.png", label="people/{i}.png", values=[0, 1], finds=[0, 1], shape="32 24"),
    "unet_keras_seg": dict(classes=1, sigmoid=True, image="{i}.png", label="{i}.png", values=[0, 255], finds=[0, 1], shape="32 24"),
    "unet_milesial_seg": dict(classes=2, image="{i}.png", label="{i}_mask.gif", values=[0, 1], finds=[0, 1], shape="32 24"),
}


def _seg_data(root: Path, preset: str, case: dict[str, Any]) -> tuple[Path, Path]:
    """images/[folder/]NAME and gt/LABEL, at each image's own size; returns (images folder fed, gt folder)."""
    images, gt = root / "images", root / "gt"
    folder = images / case["folder"] if "folder" in case else images
    folder.mkdir(parents=True)
    palette = np.vstack([_palette(case["classes"]), [0.5, 0.5, 0.5]])  # the last: the ignored label's grey
    finds = np.array([len(palette) - 1 if c is None else c for c in case["finds"]])
    for i, hw in enumerate(IMAGE_HWS):
        name = f"im{2 - i}"  # made in reverse name order: both routes run in name order
        index = _blocks(10 + i, hw, len(case["values"]))
        noise = np.random.default_rng(i).normal(0, 12, (*hw, 3))
        rgb = np.clip(palette[finds[index]] * 255 + noise, 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / case["image"].format(i=name)), rgb[:, :, ::-1])
        _write_label(preset, gt / case["label"].format(i=name), np.array(case["values"], np.uint8)[index])
    return images, gt


def _npz_route(root: Path, preset: str, images: Path, gt: Path, model: Path, vdsp: Path, hw: tuple[int, int],
               eval_flags: list[str], sub: str = "") -> dict[str, Any]:
    datalist, out, report = root / "datalist.txt", root / "out", root / "eval.json"
    assert _vampy(["image2npz", "--dataset_path", str(images / sub), "--mode", "rgb", "--target_path", str(root / "npz" / sub),
                   "--text_path", str(datalist), "-q"]) == 0
    assert _vampy(["run", "-m", str(model), "--vdsp_params", str(vdsp), "-i", "1", "p", "1", "-b", "1", "-s", f"[3,{hw[0]},{hw[1]}]",
                   "--datalist", str(datalist), "--path_output", str(out)]) == 0
    assert _vampy(["eval", "--preset", preset, "--npz_txt", str(datalist), "--npz_dir", str(out), *eval_flags,
                   "-q", "--json", str(report)]) == 0
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def _infer(root: Path, preset: str, images: Path, model: Path, vdsp: Path, flags: list[str]) -> dict[str, Any]:
    report = root / "infer.json"
    assert _vampy(["infer", "--preset", preset, "--lr_image_dir", str(images), "-m", str(model), "--vdsp_params", str(vdsp),
                   "--threads", "1", "-q", "--json", str(report), *flags]) == 0
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def _same(a: Any, b: Any) -> bool:
    """Equal figures, NaN equal to NaN (a StreamSegMetrics class without pixels)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _assert_same_report(infer: dict[str, Any], eval_data: dict[str, Any]) -> None:
    """One report shape: schema_version 2, the preset's metric keys, per image and overall, equal figures."""
    assert infer["kind"] == "infer" and infer["schema_version"] == eval_data["schema_version"] == 2
    assert infer["preset"] == eval_data["preset"] and infer["scoring"] == eval_data["scoring"]
    assert list(infer["metrics"]) == list(eval_data["metrics"]) == list(eval_data["scoring"]["metrics"])
    assert _same(infer["metrics"], eval_data["metrics"])
    assert [i["name"] for i in infer["images"]] == [i["name"] for i in eval_data["images"]]
    assert all(_same(a["metrics"], b["metrics"]) for a, b in zip(infer["images"], eval_data["images"]))
    assert _same(infer.get("per_class_iou"), eval_data.get("per_class_iou"))
    assert infer["failures"] == eval_data["failures"] == []


@pytest.mark.parametrize("preset", list(CASES))
def test_segmentation_preset_equals_npz_route(tmp_path: Path, preset: str) -> None:
    case = CASES[preset]
    hw = case.get("hw", MODEL_HW)
    images, gt = _seg_data(tmp_path, preset, case)
    model = _seg_model(tmp_path / "seg.onnx", case["classes"], sigmoid=case.get("sigmoid", False))
    vdsp = resize_vdsp(tmp_path / "vdsp.json", hw, "DIV255")
    shape = ["--input_shape", *case["shape"].split()] if "shape" in case else []
    eval_data = _npz_route(tmp_path, preset, images, gt, model, vdsp, hw, ["--gt_dir", str(gt), *shape], case.get("folder", ""))
    pattern = ["--pattern", "*/*.png"] if "folder" in case else []
    infer = _infer(tmp_path, preset, images, model, vdsp, ["--gt_dir", str(gt), "--save_dir", str(tmp_path / "drawn"), *pattern])
    _assert_same_report(infer, eval_data)
    assert [i["name"] for i in infer["images"]] == [Path(case["image"].format(i=f"im{k}")).stem for k in range(3)]
    assert (infer["images"][0]["height_px"], infer["images"][0]["width_px"]) == hw
    assert infer["saved"] == 3 and Image.open(infer["images"][0]["output_path"]).size == (hw[1], hw[0])
    iou = infer["per_class_iou"]
    assert len(iou) == max(2, case["classes"]) and any(v is not None for v in iou.values())


def _imagenet(root: Path) -> tuple[Path, list[str]]:
    """val/<wnid>/<name>.png: red in class 0's folder (top-1 right), green in class 1's, blue in class 0's (wrong).
    The green one has the red one's file name, as ImageNet's folders may: both are scored, on both routes."""
    wnids = list(synset_names())[:3]
    colours = [((0, 0, 200), wnids[0], "a"), ((0, 200, 0), wnids[1], "a"), ((200, 0, 0), wnids[0], "c")]  # BGR
    for i, (bgr, wnid, name) in enumerate(colours):
        (root / "val" / wnid).mkdir(parents=True, exist_ok=True)
        noise = np.random.default_rng(i).integers(0, 40, (20 + 4 * i, 24, 3))
        cv2.imwrite(str(root / "val" / wnid / f"{name}.png"), np.clip(noise + np.array(bgr), 0, 255).astype(np.uint8))
    return root / "val", wnids


def test_imagenet_topk_equals_npz_route(tmp_path: Path) -> None:
    val, wnids = _imagenet(tmp_path)
    labels = tmp_path / "imagenet.txt"
    labels.write_text("".join(f"{name}\n" for name in synset_names().values()))  # class k = the k-th synset's name
    model, vdsp = _cls_model(tmp_path / "cls.onnx"), resize_vdsp(tmp_path / "vdsp.json", (16, 16), "DIV255")
    # the npz route: image2npz --preset imagenet_topk keeps each image's synset folder, as the family's image2npz.py does
    datalist, out = tmp_path / "datalist.txt", tmp_path / "out"
    assert _vampy(["image2npz", "--preset", "imagenet_topk", "--dataset_path", str(val), "--pattern", "**/*.png",
                   "--target_path", str(tmp_path / "npz"), "--text_path", str(datalist), "-q"]) == 0
    assert [Path(line).parent.name for line in datalist.read_text().splitlines()] == [wnids[0], wnids[0], wnids[1]]
    assert _vampy(["run", "-m", str(model), "--vdsp_params", str(vdsp), "-i", "1", "p", "1", "-b", "1", "-s", "[3,16,16]",
                   "--datalist", str(datalist), "--path_output", str(out)]) == 0
    assert _vampy(["eval", "--preset", "imagenet_topk", "--npz_txt", str(datalist), "--npz_dir", str(out), "--label_txt", str(labels),
                   "--result_txt", str(tmp_path / "eval_result.txt"), "-q", "--json", str(tmp_path / "eval.json")]) == 0
    eval_data = json.loads((tmp_path / "eval.json").read_text())
    infer = _infer(tmp_path, "imagenet_topk", val, model, vdsp,  # the default --pattern looks in the synset folders
                   ["--label_txt", str(labels), "--result_txt", str(tmp_path / "infer_result.txt")])
    _assert_same_report(infer, eval_data)
    assert infer["metrics"]["top1_rate"] == pytest.approx(200 / 3)  # red and green right, blue in the wrong folder
    assert "per_class_iou" not in infer
    # the decode lines: eval's start with the datalist line, infer's with the image's path; the rest is byte for byte
    theirs = (tmp_path / "eval_result.txt").read_text().splitlines()
    mine = (tmp_path / "infer_result.txt").read_text().splitlines()
    assert [line.split(": ", 1)[1] for line in mine] == [line.split(": ", 1)[1] for line in theirs] and len(mine) == 15
    assert mine[0].startswith(f"{(val / wnids[0] / 'a.png').as_posix()}: Relay top-0 id: 0,")


def test_imagenet_topk_image_without_synset_folder_is_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    val, _ = _imagenet(tmp_path)
    (val / "stray").mkdir()
    cv2.imwrite(str(val / "stray" / "d.png"), np.zeros((8, 8, 3), np.uint8))
    labels = tmp_path / "imagenet.txt"
    labels.write_text("".join(f"{name}\n" for name in synset_names().values()))
    model, vdsp = _cls_model(tmp_path / "cls.onnx"), resize_vdsp(tmp_path / "vdsp.json", (16, 16), "DIV255")
    args = ["infer", "--preset", "imagenet_topk", "--lr_image_dir", str(val), "--pattern", "*/*.png", "-m", str(model),
            "--vdsp_params", str(vdsp), "--label_txt", str(labels), "--json", str(tmp_path / "r.json"), "-q"]
    assert _vampy(args) == 6
    data = json.loads((tmp_path / "r.json").read_text())
    assert len(data["images"]) == 3 and data["failures"][0]["stage"] == "score" and "synset" in data["failures"][0]["reason"]
    assert "top1_rate: 66.667" in capsys.readouterr().out  # the script's own line, over the images scored


def test_segmentation_missing_label_is_listed_at_the_ground_truth_stage(tmp_path: Path) -> None:
    images, gt = _seg_data(tmp_path, "voc_seg", CASES["voc_seg"])
    (gt / "im1_img.png").unlink()
    model, vdsp = _seg_model(tmp_path / "seg.onnx", 21), resize_vdsp(tmp_path / "vdsp.json", MODEL_HW, "DIV255")
    assert _vampy(["infer", "--preset", "voc_seg", "--lr_image_dir", str(images), "-m", str(model), "--vdsp_params", str(vdsp),
                   "--gt_dir", str(gt), "--json", str(tmp_path / "r.json"), "-q"]) == 6
    data = json.loads((tmp_path / "r.json").read_text())
    assert [i["name"] for i in data["images"]] == ["im0_img", "im2_img"]
    assert data["failures"][0]["stage"] == "ground truth" and "<name>.png" in data["failures"][0]["reason"]


@pytest.mark.parametrize("preset", ["sod_f3net", "coco_det", "imdb", "ctc_crnn", "icdar_db", "lowlight_usuir"])
def test_families_that_are_not_streamed_are_refused_naming_the_npz_route(
    tmp_path: Path, preset: str, capsys: pytest.CaptureFixture[str],
) -> None:
    assert _vampy(["infer", "--preset", preset, "--lr_image_dir", str(tmp_path), "-m", "m.onnx", "--hr_image_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"vampy eval --preset {preset}" in err and "npz route" in err and len(err.strip().splitlines()) == 1
    assert ("vampy image2npz" in err) == (preset != "imdb")  # token npz files do not come from images


@pytest.mark.parametrize(("flags", "message"), [
    (["--preset", "imagenet_topk"], "needs --label_txt"),
    (["--preset", "imagenet_topk", "--label_txt", "l.txt", "--hr_image_dir", "."], "--hr_image_dir does not apply"),
    (["--preset", "imagenet_topk", "--label_txt", "l.txt", "--save_dir", "s"], "--save_dir does not apply"),
    (["--preset", "voc_seg"], "needs --hr_image_dir (or --gt_dir)"),
    (["--preset", "voc_seg", "--gt_dir", ".", "--native"], "drop --native"),
    (["--preset", "voc_seg", "--gt_dir", ".", "--label_txt", "l.txt"], "--label_txt applies to --preset imagenet_topk only"),
    (["--preset", "voc_seg", "--gt_dir", ".", "--scoring", "s.yaml"], "--scoring applies to the super-resolution presets only"),
    (["--hr_image_dir", ".", "--result_txt", "r.txt"], "--result_txt applies to --preset imagenet_topk only"),
    ([], "--hr_image_dir is required"),
])
def test_flags_each_family_needs_and_refuses(tmp_path: Path, flags: list[str], message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert _vampy(["infer", "--lr_image_dir", str(tmp_path), "-m", "m.onnx", *flags]) == 2
    assert message in capsys.readouterr().err


def test_segmentation_without_a_fixed_model_size_names_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images, gt = _seg_data(tmp_path, "voc_seg", CASES["voc_seg"])
    model = _seg_model(tmp_path / "seg.onnx", 21)
    assert _vampy(["infer", "--preset", "voc_seg", "--lr_image_dir", str(images), "-m", str(model), "--gt_dir", str(gt)]) == 2
    assert "give --vdsp_params" in capsys.readouterr().err


def test_segmentation_cli_prints_the_scripts_line_and_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images, gt = _seg_data(tmp_path, "voc_seg", CASES["voc_seg"])
    model, vdsp = _seg_model(tmp_path / "seg.onnx", 21), resize_vdsp(tmp_path / "vdsp.json", MODEL_HW, "DIV255")
    page = tmp_path / "infer.html"
    assert _vampy(["infer", "--preset", "voc_seg", "--lr_image_dir", str(images), "-m", str(model), "--vdsp_params", str(vdsp),
                   "--gt_dir", str(gt), "--html", str(page), "-q"]) == 0
    out = capsys.readouterr().out
    assert "im2_img.png, validation pixAcc: " in out  # the script's own last line, after the last file's name
    assert "IoU per class (absent: no pixel in the ground truth or the prediction): 0: " in out and "4: absent" in out
    assert "mean psnr" not in out and "throughput (images/s)" in out
    html = page.read_text()
    assert "preset <code>voc_seg</code>" in html and "IoU per class" in html and ">absent<" in html
    assert "--preset voc_seg" in html  # the command that reproduces it
