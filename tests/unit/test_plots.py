"""Plots are written headless, as real PNGs, from report dicts alone (complete, partial and empty)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.reports import make_report
from tests.support.sweep import GRID, Fake
from vampy.config import RunConfig
from vampy.errors import OutputError, UsageError
from vampy.report.plots import check_plot_path, plot_run, plot_sweep, window_times_s
from vampy.workflows.sweep import SweepConfig, SweepResult, search
from vampy.workflows.sweep_run import sweep_dict

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1024


def run_report() -> dict[str, Any]:
    report = make_report(1)
    report["warmup"] = {"requests": 2, "e2e": {"avg_us": 30000.0}}
    return report


def test_run_plot(tmp_path: Path) -> None:
    plot_run(run_report(), tmp_path / "run.png")
    assert_png(tmp_path / "run.png")
    assert not list(tmp_path.glob(".*"))  # the temporary file is gone


def test_run_plot_without_windows_or_requests(tmp_path: Path) -> None:
    short = make_report(1, windows=0)
    plot_run(short, tmp_path / "short.png")
    assert_png(tmp_path / "short.png")
    empty = {**short, "histograms": {"e2e": {"edges_us": [], "counts": []}, "model": {"edges_us": [], "counts": []}}, "complete": False}
    plot_run(empty, tmp_path / "empty.png")
    assert_png(tmp_path / "empty.png")


def test_sweep_plot(tmp_path: Path) -> None:
    cfg = SweepConfig(RunConfig.flat("deploy_weights/vdsr/mod", duration_s=1.0), max_p99_ms=300.0)
    plot_sweep(sweep_dict(search(GRID, True, Fake(), max_p99_ms=300.0), cfg), tmp_path / "sweep.png")
    assert_png(tmp_path / "sweep.png")
    plot_sweep(sweep_dict(SweepResult("auto", (), {}), cfg), tmp_path / "none.png")
    assert_png(tmp_path / "none.png")


def test_window_times_rebuild_the_run() -> None:
    edges = window_times_s([10.0, 20.0, 10.0], samples=30, forward_time_s=2.5)
    assert edges == pytest.approx([0.0, 1.0, 1.5, 2.5])
    assert window_times_s([], 0, 1.0).size == 0
    assert np.all(np.diff(window_times_s([5.0, 7.0, 6.0, 5.5], 100, 17.3)) > 0)


def test_plot_path_checks(tmp_path: Path) -> None:
    assert check_plot_path(tmp_path / "a.png") == tmp_path / "a.png"
    with pytest.raises(UsageError, match="ending in .png"):
        check_plot_path(tmp_path / "a.jpg")
    with pytest.raises(OutputError, match="does not exist"):
        check_plot_path(tmp_path / "missing" / "a.png")
    with pytest.raises(OutputError, match="--plot"):
        plot_run(run_report(), tmp_path / "missing" / "a.png")


def test_axes_are_linear_with_plain_labels_within_a_decade() -> None:
    """110-125 ms (the int8 VDSR case): linear axes, counts linear, no 1.1x10^2 labels; a title naming model, engine, precision."""
    from vampy.report.plots import _figure, _histogram, run_title, spans_decades

    edges = list(np.geomspace(100_000, 130_000, 41))
    counts = [0] * 5 + [3, 4] * 15 + [0] * 5
    fig = _figure((6, 4))
    ax = fig.add_subplot()
    _histogram(ax, {"edges_us": edges, "counts": counts}, {"percentiles_us": {"p50": 115_000, "p99": 124_000}}, "e2e")
    fig.canvas.draw()
    assert ax.get_xscale() == "linear" and ax.get_yscale() == "linear"
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(re.fullmatch(r"\d+(\.\d+)?", text) for text in labels), labels
    assert not spans_decades(110, 125) and spans_decades(1, 11)
    report = {**run_report(), "engine": {"engine": "onnxruntime", "precision": "int8"}, "model": {"path": "deploy_weights/vdsr/mod.onnx"}}
    assert run_title(report).startswith("vdsr/mod (onnxruntime int8)")


def test_the_breakdown_plot_adds_a_device_runs_model_split() -> None:
    from vampy.report.plots import run_svgs

    report = run_report()
    phase = {"count": 2, "avg_us": 1000.0, "min_us": 900.0, "max_us": 1100.0, "percentiles_us": {"p50": 1000.0, "p99": 1100.0}}
    report["breakdown"] = {name: phase for name in ("queue", "preprocess", "model", "output")}
    without = run_svgs(report)["breakdown"]
    report["model_split"] = {"host_to_device": phase, "compute": phase, "device_to_host": phase}
    with_split = run_svgs(report)["breakdown"]
    for label in ("model: host-to-device", "model: compute", "model: device-to-host"):
        assert label in with_split and label not in without
