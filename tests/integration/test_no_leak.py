"""No leaks: a run of four times as many requests of a tiny model ends with the same worker memory.

`vampy run --iterations N` and `--iterations 4N` on the same model; the worker's peak RSS, the
kernel's high-water mark (tests/support/workers_peak_rss.py: exact, not sampled), may grow only by a
small margin plus the timing record, which holds len(COLUMNS) x 8 bytes per request by design
(vampy.measure.records.Recorder, then copied and sent to the parent). Anything kept per request
beyond that, such as an input or output tensor of 64 KiB here, shows up as hundreds of MB over the
thousands of extra requests.

Both runs are bounded by a count of requests, never by a duration: the test proves the same thing on
a fast machine and on a busy one (it used to compare `-t 1` with `-t 4`, whose request counts, and so
the verdict, depended on how much CPU other processes left it).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.models import conv_model
from tests.support.processes import HANG_GUARD_S
from vampy.measure.records import COLUMNS

pytestmark = pytest.mark.slow

WORKERS_PEAK_RSS = Path(__file__).parents[1] / "support" / "workers_peak_rss.py"
MARGIN_MB = 10.0
RECORD_COPIES = 4  # the record (old + new array while it grows), the final copy, and the pickle sent to the parent
# 30,000 more requests: 64 KiB kept per request would be ~2 GB, and the bound catches anything over
# ~700 bytes per request (10 MB margin + the record's allowance, spread over the extra requests).
SHORT_REQUESTS = 10_000
LONG_REQUESTS = 4 * SHORT_REQUESTS


def run_requests(model: Path, requests: int, folder: Path) -> tuple[dict[str, Any], float]:
    """(the run's report, the worker's peak RSS in MB) of `vampy run --iterations requests`."""
    report, peak = folder / f"r{requests}.json", folder / f"peak{requests}.txt"
    proc = subprocess.run(
        [sys.executable, str(WORKERS_PEAK_RSS), str(peak), "run", "-m", str(model), "--iterations", str(requests),
         "--json", str(report), "-q"],
        capture_output=True, text=True, timeout=HANG_GUARD_S,
    )
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(report.read_text())
    assert data["complete"] and data["requests"] == requests, (data["complete"], data["requests"])
    peak_mb = int(peak.read_text()) / 2**20
    assert peak_mb > 0
    return data, peak_mb


def test_worker_memory_stays_flat_over_a_longer_run(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "tiny.onnx", in_ch=1, hw=(128, 128))  # one 3x3 conv; 64 KiB tensors
    _, short_mb = run_requests(model, SHORT_REQUESTS, tmp_path)
    _, long_mb = run_requests(model, LONG_REQUESTS, tmp_path)
    record_mb = LONG_REQUESTS * len(COLUMNS) * 8 * RECORD_COPIES / 2**20
    growth_mb = long_mb - short_mb
    assert growth_mb <= MARGIN_MB + record_mb, (
        f"the worker's peak RSS grew {growth_mb:.1f} MB from {SHORT_REQUESTS} to {LONG_REQUESTS} requests "
        f"(allowed {MARGIN_MB} MB + {record_mb:.1f} MB of timing record)"
    )
