"""Small checks and limits shared by every command's config."""
from __future__ import annotations

from vampy.errors import UsageError

MAX_DIM = 1 << 16  # the largest image or tensor dimension any flag accepts
DEFAULT_SHAVE_PX = 4
# Ground truth for `baby_GT_scale_4.bmp` is `baby_GT.bmp`: {base} is the source name without `_scale_N`.
DEFAULT_GT_PATTERN = "{base}.*"
IMAGE2NPZ_MODES = ("rgb", "y3", "gray")
YCBCR_METHODS = ("opencv", "bt601")


def check_choice(flag: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UsageError(f"{flag} {value}: choose one of {', '.join(choices)}")


def check_gt_pattern(pattern: str) -> None:
    try:
        pattern.format(stem="x", base="x")
    except (KeyError, IndexError, ValueError):
        raise UsageError(
            f"--gt_pattern {pattern!r}: only {{stem}} (the source name) and {{base}} (the name without _scale_N) "
            "may appear in braces, e.g. '{base}.*' or '{stem}_hr.png'"
        ) from None
    if not pattern.strip():
        raise UsageError("--gt_pattern is empty: the default is '{base}.*'")


def check_hw(flag: str, hw: tuple[int, int] | None) -> None:
    if hw is not None and any(not 1 <= d <= MAX_DIM for d in hw):
        raise UsageError(f"{flag} {hw[0]} {hw[1]}: H and W must be between 1 and {MAX_DIM}")
