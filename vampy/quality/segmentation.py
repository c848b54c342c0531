"""The segmentation presets' arithmetic (ZOO-EVAL.md 2.9, SEG-1/2/4/6/8/9), one `SegScoring` record each.

Per image: the label file named from the datalist line (gt_rule), read and resized to the model's
size as the script does (Pillow <= 12.3's NEAREST/BICUBIC through pil_resize.py, or OpenCV), the
output decoded (raw logits, argmax, or a probability >= 0.5), then the script's accumulator:
voc_awesome (awesome score.py: pixAcc on argmax of int-truncated logits, mIoU on float argmax over
all classes in float32), cityscapes19 (stdc: logits bilinear to --input_shape, confusion matrix),
binary_dice_iou (r2u_net: per image at a hard-coded 96x96), per_image_miou (human_seg), stream2
(StreamSegMetrics(2) of the unet scripts). `Tally.metrics()` is the script's last printed line.

`Tally.per_class_iou()` is the report's IoU of each class (none of the scripts prints it): the
script's own cumulative per-class figures where its metric has them (voc_awesome's intersection and
union, the confusion matrix of cityscapes19 and stream2), and for the per-image presets
(binary_dice_iou, per_image_miou) the same pixels pooled into one confusion matrix over all images,
so there the per-class mean is not the headline (the script averages per image). A class with no
pixel in either the ground truth or the prediction is absent (None), not 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from vampy.errors import InputError
from vampy.quality.families import SegScoring
from vampy.quality.pil_resize import resize_bicubic_u8, resize_nearest

VOC_EPS = 2.220446049250313e-16  # awesome score.py's np.spacing(1)
HUMAN_SEG_EPS = 1e-6
# Cityscapes labelIds -> trainIds (stdc's convert_label); every other id below 34 is ignored (255).
CITYSCAPES_TRAIN_IDS = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12, 26: 13,
                        27: 14, 28: 15, 31: 16, 32: 17, 33: 18}


# gt_relative's rules as a reader would write them, for messages: where a label file is looked for
GT_RULE_PATTERNS = {"name_png": "<name>.png", "name_mask_gif": "<name>_mask.gif", "cityscapes": "<city>/<name>_gtFine_labelIds.png",
                    "human_seg": "<folder>/<name>.png"}


def gt_relative(text: str, s: SegScoring) -> str:
    """The label's path under --gt_dir for a datalist line, by the script's own string operations."""
    parts = text.split("/")
    if s.gt_rule == "name_png":
        return parts[-1].replace(".npz", ".png")
    if s.gt_rule == "name_mask_gif":
        return parts[-1].replace(".npz", "_mask.gif")
    if len(parts) < 2:
        raise InputError(f"{text}: preset needs a <folder>/<name>.npz datalist line (the script reads the parent folder)")
    if s.gt_rule == "cityscapes":
        return (parts[-2] + "/" + parts[-1]).replace(".npz", ".png").replace("leftImg8bit.png", "gtFine_labelIds.png")
    return (parts[-2] + "/img/" + parts[-1]).replace(".npz", ".png").replace("/img", "")  # human_seg


def compare_hw(s: SegScoring, input_shape: tuple[int, int]) -> tuple[int, int]:
    """(height, width) the label is resized to, from --input_shape A B read as the script reads it."""
    if s.shape_order == "fixed" and s.fixed_hw is not None:
        return s.fixed_hw
    first, second = int(input_shape[0]), int(input_shape[1])
    return (first, second) if s.shape_order == "hw" else (second, first)


def read_label(path: Path, s: SegScoring, hw: tuple[int, int]) -> np.ndarray:
    """The label plane at (h, w), as the script reads and resizes it (int64)."""
    height, width = hw
    if not path.is_file():
        raise InputError(f"{path}: no label file (the script skips such an image silently)")
    if s.gt_resize in ("cv2_nearest", "cv2_linear"):
        grey = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)  # = cv2.imread(path, 0), as the scripts
        if grey is None:
            raise InputError(f"{path}: not an image OpenCV can decode")
        interpolation = cv2.INTER_NEAREST if s.gt_resize == "cv2_nearest" else cv2.INTER_LINEAR
        return cv2.resize(grey, (width, height), interpolation=interpolation).astype(np.int64)
    try:
        with Image.open(path) as image:
            image.load()
            mode, plane = image.mode, np.asarray(image)
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"{path}: not an image Pillow can read ({exc})") from None
    if mode in ("P", "1"):  # Image.resize's default for these modes is NEAREST
        return resize_nearest(plane.astype(np.uint8), width, height).astype(np.int64)
    if mode == "L":  # ... and BICUBIC for the others
        return resize_bicubic_u8(plane, width, height).astype(np.int64)
    raise InputError(f"{path}: a label image of mode {mode}; the preset reads grey (L), palette (P) or bilevel (1) labels")


def torch_bilinear(logits: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """F.interpolate(x, size=hw, mode='bilinear', align_corners=False) of (C, h, w) float32, as torch's CPU kernel."""

    def axis(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scale = np.float32(in_size / out_size)
        real = np.maximum(scale * (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5), np.float32(0))
        low = real.astype(np.int64)
        high = low + (low < in_size - 1)
        frac = np.clip(real - low.astype(np.float32), 0, 1).astype(np.float32)
        return low, high, frac

    y0, y1, fy = axis(logits.shape[1], hw[0])
    x0, x1, fx = axis(logits.shape[2], hw[1])
    one = np.float32(1)
    rows0, rows1 = logits[:, y0], logits[:, y1]
    top = (one - fx) * rows0[:, :, x0] + fx * rows0[:, :, x1]
    bottom = (one - fx) * rows1[:, :, x0] + fx * rows1[:, :, x1]
    return ((one - fy)[:, None] * top + fy[:, None] * bottom).astype(np.float32)


def decode(out: np.ndarray, s: SegScoring, hw: tuple[int, int], where: str) -> np.ndarray:
    """output_0 as the metric reads it: (C, H, W) float32 logits for voc_awesome/per_image_miou, else a (H, W) label plane."""
    if out.ndim != 4 or out.shape[0] < 1 or 0 in out.shape:
        raise InputError(f"{where}: output_0 has shape {out.shape}; expected (1, C, H, W)")
    x = out[0].astype(np.float32)
    if s.metric == "cityscapes19":
        x = torch_bilinear(x, hw) if x.shape[1:] != hw else x
    if s.decode == "threshold":
        plane = np.where(x[0] < 0.5, 0, 1).astype(np.int64)  # NaN is not < 0.5: it counts as foreground, as in the scripts
    elif s.decode == "argmax" and s.metric != "per_image_miou":
        plane = np.argmax(x, axis=0).astype(np.int64)
    else:
        plane = x
    if plane.shape[-2:] != hw:
        raise InputError(f"{where}: output is {plane.shape[-2]}x{plane.shape[-1]} but the label is compared at {hw[0]}x{hw[1]} "
                         "(--input_shape, read as the script reads it)")
    return plane


@dataclass
class Tally:
    """The script's running totals; `add` scores one image and returns that image's own metrics."""

    s: SegScoring
    correct: int = 0
    labeled: int = 0
    inter: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    union: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    confusion: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    pooled: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))  # per-image presets: for per_class_iou only
    per_image: list[dict[str, float]] = field(default_factory=list)

    def add(self, pred: np.ndarray, label: np.ndarray) -> dict[str, float]:
        metric = self.s.metric
        if metric == "voc_awesome":
            return self._voc(pred, label)
        if metric in ("cityscapes19", "stream2"):
            return self._confusion(pred, label)
        if metric == "binary_dice_iou":
            mask = np.where(label < (self.s.gt_threshold or 0), 0, 1)
            own = _dice_iou(pred, mask)
            self.pooled = _grown_sum(self.pooled, _hist(pred, mask, 2))
        else:
            own = {"mean_iou": _human_miou(pred, label) * 100.0}
            self.pooled = _grown_sum(self.pooled, _hist(np.argmax(pred, axis=0), np.where(label > 0, 1, 0), max(2, pred.shape[0])))
        self.per_image.append(own)
        return own

    def _voc(self, logits: np.ndarray, label: np.ndarray) -> dict[str, float]:
        n = self.s.num_classes
        if len(self.inter) == 0:
            self.inter, self.union = np.zeros(n, np.float32), np.zeros(n, np.float32)
        target = np.where(label == (self.s.ignore_label if self.s.ignore_label is not None else -2), -1, label) + 1
        truncated = np.argmax(np.trunc(logits).astype(np.int64), axis=0) + 1  # score.py's output.long()
        correct, labeled = int(((truncated == target) & (target > 0)).sum()), int((target > 0).sum())
        predict = (np.argmax(logits, axis=0) + 1) * (target > 0)
        intersection = predict * (predict == target)
        area = [np.bincount(np.clip(a.ravel(), 0, n + 1), minlength=n + 2)[1:n + 1] for a in (intersection, predict, target)]
        inter, union = area[0].astype(np.float32), (area[1] + area[2] - area[0]).astype(np.float32)
        self.correct, self.labeled = self.correct + correct, self.labeled + labeled
        self.inter, self.union = self.inter + inter, self.union + union
        return _voc_metrics(correct, labeled, inter, union)

    def _confusion(self, pred: np.ndarray, label: np.ndarray) -> dict[str, float]:
        n = self.s.num_classes
        if self.s.metric == "cityscapes19":
            label = _train_ids(label)
        elif self.s.gt_threshold is not None:
            label = np.where(label < self.s.gt_threshold, 0, 1)
        keep = (label >= 0) & (label < n)
        own = np.bincount(n * label[keep] + pred[keep], minlength=n * n)[: n * n].reshape(n, n).astype(np.float64)
        self.confusion = own if self.confusion.size == 0 else self.confusion + own
        return _confusion_metrics(own, self.s.metric)

    def metrics(self) -> dict[str, float]:
        """The script's final figures, in its units (percentages where it prints x100)."""
        metric = self.s.metric
        if metric == "voc_awesome":
            return _voc_metrics(self.correct, self.labeled, self.inter, self.union)
        if metric in ("cityscapes19", "stream2"):
            return _confusion_metrics(self.confusion, metric)
        names = list(self.per_image[0])
        with np.errstate(invalid="ignore"):
            return {name: float(np.mean([row[name] for row in self.per_image])) for name in names}

    def per_class_iou(self) -> dict[str, float | None]:
        """Class index (as text: a JSON key) -> IoU in the units of the preset's IoU metric; None: absent (no pixel in
        either the ground truth or the prediction)."""
        scale = 1.0 if self.s.metric == "stream2" else 100.0  # StreamSegMetrics prints fractions, the others percent
        if self.s.metric == "voc_awesome":
            iou = self.inter / (np.float32(VOC_EPS) + self.union)  # float32, as the script's mIoU takes them
            present = self.union > 0
        else:
            hist = self.confusion if self.s.metric in ("cityscapes19", "stream2") else self.pooled
            tp, union = np.diag(hist), hist.sum(1) + hist.sum(0) - np.diag(hist)
            present = union > 0
            iou = tp / np.maximum(union, 1)
        return {str(c): float(iou[c]) * scale if present[c] else None for c in range(len(iou))}


