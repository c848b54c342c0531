"""What a model takes and gives, as plain data that every engine describes the same way."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# Convention for the whole project: one multiply-accumulate is two floating-point operations.
FLOPS_PER_MAC = 2


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output. `shape` has None for every symbolic or unknown dim."""

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype[Any]
    # Same length as shape: the symbolic name (e.g. "batch") where the model gives one, else None.
    dim_names: tuple[str | None, ...]
    # False when the model does not even say the rank; shape and dim_names are then ().
    rank_known: bool = True



@dataclass(frozen=True)
class ModelInfo:
    path: Path
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    # The parsed sidecar JSON (same stem + .json), e.g. what `vampy zoo` wrote; None when absent.
    metadata: dict[str, Any] | None
