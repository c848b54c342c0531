"""Example data for the README's classification and segmentation walk-throughs (`vampy zoo classifier`, `vampy zoo segmenter`).

    python scripts/cls_seg_example_data.py work

writes, under the argument:
- cls_val/<wnid>/<name>.JPEG: two smooth random pictures in each of three ImageNet synset folders, the
  layout of ImageNet's val set that the classification scripts read the label from;
- imagenet.txt: 1000 class names, one a line by class id, in the zoo's label-file format (made from
  the ILSVRC-2012 synset names vampy ships; the zoo's own file differs at class 480, docs/eval.md);
- voc/JPEGImages/<name>.jpg and voc/SegmentationClass/<name>.png: three pictures and their VOC palette
  label maps (background, two object rectangles of classes 12 and 15, a 255 "void" border), as the VOC
  devkit has them.
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vampy.quality.classification import synset_names

CLS_SYNSETS = ("n01440764", "n02012849", "n02977058")  # tench, crane, cash machine
SEG_SIZES_WH = ((500, 375), (375, 500), (480, 360))
VOID_LABEL = 255
BLUR_SIGMA_PX = 6.0


def picture(seed: int, width: int, height: int) -> np.ndarray:
    noise = np.random.default_rng(seed).integers(0, 256, (height, width, 3)).astype(np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), BLUR_SIGMA_PX)


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


def main(out: Path) -> None:
    for k, wnid in enumerate(CLS_SYNSETS):
        folder = out / "cls_val" / wnid
        folder.mkdir(parents=True, exist_ok=True)
        for j in range(2):
            cv2.imwrite(str(folder / f"ILSVRC2012_val_{2 * k + j + 1:08d}.JPEG"), picture(2 * k + j, 320, 240 + 40 * j))
    (out / "imagenet.txt").write_text("".join(f"{name}\n" for name in synset_names().values()))
    (out / "voc" / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (out / "voc" / "SegmentationClass").mkdir(parents=True, exist_ok=True)
    for k, (width, height) in enumerate(SEG_SIZES_WH):
        name = f"2007_{k + 1:06d}"
        cv2.imwrite(str(out / "voc" / "JPEGImages" / f"{name}.jpg"), picture(100 + k, width, height))
        label = Image.fromarray(label_map(width, height), mode="P")
        label.putpalette(voc_palette())
        label.save(out / "voc" / "SegmentationClass" / f"{name}.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
