"""`vampy compare` on real run reports (one run, and a copy made slower) and `vampy run --plot`."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.models import conv_model
from tests.support.files import vdsp_file

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def vampy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vampy", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One real run with --json and --plot: (report, plot)."""
    folder = tmp_path_factory.mktemp("compare")
    model = conv_model(folder / "m" / "mod.onnx", in_ch=1, hw=(16, 16))
    report, plot = folder / "a.json", folder / "a.png"
    proc = vampy("run", "-m", str(model), "--vdsp_params", str(vdsp_file(folder)), "-s", "3,16,16", "--threads", "1",
                 "--iterations", "400", "--json", str(report), "--plot", str(plot), "-q")
    assert proc.returncode == 0, proc.stderr
    return report, plot


def slower_copy(report: Path, target: Path, factor: float) -> Path:
    """The same run as if every request took `factor` times as long. Its windows and its e2e histogram
    are made steady first (the same count of requests, all within 1% of the run's median), so that a
    busy test machine, whose latencies spread and whose windows wander, cannot widen the throughput or
    the median interval past the change: the verdict then depends on the factor alone."""
    data: dict[str, Any] = json.loads(report.read_text())
    data["stability"]["window_qps"] = [data["throughput_qps"] * (1 + 0.01 * (k % 3 - 1)) for k in range(10)]
    median_us, requests = data["e2e"]["percentiles_us"]["p50"], sum(data["histograms"]["e2e"]["counts"])
    data["histograms"]["e2e"] = {**data["histograms"]["e2e"], "edges_us": [0.99 * median_us, 1.01 * median_us], "counts": [requests]}
    data["throughput_qps"] /= factor
    data["stability"]["window_qps"] = [q / factor for q in data["stability"]["window_qps"]]
    for block in ("e2e", "model_latency"):
        data[block]["percentiles_us"] = {k: v * factor for k, v in data[block]["percentiles_us"].items()}
    for hist in data["histograms"].values():
        hist["edges_us"] = [e * factor for e in hist["edges_us"]]
    target.write_text(json.dumps(data))
    return target


def test_run_plot_is_a_png(run: tuple[Path, Path]) -> None:
    _, plot = run
    data = plot.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1024


@pytest.mark.parametrize(("name", "code", "needle"), [("a.jpg", 2, "ending in .png"), ("missing/a.png", 7, "does not exist")])
def test_run_plot_bad_paths_fail_before_running(tmp_path: Path, name: str, code: int, needle: str) -> None:
    proc = vampy("run", "-m", str(tmp_path / "not-a-model.onnx"), "--plot", str(tmp_path / name))
    assert proc.returncode == code and needle in proc.stderr and "Traceback" not in proc.stderr


def test_a_report_against_itself_is_no_difference(run: tuple[Path, Path], tmp_path: Path) -> None:
    report, _ = run
    out = tmp_path / "c.json"
    proc = vampy("compare", str(report), str(report), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "no significant difference" in proc.stdout and "throughput (qps)" in proc.stdout
    data = json.loads(out.read_text())
    assert data["kind"] == "compare" and data["verdicts"] == [f"{report} vs {report}: no significant difference"]


def test_a_slower_copy_is_significant(run: tuple[Path, Path], tmp_path: Path) -> None:
    report = slower_copy(run[0], tmp_path / "a.json", 1.0)
    slow = slower_copy(run[0], tmp_path / "slow.json", 1.25)
    proc = vampy("compare", str(report), str(slow))
    assert proc.returncode == 0, proc.stderr
    assert "slow vs a: significant difference in throughput (-20.0%), median e2e latency (+25.0%)" in proc.stdout
    assert "+25.0%" in proc.stdout and "-20.0%" in proc.stdout
    proc = vampy("compare", str(report), str(slow), "--min_change", "0.5")
    assert "slow vs a: no significant difference" in proc.stdout


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["ONE"], 2, "at least two"),
        (["ONE", "missing.json"], 3, "missing.json"),
        (["ONE", "NOT_RUN"], 3, "expected 'run'"),
        (["ONE", "ONE", "--confidence", "2"], 2, "--confidence"),
        (["ONE", "ONE", "--min_change", "-1"], 2, "--min_change"),
        (["ONE", "ONE", "--resamples", "1"], 2, "--resamples"),
    ],
)
def test_bad_input(run: tuple[Path, Path], tmp_path: Path, args: list[str], code: int, needle: str) -> None:
    report, _ = run
    other = tmp_path / "sweep.json"
    other.write_text(json.dumps({"kind": "sweep", "schema_version": 1}))
    proc = vampy("compare", *[str(report) if a == "ONE" else str(other) if a == "NOT_RUN" else a for a in args])
    assert proc.returncode == code
    assert needle in proc.stderr and "Traceback" not in proc.stderr
