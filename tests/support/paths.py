"""Where the repository and the optional read-only reference data are."""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
VDSR_WEIGHTS = SHARED_DATA / "vdsr" / "vdsr_x234_weights.npz"
SET5_DIR = SHARED_DATA / "Set5"
