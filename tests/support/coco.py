"""pycocotools called directly, as eval_map.py calls it: the reference the detection presets' mAP is held to."""
from __future__ import annotations

import contextlib
import io
from typing import Any


def coco_bbox_stats(gt_path: str, results: list[dict[str, Any]]) -> list[float]:
    """COCOeval's first six bbox stats on every image of the ground truth, its printing silenced."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        ev = COCOeval(gt, gt.loadRes(results), "bbox")
        ev.params.imgIds = sorted(gt.getImgIds())
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [float(v) for v in ev.stats[:6]]
