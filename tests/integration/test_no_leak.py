"""No leaks: a run four times longer of a tiny model ends with the same worker memory.

`vampy run -t 1` and `-t 4` on the same model; the worker's peak RSS (resources.rss_peak_mb,
sampled by the monitor) may grow only by a small margin plus the timing record, which holds
48 bytes per request by design (vampy.measure.records.Recorder, grown by doubling, then copied and sent
to the parent). Anything kept per request beyond that, such as an input or output tensor of
64 KiB here, shows up as hundreds of MB over the thousands of extra requests.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.models import conv_model
from vampy.measure.records import COLUMNS

pytestmark = pytest.mark.slow

MARGIN_MB = 10.0
RECORD_COPIES = 4  # doubling (old + new array), the final copy, and the pickle sent to the parent
MIN_RUN_RATIO = 2.0  # the long run must really do many more requests, or the test proves nothing


def run_for(model: Path, duration_s: int, report: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "vampy", "run", "-m", str(model), "-t", str(duration_s), "--json", str(report), "-q"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(report.read_text())
    resources = data["resources"]
    assert data["complete"] and resources["samples"] >= 2 and resources["rss_peak_mb"] > 0, (data["complete"], resources)
    return data


@pytest.mark.timeout(60)
def test_worker_memory_stays_flat_over_a_longer_run(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "tiny.onnx", in_ch=1, hw=(128, 128))  # one 3x3 conv; 64 KiB tensors
    short = run_for(model, 1, tmp_path / "short.json")
    long = run_for(model, 4, tmp_path / "long.json")
    assert long["requests"] >= MIN_RUN_RATIO * short["requests"], (short["requests"], long["requests"])
    record_mb = long["requests"] * len(COLUMNS) * 8 * RECORD_COPIES / 2**20
    growth_mb = long["resources"]["rss_peak_mb"] - short["resources"]["rss_peak_mb"]
    assert growth_mb <= MARGIN_MB + record_mb, (
        f"peak RSS grew {growth_mb:.1f} MB from {short['requests']} to {long['requests']} requests "
        f"(allowed {MARGIN_MB} MB + {record_mb:.1f} MB of timing record)"
    )
