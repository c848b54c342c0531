"""Shared fixtures. Tests make their own tiny models and data; ../shared/data is optional."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
VDSR_WEIGHTS = SHARED_DATA / "vdsr" / "vdsr_x234_weights.npz"
SET5_DIR = SHARED_DATA / "Set5"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only reference data; skips the test with the reason when it is absent."""
    if not VDSR_WEIGHTS.is_file() or not SET5_DIR.is_dir():
        pytest.skip(f"needs the reference data at {SHARED_DATA} (VDSR weights and Set5); absent on this machine")
    return SHARED_DATA
