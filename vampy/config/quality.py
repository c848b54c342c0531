"""`vampy image2npz` and `vampy eval`: their frozen configs."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vampy.config.checks import (
    DEFAULT_GT_PATTERN,
    DEFAULT_SHAVE_PX,
    IMAGE2NPZ_MODES,
    YCBCR_METHODS,
    check_choice,
    check_gt_pattern,
    check_hw,
)
from vampy.errors import UsageError

# The vendor's VDSR model size; vampy/quality/evaluate.py explains why bilinear resizing to it reproduces their table.
DEFAULT_EVAL_INPUT_HW = (256, 256)


@dataclass(frozen=True)
class Image2NpzConfig:
    """`vampy image2npz`: one NAME.npz (key input_0, uint8 CHW) per matching image, plus the datalist."""

    dataset_dir: str
    pattern: str
    target_dir: str
    datalist_path: str
    mode: str = "rgb"
    ycbcr: str = "opencv"
    relative: bool = False
    preset: str | None = None  # a zoo family's image2npz (vampy/data/image2npz.py PREP_PRESETS); overrides mode
    hr_path: str | None = None  # realsr: where its HR-512 ground truth PNGs go
    keep_folders: bool = False  # TARGET/SUB/NAME.npz for DATASET/SUB/NAME.ext (imagenet_topk's synset folders)

    def __post_init__(self) -> None:
        check_choice("--mode", self.mode, IMAGE2NPZ_MODES)
        check_choice("--ycbcr", self.ycbcr, YCBCR_METHODS)
        if not self.pattern.strip():
            raise UsageError("--pattern is empty: give a glob such as '*.png' or '*_scale_4.bmp'")
        if Path(self.pattern).is_absolute():
            raise UsageError(f"--pattern {self.pattern}: must be relative to --dataset_path (e.g. '*.bmp'), not an absolute path")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EvalConfig:
    """`vampy eval`: score SR outputs against ground truth on Y. input_hw None means native size."""

    src_dir: str
    gt_dir: str
    datalist: str
    outputs_dir: str
    input_hw: tuple[int, int] | None = DEFAULT_EVAL_INPUT_HW
    pair_by_order: bool = False
    shave_px: int = DEFAULT_SHAVE_PX
    ycbcr: str = "opencv"
    gt_pattern: str = DEFAULT_GT_PATTERN
    draw_dir: str | None = None
    json_path: str | None = None
    # --preset NAME / --scoring FILE (vampy/quality/presets.py). With a preset other than drrn/vdsr,
    # src_dir may be "" and input_hw None means "the preset's default size".
    preset: str | None = None
    scoring_path: str | None = None
    lr_dir: str | None = None  # ecbsr: the LR images whose chroma recolours the Y output
    model_type: str | None = None  # real_esrgan: x4plus -> GT suffix x4, else x2
    # The other families' presets (vampy/quality/families.py). With them input_hw is --input_shape's two
    # numbers as given: each preset reads them as its script does (PIL (w, h), cv2 dsize, ...).
    result_txt: str | None = None  # imagenet_topk: the decode stage's result file
    label_txt: str | None = None  # imagenet_topk: class names by id
    num_bits: int = 3  # sod_*: the printed table's decimals
    # The detection, text and NLP presets: their ground-truth file (--labels_path, --label_path, --eval_path,
    # --label_file, by preset) and the name TR-1 prints before its result. datalist is "" where a preset has none.
    labels_path: str | None = None
    datasets_name: str = "IIIT5k_3000"  # TR-1's own default
    # The detection presets: --input_image_dir (read for sizes), --txt (the per-image txt files), --model_size H W, --format.
    image_dir: str | None = None
    txt_dir: str | None = None
    model_hw: tuple[int, int] | None = None
    det_format: str = "bbox"

    def __post_init__(self) -> None:
        check_choice("--ycbcr", self.ycbcr, YCBCR_METHODS)
        if not 0 <= self.num_bits <= 16:
            raise UsageError(f"--num_bits {self.num_bits}: give 0..16 decimals")
        if not 0 <= self.shave_px <= 1000:
            raise UsageError(f"--scale {self.shave_px}: the border to shave must be between 0 and 1000 pixels")
        check_hw("--input_shape", self.input_hw)
        check_gt_pattern(self.gt_pattern)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
