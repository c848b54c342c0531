"""Segmentation presets (SEG-1/2/4/6/8/9) against independent transcriptions of the vendor scripts' arithmetic."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import PIL
import pytest
from PIL import Image

import vampy
from vampy.errors import PartialResult
from vampy.quality.pil_resize import resize_bicubic_u8, resize_nearest

RNG = np.random.default_rng(7)


def _pil12_bicubic(a: np.ndarray, width: int, height: int) -> np.ndarray:
    """libImaging/Resample.c (Pillow <= 12.3) for one 8-bit band, with loops: horizontal pass, then vertical."""

    def cubic(x: float) -> float:
        x = abs(x)
        return ((1.5 * x - 2.5) * x * x + 1) if x < 1 else ((((x - 5) * x + 8) * x - 4) * -0.5 if x < 2 else 0.0)

    def one_pass(rows: list[list[int]], out_size: int) -> list[list[int]]:
        in_size = len(rows[0])
        scale = in_size / out_size
        fs = max(scale, 1.0)
        support = 2.0 * fs
        result = [[0] * out_size for _ in rows]
        for xx in range(out_size):
            center = (xx + 0.5) * scale
            xmin = max(int(center - support + 0.5), 0)
            xmax = min(int(center + support + 0.5), in_size) - xmin
            w = [cubic((x + xmin - center + 0.5) / fs) for x in range(xmax)]
            total = sum(w)
            w = [v / total if total != 0 else v for v in w]
            k = [int(v * (1 << 22) - 0.5) if v < 0 else int(v * (1 << 22) + 0.5) for v in w]
            for r, row in enumerate(rows):
                acc = (1 << 21) + sum(row[xmin + x] * k[x] for x in range(xmax))
                result[r][xx] = min(max(acc >> 22, 0), 255)
        return result

    rows = a.astype(int).tolist()
    if len(rows[0]) != width:
        rows = one_pass(rows, width)
    if len(rows) != height:
        rows = [list(c) for c in zip(*one_pass([list(c) for c in zip(*rows)], height))]
    return np.array(rows, dtype=np.uint8)


def _pil12_nearest(a: np.ndarray, width: int, height: int) -> np.ndarray:
    def index(n_in: int, n_out: int) -> list[int]:
        scale, xo, out = n_in / n_out, n_in / n_out * 0.5, []
        for _ in range(n_out):
            out.append(min(int(xo), n_in - 1))
            xo += scale
        return out

    return a[index(a.shape[0], height)][:, index(a.shape[1], width)]


@pytest.mark.parametrize("sizes", [(30, 40, 16, 16), (7, 5, 13, 11), (64, 48, 20, 33), (3, 9, 9, 3)])
def test_pillow_12_resize_arithmetic(sizes: tuple[int, int, int, int]) -> None:
    h, w, out_h, out_w = sizes
    a = (RNG.random((h, w)) * 255).astype(np.uint8)
    a[a < 100] = 0
    assert np.array_equal(resize_bicubic_u8(a, out_w, out_h), _pil12_bicubic(a, out_w, out_h))
    assert np.array_equal(resize_nearest(a, out_w, out_h), _pil12_nearest(a, out_w, out_h))
    if int(PIL.__version__.split(".")[0]) < 13:  # the installed Pillow is the reference itself
        assert np.array_equal(resize_bicubic_u8(a, out_w, out_h), np.asarray(Image.fromarray(a).resize((out_w, out_h))))


def _datalist(tmp_path: Path, names: list[str], arrays: list[np.ndarray]) -> dict[str, str]:
    out = tmp_path / "out"
    out.mkdir()
    for i, array in enumerate(arrays):
        np.savez(out / f"output_{i:06d}.npz", output_0=array.astype(np.float32))
    datalist = tmp_path / "datalist.txt"
    datalist.write_text("".join(f"/data/npz/{n}.npz\n" for n in names))
    return dict(input_npz_path=str(datalist), out_npz_dir=str(out), gt_dir=str(tmp_path / "gt"))


def _voc_reference(logits: list[np.ndarray], labels: list[np.ndarray], n: int = 21) -> tuple[float, float]:
    correct = labeled = 0
    inter, union = np.zeros(n, np.float32), np.zeros(n, np.float32)
    for x, lab in zip(logits, labels):
        target = np.where(lab == 255, -1, lab.astype(int)) + 1
        pred_long = np.argmax(x.astype(np.int64), axis=0) + 1  # float -> long truncates toward zero
        labeled += int((target > 0).sum())
        correct += int(((pred_long == target) & (target > 0)).sum())
        pred = (np.argmax(x, axis=0) + 1) * (target > 0)
        for c in range(1, n + 1):
            i = ((pred == c) & (target == c)).sum()
            inter[c - 1] += i
            union[c - 1] += (pred == c).sum() + (target == c).sum() - i
    return correct / (2.220446049250313e-16 + labeled) * 100, float((inter / (np.float32(2.220446049250313e-16) + union)).mean()) * 100


def test_voc_seg_truncated_logits_pil_nearest_and_a_skipped_label(tmp_path: Path) -> None:
    labels = [np.array([[0, 0, 1, 1, 2, 2]] * 2 + [[255, 1, 1, 2, 2, 0]] * 2, np.uint8),
              np.array([[1, 2, 0, 0, 255, 1, 2]] * 5, np.uint8)]  # 5x7: resized to 4x6 by PIL NEAREST
    (tmp_path / "gt").mkdir()
    for name, lab in zip(("b_first", "a_second"), labels):  # decoy: the datalist order is not the names' order
        image = Image.fromarray(lab, mode="P")
        image.putpalette([v for i in range(256) for v in (i, i, i)])
        image.save(tmp_path / "gt" / f"{name}.png")
    logits = []
    for _ in labels:
        x = RNG.normal(0, 0.2, (1, 21, 4, 6)).astype(np.float32)
        x[0, 1, :, 2:4], x[0, 2, :, 2:4] = 0.6, 0.9  # float argmax 2, truncated argmax 0
        x[0, 2, 2:, 4:] = 3.5
        logits.append(x)
    flags = _datalist(tmp_path, ["b_first", "a_second", "no_label"], [*logits, logits[0]])
    with pytest.raises(PartialResult) as caught:
        vampy.evaluate(preset="voc_seg", input_shape=(6, 4), **flags)
    report = caught.value.report  # type: ignore[attr-defined]
    resized = [labels[0], _pil12_nearest(labels[1], 6, 4)]
    pixacc, miou = _voc_reference([x[0] for x in logits], resized)
    assert report.metrics["pixacc"] == pytest.approx(pixacc, abs=1e-9)
    assert report.metrics["miou"] == pytest.approx(miou, abs=1e-5)
    assert len(report.failures) == 1 and "no label file" in report.failures[0].reason


def test_cityscapes_seg_train_ids_and_non_square_shape(tmp_path: Path) -> None:
    ids = np.array([7, 8, 11, 0, 26, 33, 40, 255], np.uint8)
    label = ids[RNG.integers(0, len(ids), (5, 3))]
    (tmp_path / "gt" / "city").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "gt" / "city" / "x_gtFine_labelIds.png"), label)
    x = RNG.normal(0, 1, (1, 19, 5, 3)).astype(np.float32)
    flags = _datalist(tmp_path, ["city/x_leftImg8bit"], [x])
    report = vampy.evaluate(preset="cityscapes_seg", input_shape=(5, 3), **flags)  # stdc: A is the height
    train = {7: 0, 8: 1, 11: 2, 26: 13, 33: 18}
    gt = np.vectorize(lambda v: train.get(int(v), -1))(label)
    pred = np.argmax(x[0], axis=0)
    hist = np.zeros((19, 19))
    for g, p in zip(gt.ravel(), pred.ravel()):
        if g >= 0:
            hist[g, p] += 1
    tp = np.diag(hist)
    assert report.metrics["pixacc"] == pytest.approx(tp.sum() / hist.sum(1).sum() * 100)
    assert report.metrics["miou"] == pytest.approx((tp / np.maximum(1.0, hist.sum(1) + hist.sum(0) - tp)).mean() * 100)


def test_r2unet_seg_per_image_dice_iou_at_96(tmp_path: Path) -> None:
    (tmp_path / "gt").mkdir()
    masks, outs = [], []
    for name in ("m1", "m0"):
        mask = np.zeros((120, 100), np.uint8)
        mask[20:90, 30:80] = 255
        cv2.imwrite(str(tmp_path / "gt" / f"{name}.png"), mask)
        masks.append(np.where(cv2.resize(mask, (96, 96)) < 125, 0, 1))
        p = RNG.random((1, 1, 96, 96)).astype(np.float32)
        p[0, 0, :5] = 0.5  # exactly 0.5 is foreground
        outs.append(p)
    report = vampy.evaluate(preset="r2unet_seg", **_datalist(tmp_path, ["m1", "m0"], outs))
    dic, iou = [], []
    for m, p in zip(masks, outs):
        pred = (p[0, 0] >= 0.5).astype(int)
        inter = (pred * m).sum()
        dic.append(2 * inter / (pred.sum() + m.sum()))
        iou.append(inter / (pred + m - pred * m).sum())
    assert report.metrics == pytest.approx({"mean_dic": np.mean(dic) * 100, "mean_iou": np.mean(iou) * 100})


def test_human_seg_mean_of_per_image_iou(tmp_path: Path) -> None:
    (tmp_path / "gt" / "ds1").mkdir(parents=True)
    mask = np.zeros((12, 10), np.uint8)
    mask[3:9, 2:7] = 255
    cv2.imwrite(str(tmp_path / "gt" / "ds1" / "p.png"), mask)
    x = RNG.normal(0, 1, (1, 2, 8, 6)).astype(np.float32)
    report = vampy.evaluate(preset="human_seg", input_shape=(6, 8), **_datalist(tmp_path, ["ds1/p"], [x]))
    gt = (cv2.resize(mask, (6, 8), interpolation=cv2.INTER_LINEAR) > 0).astype(int)
    pred = np.argmax(x[0], axis=0)
    ious = [((pred == c) & (gt == c)).sum() / (((pred == c) | (gt == c)).sum() + 1e-6) for c in (0, 1)]
    assert report.metrics["mean_iou"] == pytest.approx(np.mean(ious) * 100, rel=1e-6)


def _stream(hist: np.ndarray) -> dict[str, float]:
    tp = np.diag(hist)
    iu = tp / (hist.sum(1) + hist.sum(0) - tp)
    freq = hist.sum(1) / hist.sum()
    return {"overall_acc": tp.sum() / hist.sum(), "mean_acc": np.nanmean(tp / hist.sum(1)),
            "freqw_acc": (freq[freq > 0] * iu[freq > 0]).sum(), "mean_iou": np.nanmean(iu)}


def test_unet_keras_bicubic_label_and_milesial_gif(tmp_path: Path) -> None:
    (tmp_path / "gt").mkdir()
    label = np.zeros((13, 11), np.uint8)
    label[4:9, 3:8] = 255
    Image.fromarray(label, mode="L").save(tmp_path / "gt" / "k.png")
    p = RNG.random((1, 1, 7, 9)).astype(np.float32)
    keras = vampy.evaluate(preset="unet_keras_seg", input_shape=(9, 7), **_datalist(tmp_path / "", ["k"], [p]))
    gt = (_pil12_bicubic(label, 9, 7) > 0).astype(int)  # any non-zero grey after the resize is foreground
    pred = (p[0, 0] >= 0.5).astype(int)
    hist = np.array([[((gt == a) & (pred == b)).sum() for b in (0, 1)] for a in (0, 1)], float)
    assert keras.metrics == pytest.approx(_stream(hist))

    other = tmp_path / "milesial"
    (other / "gt").mkdir(parents=True)
    mask = np.zeros((10, 8), np.uint8)
    mask[2:7, 1:5] = 1
    gif = Image.fromarray(mask, mode="P")
    gif.putpalette([0, 0, 0, 255, 255, 255])
    gif.save(other / "gt" / "car_mask.gif")
    x = RNG.normal(0, 1, (1, 2, 5, 4)).astype(np.float32)
    milesial = vampy.evaluate(preset="unet_milesial_seg", input_shape=(4, 5), **_datalist(other, ["car"], [x]))
    gt = _pil12_nearest(np.asarray(Image.open(other / "gt" / "car_mask.gif")), 4, 5)
    pred = np.argmax(x[0], axis=0)
    hist = np.array([[((gt == a) & (pred == b)).sum() for b in (0, 1)] for a in (0, 1)], float)
    expected = _stream(hist)
    assert all(math.isclose(milesial.metrics[k], v) or (math.isnan(v) and math.isnan(milesial.metrics[k])) for k, v in expected.items())


def test_binary_dice_iou_needs_a_threshold_decode() -> None:
    from vampy.errors import UsageError
    from vampy.quality.families import SegScoring

    with pytest.raises(UsageError, match="metric binary_dice_iou needs decode 'threshold', not 'argmax'"):
        SegScoring(metric="binary_dice_iou", num_classes=2)
    assert SegScoring(metric="binary_dice_iou", num_classes=2, decode="threshold").decode == "threshold"
