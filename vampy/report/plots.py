"""PNG plots of run and sweep reports (matplotlib, headless: the Agg canvas, no pyplot state).

Interface-adjacent: the only module that imports matplotlib, and it reads report dicts only, so
a plot can be drawn from any saved JSON as well as from a run that just finished.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vampy.errors import OutputError, UsageError
from vampy.report.schema import check_writable
from vampy.measure.stats import STABILITY_TOLERANCE

DPI = 100


def check_plot_path(path: str | Path, flag: str = "--plot") -> Path:
    """Fail before any measuring: a .png name in a folder that exists."""
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise UsageError(f"{flag} {target}: the plot is a PNG; give a file name ending in .png")
    check_writable(target, flag)
    return target


def _figure(size_in: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size_in, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | Path, flag: str) -> None:
    target = Path(path)
    tmp = target.with_name(f".{target.stem}.tmp.png")
    try:
        fig.savefig(tmp, format="png", dpi=DPI)
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{flag} {target}: cannot write ({exc.strerror or exc}); check that the folder exists and is writable") from None


def _model_name(path: object) -> str:
    """`deploy_weights/vdsr/mod.onnx` -> `vdsr/mod`: the folder names the model in vamp's layout."""
    p = Path(str(path or "model"))
    stem = p.stem if p.suffix == ".onnx" else p.name
    return f"{p.parent.name}/{stem}" if p.parent.name else stem


# --- run ---


def window_times_s(window_qps: Sequence[float], samples: int, forward_time_s: float) -> np.ndarray:
    """Edges in seconds of the stability windows, rebuilt from the report alone.

    The windows are slices of (nearly) equal completions (stats.stability), so window k lasts about
    (samples / n) / qps_k; the edges are scaled to end at the measured window (forward_time_s), which
    absorbs the slices' rounding to whole requests.
    """
    rates = np.asarray(window_qps, dtype=np.float64)
    if rates.size == 0:
        return np.zeros(0)
    durations = (samples / rates.size) / rates
    edges = np.concatenate([[0.0], np.cumsum(durations)])
    return edges * (forward_time_s / edges[-1]) if edges[-1] > 0 and forward_time_s > 0 else edges