def _hist(pred: np.ndarray, target: np.ndarray, n: int) -> np.ndarray:
    """n x n pixel counts, rows the ground truth's class, columns the prediction's."""
    return np.bincount(n * target.ravel().astype(np.int64) + pred.ravel().astype(np.int64), minlength=n * n).reshape(n, n)


def _grown_sum(total: np.ndarray, own: np.ndarray) -> np.ndarray:
    """total + own, the smaller padded with zeros (an output with more classes than the ones before)."""
    n = max(total.shape[0], own.shape[0])
    out = np.zeros((n, n), np.int64)
    out[: total.shape[0], : total.shape[0]] += total
    out[: own.shape[0], : own.shape[0]] += own
    return out


def score_image(tally: Tally, gt_path: Path, output: np.ndarray, hw: tuple[int, int], where: str) -> tuple[dict[str, float], np.ndarray]:
    """One image as eval --preset scores it (label read at hw, output_0 decoded, tallied): its own metrics and the decoded
    prediction. vampy infer --preset hands its in-memory output here, eval the npz's."""
    label = read_label(gt_path, tally.s, hw)
    pred = decode(output, tally.s, hw, where)
    return tally.add(pred, label), pred


def picture(pred: np.ndarray, s: SegScoring) -> np.ndarray:
    """--draw_dir's grey label picture of a decoded prediction (logits are argmaxed first)."""
    plane = pred if pred.ndim == 2 else np.argmax(pred, axis=0)
    return label_picture(plane, s.num_classes)


