"""`vampy infer`: its frozen config."""
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
from vampy.engines.base import DEFAULT_ENGINE, check_engine_flags
from vampy.errors import UsageError

MAX_INFER_BATCH = 256
# The families whose scoring needs only an image, its output and (segmentation) a label file named after it. The
# others are scored by the npz route: SOD's PySOD reads folders of maps, detection the COCO json and image sizes, text
# and NLP label files indexed by datalist line; colorization and low light are not streamed yet.
STREAMED_FAMILIES = ("classification", "segmentation")


@dataclass(frozen=True)
class InferConfig:
    """`vampy infer`: images -> vdsp preprocessing -> model -> SR images and Y scores, streamed.

    mode None: y3 for a model whose image input has 1 channel, rgb for 3 (as image2npz would be run).
    input_hw None: the vdsp file's output size (or the model's fixed H, W); native: each image's own.
    """

    lr_dir: str
    model: str
    gt_dir: str | None  # None only with --preset imagenet_topk (the label is each image's synset folder)
    vdsp_params: str | None = None
    save_dir: str | None = None
    pattern: str = "*"
    mode: str | None = None
    ycbcr: str = "opencv"
    input_hw: tuple[int, int] | None = None
    native: bool = False
    batch_size: int = 1
    shave_px: int = DEFAULT_SHAVE_PX
    gt_pattern: str = DEFAULT_GT_PATTERN
    threads: int | None = None
    device_id: int = 0
    engine: str = DEFAULT_ENGINE
    provider: str | None = None
    infer_precision: str | None = None
    json_path: str | None = None
    # --preset NAME / --scoring FILE: score as `eval --preset` does (vampy/workflows/infer_preset.py)
    preset: str | None = None
    scoring_path: str | None = None
    # --preset imagenet_topk (vampy/workflows/infer_family.py): the class names, and where the decode lines go
    label_txt: str | None = None
    result_txt: str | None = None
    # The family of --preset when it names a zoo family preset (vampy/quality/families.py), else None. Resolved by
    # the caller (api.infer_config): config is layer 0 and does not read the preset tables.
    preset_family: str | None = None

    def __post_init__(self) -> None:
        check_engine_flags(self.engine, self.provider, self.infer_precision)
        family = self.preset_family
        if family is not None:
            self._check_family(str(self.preset), family)
        else:
            self._check_not_family()
        if (self.preset or self.scoring_path) and self.gt_pattern != DEFAULT_GT_PATTERN:
            raise UsageError("--gt_pattern does not apply with --preset/--scoring: "
                             "the preset names the ground truth (docs/eval.md); drop it")
        if (self.preset or self.scoring_path) and family is None and self.mode not in (None, "rgb"):
            raise UsageError(f"--mode {self.mode}: --preset/--scoring feed the model as image2npz --preset does "
                             "(RGB, or ecbsr's Y); drop --mode")
        if self.mode is not None:
            check_choice("--mode", self.mode, IMAGE2NPZ_MODES)
        check_choice("--ycbcr", self.ycbcr, YCBCR_METHODS)
        if not self.pattern.strip():
            raise UsageError("--pattern is empty: give a glob such as '*.png' or '*_scale_4.bmp'")
        if Path(self.pattern).is_absolute():
            raise UsageError(f"--pattern {self.pattern}: must be relative to --lr_image_dir (e.g. '*.bmp'), not an absolute path")
        if self.native and self.input_hw is not None:
            raise UsageError("--native runs each image at its own size; drop --input_shape or --native")
        check_hw("--input_shape", self.input_hw)
        if self.input_hw is not None and self.vdsp_params is None:
            raise UsageError("--input_shape sets the size the vdsp preprocessing resizes to; give --vdsp_params too")
        if not 1 <= self.batch_size <= MAX_INFER_BATCH:
            raise UsageError(f"--batch {self.batch_size}: must be between 1 and {MAX_INFER_BATCH}")
        if not 0 <= self.shave_px <= 1000:
            raise UsageError(f"--scale {self.shave_px}: the border to shave must be between 0 and 1000 pixels")
        if self.threads is not None and not 1 <= self.threads <= 1024:
            raise UsageError(f"--threads {self.threads}: must be between 1 and 1024")
        check_gt_pattern(self.gt_pattern)

    def _check_not_family(self) -> None:
        if self.gt_dir is None:
            raise UsageError("--hr_image_dir is required: the folder of the ground-truth images")
        self._refuse_label_flags()

    def _refuse_label_flags(self) -> None:
        for flag, value in (("--label_txt", self.label_txt), ("--result_txt", self.result_txt)):
            if value is not None:
                raise UsageError(f"{flag} applies to --preset imagenet_topk only; drop it")

    def _check_family(self, name: str, family: str) -> None:
        """A classification or segmentation preset, with the flags it needs; the other families refused in one line."""
        if family not in STREAMED_FAMILIES:
            # token models' npz files come from the model's own scripts (docs/datalists.md), not from images
            make = "the token npz files your model's README makes" if family == "nlp" else "vampy image2npz"
            raise UsageError(f"--preset {name} ({family}) is not streamed by vampy infer; score it by the npz route: "
                             f"{make} + vampy run --datalist + vampy eval --preset {name} (docs/eval.md)")
        if self.scoring_path is not None:
            raise UsageError(f"--preset {name}: --scoring applies to the super-resolution presets only; drop it")
        if family == "classification":
            if self.label_txt is None:
                raise UsageError(f"--preset {name} needs --label_txt (the class names, one a line: the zoo's imagenet.txt)")
            for flag, value in (("--hr_image_dir", self.gt_dir), ("--save_dir", self.save_dir)):
                if value is not None:
                    raise UsageError(f"{flag} does not apply to --preset {name}: the label is each image's synset folder "
                                     "(…/<wnid>/<name>.JPEG) and nothing is drawn; drop it")
            return
        if self.gt_dir is None:
            raise UsageError(f"--preset {name} needs --hr_image_dir (or --gt_dir): the folder of the label files (docs/infer.md)")
        self._refuse_label_flags()
        if self.native:
            raise UsageError(f"--native: --preset {name} compares the labels at the model's input size; drop --native")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