def _histogram(ax: Any, hist: dict[str, Any], summary: dict[str, Any], title: str, warmup_us: float | None = None) -> None:
    edges, counts = hist.get("edges_us") or [], hist.get("counts") or []
    if not counts:
        ax.text(0.5, 0.5, "no requests", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        return
    ms = np.asarray(edges) / 1e3
    ax.stairs(counts, ms, fill=True, alpha=0.6, color="tab:blue")
    ax.set_xscale("log")
    for key, style in (("p50", "-"), ("p99", "--")):
        value = summary.get("percentiles_us", {}).get(key)
        if value:
            ax.axvline(value / 1e3, color="black", linestyle=style, linewidth=1, label=f"{key} {value / 1e3:.3g} ms")
    if warmup_us:
        ax.axvline(warmup_us / 1e3, color="tab:orange", linestyle=":", linewidth=1.5, label=f"warm-up avg {warmup_us / 1e3:.3g} ms")
    ax.set_yscale("log")  # the tail is what matters, and it is orders of magnitude below the mode
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("requests (log scale)")
    ax.set_title(title)
    ax.legend(fontsize=8)


def _throughput(ax: Any, report: dict[str, Any]) -> None:
    stab = report.get("stability") or {}
    rates = stab.get("window_qps") or []
    ax.set_title("throughput per stability window")
    ax.set_xlabel("time since the common start (s)")
    ax.set_ylabel("throughput (qps)")
    if not rates:
        ax.text(0.5, 0.5, "too few samples to cut into windows (run longer)", ha="center", va="center", transform=ax.transAxes)
        return
    edges = window_times_s(rates, int(report["samples"]), float(report["forward_time_s"]))
    median = float(np.median(rates))
    ax.axhspan(median * (1 - STABILITY_TOLERANCE), median * (1 + STABILITY_TOLERANCE), color="tab:green", alpha=0.15,
               label=f"median +-{STABILITY_TOLERANCE:.0%} (stable band)")
    ax.stairs(rates, edges, color="tab:blue", linewidth=2, baseline=None, label="window throughput")
    ax.axhline(report["throughput_qps"], color="black", linestyle="--", linewidth=1, label=f"run {report['throughput_qps']:.4g} qps")
    verdict = {True: "stable", False: "UNSTABLE", None: "too few samples to judge"}[stab.get("stable")]
    ax.set_title(f"throughput per stability window: {verdict} (max deviation {stab.get('max_deviation', 0):.1%})")
    low = min(min(rates), median * (1 - STABILITY_TOLERANCE))
    ax.set_ylim(bottom=max(0.0, low * 0.9))
    ax.legend(fontsize=8, loc="lower right")


def plot_run(report: dict[str, Any], path: str | Path, flag: str = "--plot") -> None:
    """e2e and model latency histograms (p50, p99, warm-up marked) and throughput over time."""
    fig = _figure((12, 7.5))
    grid = fig.add_gridspec(2, 2)
    warm = (report.get("warmup") or {}).get("e2e", {}).get("avg_us") if (report.get("warmup") or {}).get("requests") else None
    hists = report.get("histograms") or {}
    _histogram(fig.add_subplot(grid[0, 0]), hists.get("e2e") or {}, report.get("e2e") or {}, "e2e latency", warm)
    _histogram(fig.add_subplot(grid[0, 1]), hists.get("model") or {}, report.get("model_latency") or {}, "model latency")
    _throughput(fig.add_subplot(grid[1, :]), report)
    model = _model_name((report.get("model") or {}).get("path"))
    state = "" if report.get("complete", True) else "  INCOMPLETE"
    fig.suptitle(f"{model}: i{report.get('instances')} p{report.get('processes')} b{report.get('batch_size')} "
                 f"t{report.get('intra_threads')}, {report.get('samples')} samples{state}")
    _save(fig, path, flag)


# --- sweep ---


def plot_sweep(sweep: dict[str, Any], path: str | Path, flag: str = "--plot") -> None:
    """Throughput against p99 e2e latency for every point, the Pareto front joined, the winner starred."""
    fig = _figure((10, 6.5))
    ax = fig.add_subplot()
    points = [p for p in sweep.get("points", []) if not p.get("error")]
    ax.set_xlabel("p99 e2e latency (ms)")
    ax.set_ylabel("throughput (qps)")
    bound = (sweep.get("config") or {}).get("max_p99_ms")
    if bound:
        ax.axvline(bound, color="tab:red", linestyle=":", label=f"--max_p99_ms {bound:g}")
    if points:
        ax.scatter([p["e2e_p99_ms"] for p in points], [p["throughput_qps"] for p in points], color="tab:gray", alpha=0.6, label="point")
        front = sorted((p for p in points if p.get("pareto")), key=lambda p: p["e2e_p99_ms"])
        ax.plot([p["e2e_p99_ms"] for p in front], [p["throughput_qps"] for p in front], "o-", color="tab:blue", label="Pareto front")
        for k, p in enumerate(front):  # alternate above and below so neighbours' labels do not overlap
            ax.annotate(f"i{p['instances']} p{p['processes']} b{p['batch']} t{p['threads']}", (p["e2e_p99_ms"], p["throughput_qps"]),
                        textcoords="offset points", xytext=(6, 6 if k % 2 == 0 else -14), fontsize=8)
        win = sweep.get("winner")
        if win:
            ax.scatter([win["e2e_p99_ms"]], [win["throughput_qps"]], marker="*", s=300, color="tab:orange", zorder=5, label="winner")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no point finished", ha="center", va="center", transform=ax.transAxes)
    p99s = [p["e2e_p99_ms"] for p in points if p["e2e_p99_ms"] > 0]
    if p99s and max(p99s) > 20 * min(p99s):
        ax.set_xscale("log")
    model = _model_name(((sweep.get("config") or {}).get("run") or {}).get("model"))
    state = "" if sweep.get("complete", True) else f", {sweep.get('interrupted')}"
    ax.set_title(f"{model}: {sweep.get('mode')} sweep, {sweep.get('points_tried')} points{state}")
    ax.grid(alpha=0.3)
    _save(fig, path, flag)
