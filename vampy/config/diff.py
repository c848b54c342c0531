"""`vampy diff`'s config: two output folders of one datalist, what to list and which gates to apply."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from vampy.errors import UsageError

MAX_WORST = 10_000
# The box comparison's figures per line (vampy/quality/drift_boxes.py) and their column heads, for the terminal and the HTML page alike.
BOX_HEADS: dict[str, str] = {"recall": "recall", "precision": "precision", "mean_iou": "mean IoU", "min_iou": "min IoU",
                             "max_score_diff": "|d score|", "max_shift_px": "shift (px)"}  # the last two: the largest over the matches
BOX_MODES = ("auto", "on", "off")  # --boxes
DEFAULT_BOX_SCORE_MIN = 0.25  # yolov5's own deployment threshold (detect.py conf_thres); the NMS keeps boxes down to 0.001
DEFAULT_BOX_IOU = 0.5  # COCO's AP50 criterion: two boxes at IoU >= 0.5 are the same object


@dataclass(frozen=True)
class DiffConfig:
    ref_dir: str  # the reference run's --path_output (e.g. fp32)
    test_dir: str  # the run under test (e.g. int8), written from the same datalist
    datalist: str
    worst: int = 10  # how many of the lowest-SNR lines to list
    data_range: float | None = None  # psnr_db's R; None: each line's reference max - min
    min_snr_db: float | None = None
    min_cosine: float | None = None
    min_top1_agree: float | None = None
    # Detectors after NMS (vampy/quality/drift_boxes.py): auto compares boxes when the outputs are the
    # [1,N,1] class ids, [1,N,1] scores, [1,N,4] boxes layout; on requires it; off never.
    boxes: str = "auto"
    box_score_min: float = DEFAULT_BOX_SCORE_MIN
    box_iou: float = DEFAULT_BOX_IOU
    min_box_recall: float | None = None

    def __post_init__(self) -> None:
        self._check_boxes()
        if not 0 <= self.worst <= MAX_WORST:
            raise UsageError(f"--worst {self.worst}: give how many lines to list, 0 to {MAX_WORST}")
        if self.data_range is not None and not (math.isfinite(self.data_range) and self.data_range > 0):
            raise UsageError(f"--data_range {self.data_range}: give the outputs' value range, above 0 (1 for [0, 1], 255 for pixels)")
        if self.min_top1_agree is not None and not 0 <= self.min_top1_agree <= 1:
            raise UsageError(f"--min_top1_agree {self.min_top1_agree}: give a fraction between 0 and 1, e.g. 0.99")
        if self.min_cosine is not None and not -1 <= self.min_cosine <= 1:
            raise UsageError(f"--min_cosine {self.min_cosine}: give a value between -1 and 1, e.g. 0.999")

    def _check_boxes(self) -> None:
        if self.boxes not in BOX_MODES:
            raise UsageError(f"--boxes {self.boxes!r}: give one of {', '.join(BOX_MODES)}")
        if not 0 <= self.box_score_min <= 1:
            raise UsageError(f"--box_score_min {self.box_score_min}: give a score between 0 and 1, e.g. {DEFAULT_BOX_SCORE_MIN}")
        if not 0 < self.box_iou <= 1:
            raise UsageError(f"--box_iou {self.box_iou}: give an IoU above 0 and at most 1, e.g. {DEFAULT_BOX_IOU}")
        if self.min_box_recall is not None and not 0 <= self.min_box_recall <= 1:
            raise UsageError(f"--min_box_recall {self.min_box_recall}: give a fraction between 0 and 1, e.g. 1")
        if self.min_box_recall is not None and self.boxes == "off":
            raise UsageError("--min_box_recall gates the box comparison, which --boxes off turns off")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CompileCheck:
    """`vampy compile`'s self-check: the built model against the float one on real samples (docs/validation.md).

    Which samples: --check_datalist's npz inputs when given (any precision); else int8's calibration
    samples, or fp16's YAML dataset; fp32 without --check_datalist is not checked."""

    enabled: bool = True  # --no_check turns it off
    datalist: str | None = None  # --check_datalist
    min_snr_db: float | None = None  # the gate: exit 8 when any sample's output falls below
    worst: int = 5  # samples listed in mod.json's drift.worst

    def __post_init__(self) -> None:
        if not self.enabled and (self.datalist is not None or self.min_snr_db is not None):
            raise UsageError("--no_check turns the drift check off; --check_datalist and --min_snr_db need it on")
        if self.min_snr_db is not None and not math.isfinite(self.min_snr_db):
            raise UsageError(f"--min_snr_db {self.min_snr_db}: give a finite number of dB, e.g. 30")
