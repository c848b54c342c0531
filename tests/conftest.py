"""Shared fixtures. Tests make their own tiny models and data; ../shared/data is optional."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.support.paths import SET5_DIR, SHARED_DATA, VDSR_WEIGHTS

# House rule 8: no test asserts speed. Hypothesis has two clocks of its own: the per-example
# deadline and the too_slow health check (data generation timed against a wall-clock budget).
# Both are off for every test; a test's own @settings inherits this profile and changes only what
# it names (max_examples, ...). A hang is still caught by pytest-timeout.
settings.register_profile("vampy", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("vampy")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only reference data; skips the test with the reason when it is absent."""
    if not VDSR_WEIGHTS.is_file() or not SET5_DIR.is_dir():
        pytest.skip(f"needs the reference data at {SHARED_DATA} (VDSR weights and Set5); absent on this machine")
    return SHARED_DATA
