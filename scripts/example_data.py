"""Example data for the README's walk-throughs, from seeded random pictures (no downloads).

    python scripts/example_data.py detection work/yolov5s/mod.json work   # for `vampy zoo yolov5-head`
    python scripts/example_data.py families work                          # for `vampy zoo classifier` / `segmenter`

detection writes, under its second argument:
- det_images/NAME.jpg: four pictures (640x480, 480x640, 800x600, 500x500), the originals that `vampy image2npz`
  turns into npz files and that coco_det's reader reads for their sizes;
- det_coco_calib/NAME.jpg: the same pictures, the calibration set the zoo's yolov5 YAML names;
- instances.json: a COCO ground truth whose objects are the model's planted boxes (mod.json `planted_boxes`, in
  model-input pixels) mapped back through the vdsp letterbox onto each picture: what a perfect detector finds, so
  the scores measure the pipeline, not the model;
- coco.txt: the 80 COCO names, one per line, as the zoo's --label_txt file has them.

families writes, under its argument:
- cls_val/<wnid>/<name>.JPEG: two pictures in each of three ImageNet synset folders, the layout of ImageNet's val
  set that the classification scripts read the label from;
- imagenet.txt: 1000 class names, one a line by class id, in the zoo's label-file format (from the ILSVRC-2012
  synset names vampy ships; the zoo's own file differs at class 480, docs/eval.md);
- voc/JPEGImages/<name>.jpg and voc/SegmentationClass/<name>.png: three pictures and their VOC palette label maps
  (background, rectangles of classes 12 and 15, a 255 "void" border), as the VOC devkit has them.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vampy.quality.classification import synset_names
from vampy.quality.detection import COCO80_TO_91, COCO_NAMES

DET_SIZES_WH = ((640, 480), (480, 640), (800, 600), (500, 500))
CLS_SYNSETS = ("n01440764", "n02012849", "n02977058")  # tench, crane, cash machine
SEG_SIZES_WH = ((500, 375), (375, 500), (480, 360))
VOID_LABEL = 255
DET_BLUR_SIGMA_PX = 8.0  # the two sets' blurs differ only because the README's figures were made with them
FAMILY_BLUR_SIGMA_PX = 6.0


def picture(seed: int, width: int, height: int, blur_sigma_px: float) -> np.ndarray:
    """A smooth random BGR picture: blurred noise, so JPEG keeps it and resizing changes it little."""
    noise = np.random.default_rng(seed).integers(0, 256, (height, width, 3)).astype(np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), blur_sigma_px)


# --- detection ---


def unletterbox(box: list[float], width: int, height: int, size_px: int) -> list[float]:
    """Model-input pixels -> picture pixels: the letterbox scales by min(S/h, S/w) and pads the rest equally on
    both sides; the part of a box over the padding is cut off, as an annotator would see the object.

    Written out here rather than taken from vampy.quality.detection.letterbox_inverse: the walk-through's test
    scores vampy's own inverse against this ground truth, so it must not be computed by the code under test."""
    gain = min(size_px / height, size_px / width)
    pad_x, pad_y = (size_px - width * gain) / 2, (size_px - height * gain) / 2
    x1, y1, x2, y2 = box
    xs = np.clip([(x1 - pad_x) / gain, (x2 - pad_x) / gain], 0, width)
    ys = np.clip([(y1 - pad_y) / gain, (y2 - pad_y) / gain], 0, height)
    return [float(xs[0]), float(ys[0]), float(xs[1]), float(ys[1])]


def ground_truth(planted: list[dict], size_px: int) -> dict:
    images, annotations = [], []
    for image_id, (width, height) in enumerate(DET_SIZES_WH, start=1):
        images.append({"id": image_id, "file_name": f"{image_id:012d}.jpg", "width": width, "height": height})
        for box in planted:
            x1, y1, x2, y2 = unletterbox([box["x1"], box["y1"], box["x2"], box["y2"]], width, height, size_px)
            if x2 <= x1 or y2 <= y1:  # wholly over the padding: not in the picture
                continue
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": COCO80_TO_91[box["class"]],
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    categories = [{"id": COCO80_TO_91[k], "name": name} for k, name in enumerate(COCO_NAMES)]
    return {"images": images, "annotations": annotations, "categories": categories}


def detection(model_json: Path, out: Path) -> None:
    meta = json.loads(model_json.read_text())
    size_px = int(meta["inputs"][0]["shape"][-1])
    for folder in ("det_images", "det_coco_calib"):
        (out / folder).mkdir(parents=True, exist_ok=True)
        for image_id, (width, height) in enumerate(DET_SIZES_WH, start=1):
            cv2.imwrite(str(out / folder / f"{image_id:012d}.jpg"), picture(image_id, width, height, DET_BLUR_SIGMA_PX))
    (out / "instances.json").write_text(json.dumps(ground_truth(meta["planted_boxes"], size_px)))
    (out / "coco.txt").write_text("".join(f"{name}\n" for name in COCO_NAMES))


# --- classification and segmentation ---


def voc_palette() -> list[int]:
    """The VOC devkit's colour map (bit-interleaved class index), 256 RGB triples."""
    palette = []
    for index in range(256):
        r = g = b = 0
        c = index
        for bit in range(8):
            r |= ((c >> 0) & 1) << (7 - bit)
            g |= ((c >> 1) & 1) << (7 - bit)
            b |= ((c >> 2) & 1) << (7 - bit)
            c >>= 3
        palette += [r, g, b]
    return palette


def label_map(width: int, height: int) -> np.ndarray:
    labels = np.zeros((height, width), np.uint8)
    labels[height // 5: height // 2, width // 6: width // 2] = 12  # dog
    labels[height // 2: 4 * height // 5, width // 2: 5 * width // 6] = 15  # person
    labels[[0, -1], :] = VOID_LABEL
    labels[:, [0, -1]] = VOID_LABEL
    return labels


def families(out: Path) -> None:
    for k, wnid in enumerate(CLS_SYNSETS):
        folder = out / "cls_val" / wnid
        folder.mkdir(parents=True, exist_ok=True)
        for j in range(2):
            image = picture(2 * k + j, 320, 240 + 40 * j, FAMILY_BLUR_SIGMA_PX)
            cv2.imwrite(str(folder / f"ILSVRC2012_val_{2 * k + j + 1:08d}.JPEG"), image)
    (out / "imagenet.txt").write_text("".join(f"{name}\n" for name in synset_names().values()))
    (out / "voc" / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (out / "voc" / "SegmentationClass").mkdir(parents=True, exist_ok=True)
    for k, (width, height) in enumerate(SEG_SIZES_WH):
        name = f"2007_{k + 1:06d}"
        cv2.imwrite(str(out / "voc" / "JPEGImages" / f"{name}.jpg"), picture(100 + k, width, height, FAMILY_BLUR_SIGMA_PX))
        label = Image.fromarray(label_map(width, height), mode="P")
        label.putpalette(voc_palette())
        label.save(out / "voc" / "SegmentationClass" / f"{name}.png")


def main(argv: list[str]) -> None:
    if len(argv) == 3 and argv[0] == "detection":
        detection(Path(argv[1]), Path(argv[2]))
    elif len(argv) == 2 and argv[0] == "families":
        families(Path(argv[1]))
    else:
        sys.exit("usage: python scripts/example_data.py detection MODEL_JSON OUT_DIR | families OUT_DIR")


if __name__ == "__main__":
    main(sys.argv[1:])