def _voc_metrics(correct: int, labeled: int, inter: np.ndarray, union: np.ndarray) -> dict[str, float]:
    iou = inter / (np.float32(VOC_EPS) + union)  # float32, as the torch tensors
    return {"pixacc": 1.0 * correct / (VOC_EPS + labeled) * 100, "miou": float(iou.mean(dtype=np.float32)) * 100}


def _train_ids(label: np.ndarray) -> np.ndarray:
    mapped = np.where(label < 34, 255, label)  # ids 0..33 without a train id are ignored; 34 and up stay as they are
    for label_id, train_id in CITYSCAPES_TRAIN_IDS.items():
        mapped[label == label_id] = train_id
    return np.where(mapped == 255, -1, mapped)


def _confusion_metrics(hist: np.ndarray, metric: str) -> dict[str, float]:
    tp, pos, res = np.diag(hist), hist.sum(1), hist.sum(0)
    if metric == "cityscapes19":
        iou = tp / np.maximum(1.0, pos + res - tp)
        return {"pixacc": float(tp.sum() / pos.sum()) * 100, "miou": float(iou.mean()) * 100}
    with np.errstate(invalid="ignore", divide="ignore"):
        acc_cls = np.nanmean(tp / pos) if np.isfinite(tp / pos).any() else np.nan
        iu = tp / (pos + res - tp)
        freq = pos / hist.sum()
        return {"overall_acc": float(tp.sum() / hist.sum()), "mean_acc": float(acc_cls),
                "freqw_acc": float((freq[freq > 0] * iu[freq > 0]).sum()),
                "mean_iou": float(np.nanmean(iu)) if np.isfinite(iu).any() else float("nan")}


def _dice_iou(pred: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    inter = int((pred * mask).sum())
    union = int((pred + mask - pred * mask).sum())
    total = int(pred.sum() + mask.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"mean_dic": float(np.float64(2.0 * inter) / total) * 100, "mean_iou": float(np.float64(inter) / union) * 100}


def _human_miou(logits: np.ndarray, label: np.ndarray) -> float:
    classes = logits.shape[0]
    target = np.where(label > 0, 1, 0)
    if classes < 2:
        raise InputError(f"output_0 has {classes} class; human_seg's one-hot needs 2 or more (labels are 0/1)")
    pred = np.argmax(logits, axis=0)
    ious = []
    for c in range(classes):
        inter = np.float32(((pred == c) & (target == c)).sum())
        union = np.float32(((pred == c) | (target == c)).sum())
        ious.append(inter / (union + np.float32(HUMAN_SEG_EPS)))
    return float(np.mean(np.array(ious, dtype=np.float32), dtype=np.float32))


def label_picture(plane: np.ndarray, classes: int) -> np.ndarray:
    """A label plane as a grey uint8 picture for --draw_dir (classes spread over 0..255)."""
    step = 255 // max(1, classes - 1)
    return np.clip(plane * step, 0, 255).astype(np.uint8)
