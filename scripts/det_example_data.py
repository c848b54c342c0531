"""Example data for the README's detection walk-through, made for `vampy zoo yolov5-head`'s planted boxes.

    python scripts/det_example_data.py work/yolov5s/mod.json work

writes, under the second argument:
- det_images/NAME.jpg: smooth random pictures of four sizes (landscape, portrait, square), the originals
  that `vampy image2npz` turns into npz files and that coco_det's reader reads for their sizes;
- det_coco_calib/NAME.jpg: the same pictures, the calibration set the zoo's yolov5 YAML names;
- instances.json: a COCO ground truth whose objects are the model's planted boxes (mod.json
  `planted_boxes`, in model-input pixels) mapped back through the vdsp letterbox onto each picture,
  which is what a perfect detector would find: the scores then measure the pipeline, not the model;
- coco.txt: the 80 COCO names, one per line, as the zoo's --label_txt file has them.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

from vampy.quality.detection import COCO80_TO_91, COCO_NAMES

SIZES_WH = ((640, 480), (480, 640), (800, 600), (500, 500))
BLUR_SIGMA_PX = 8.0


def picture(seed: int, width: int, height: int) -> np.ndarray:
    noise = np.random.default_rng(seed).integers(0, 256, (height, width, 3)).astype(np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), BLUR_SIGMA_PX)


def unletterbox(box: list[float], width: int, height: int, size_px: int) -> list[float]:
    """Model-input pixels -> picture pixels: the letterbox scales by min(S/h, S/w) and pads the rest equally on
    both sides; the part of a box over the padding is cut off, as an annotator would see the object."""
    gain = min(size_px / height, size_px / width)
    pad_x, pad_y = (size_px - width * gain) / 2, (size_px - height * gain) / 2
    x1, y1, x2, y2 = box
    xs = np.clip([(x1 - pad_x) / gain, (x2 - pad_x) / gain], 0, width)
    ys = np.clip([(y1 - pad_y) / gain, (y2 - pad_y) / gain], 0, height)
    return [float(xs[0]), float(ys[0]), float(xs[1]), float(ys[1])]


def ground_truth(planted: list[dict], size_px: int) -> dict:
    images, annotations = [], []
    for image_id, (width, height) in enumerate(SIZES_WH, start=1):
        images.append({"id": image_id, "file_name": f"{image_id:012d}.jpg", "width": width, "height": height})
        for box in planted:
            x1, y1, x2, y2 = unletterbox([box["x1"], box["y1"], box["x2"], box["y2"]], width, height, size_px)
            if x2 <= x1 or y2 <= y1:  # wholly over the padding: not in the picture
                continue
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": COCO80_TO_91[box["class"]],
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    categories = [{"id": COCO80_TO_91[k], "name": name} for k, name in enumerate(COCO_NAMES)]
    return {"images": images, "annotations": annotations, "categories": categories}


def main(model_json: Path, out: Path) -> None:
    meta = json.loads(model_json.read_text())
    size_px = int(meta["inputs"][0]["shape"][-1])
    for folder in ("det_images", "det_coco_calib"):
        (out / folder).mkdir(parents=True, exist_ok=True)
        for image_id, (width, height) in enumerate(SIZES_WH, start=1):
            cv2.imwrite(str(out / folder / f"{image_id:012d}.jpg"), picture(image_id, width, height))
    (out / "instances.json").write_text(json.dumps(ground_truth(meta["planted_boxes"], size_px)))
    (out / "coco.txt").write_text("".join(f"{name}\n" for name in COCO_NAMES))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
