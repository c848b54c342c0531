"""PNG and SVG plots of run and sweep reports (matplotlib, headless: the Agg canvas, no pyplot state).

Interface-adjacent: the only module that imports matplotlib, and it reads report dicts only, so
a plot can be drawn from any saved JSON as well as from a run that just finished.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vampy.errors import OutputError, UsageError
from vampy.formats.files import write_file
from vampy.measure.stats import STABILITY_TOLERANCE
from vampy.results.schema import check_writable

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
    try:
        write_file(target, lambda fh: fig.savefig(fh, format="png", dpi=DPI))  # the one safe writer: never through a link
    except OSError as exc:
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


def _occupied_ms(edges_us: Sequence[float], counts: Sequence[int]) -> tuple[float, float]:
    """The latency range that holds requests (the report's bins span far more than that)."""
    hit = np.flatnonzero(np.asarray(counts) > 0)
    edges = np.asarray(edges_us, dtype=np.float64) / 1e3
    return float(edges[hit[0]]), float(edges[hit[-1] + 1])


def plain_number(value: float) -> str:
    """37861 rather than 3.786e+04; three significant digits below 100."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def spans_decades(low: float, high: float) -> bool:
    """Log axes only when the data spans more than a decade; below that they only garble the ticks."""
    return low > 0 and high / low > 10


def _plain_ticks(axis: Any, log: bool = False) -> None:
    """Tick labels as plain numbers (110, 115, 0.5), never 1.1x10^2 or an offset; a log axis gets
    ticks at 1, 2 and 5 of each decade so a span of one or two decades still has several labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    if log:
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(lambda _v, _pos: ""))


def _histogram(ax: Any, hist: dict[str, Any], summary: dict[str, Any], title: str, warmup_us: float | None = None) -> None:
    edges, counts = hist.get("edges_us") or [], hist.get("counts") or []
    ax.set_title(title)
    if not counts or not any(counts):
        ax.text(0.5, 0.5, "no requests", ha="center", va="center", transform=ax.transAxes)
        return
    ms = np.asarray(edges) / 1e3
    ax.stairs(counts, ms, fill=True, alpha=0.6, color="tab:blue")
    low, high = _occupied_ms(edges, counts)
    log_x = spans_decades(low, high)
    if log_x:
        ax.set_xscale("log")
    pad = 0.0 if log_x else (high - low) * 0.05
    marks = [v / 1e3 for v in (summary.get("percentiles_us", {}).get("p50"), summary.get("percentiles_us", {}).get("p99"), warmup_us) if v]
    ax.set_xlim(min([low, *marks]) - pad, max([high, *marks]) + pad)
    for key, style in (("p50", "-"), ("p99", "--")):
        value = summary.get("percentiles_us", {}).get(key)
        if value:
            ax.axvline(value / 1e3, color="black", linestyle=style, linewidth=1, label=f"{key} {value / 1e3:.3g} ms")
    if warmup_us:
        ax.axvline(warmup_us / 1e3, color="tab:orange", linestyle=":", linewidth=1.5, label=f"warm-up avg {warmup_us / 1e3:.3g} ms")
    _plain_ticks(ax.xaxis, log_x)
    _plain_ticks(ax.yaxis)
    ax.set_xlabel("latency (ms, log scale)" if log_x else "latency (ms)")
    ax.set_ylabel("requests")
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
    mean_label = f"run {plain_number(report['throughput_qps'])} qps"
    ax.axhline(report["throughput_qps"], color="black", linestyle="--", linewidth=1, label=mean_label)
    verdict = {True: "stable", False: "UNSTABLE", None: "too few samples to judge"}[stab.get("stable")]
    ax.set_title(f"throughput per stability window: {verdict} (max deviation {stab.get('max_deviation', 0):.1%})")
    low = min(min(rates), median * (1 - STABILITY_TOLERANCE))
    ax.set_ylim(bottom=max(0.0, low * 0.9))
    _plain_ticks(ax.yaxis)
    ax.legend(fontsize=8, loc="lower right")


BREAKDOWN_PHASES = ("queue", "preprocess", "model", "output")


def _breakdown(ax: Any, report: dict[str, Any]) -> None:
    """Mean and p99 time per phase of a request; the four phases' means add up to the e2e mean, and on a
    device the three "model: ..." bars below them add up to the model phase."""
    phases = dict(report.get("breakdown") or {})
    names = [n for n in BREAKDOWN_PHASES if n in phases] + [n for n in phases if n not in BREAKDOWN_PHASES]
    for name, summary in (report.get("model_split") or {}).items():  # a device run: the model phase's three parts
        phases[f"model: {name.replace('_', '-')}"] = summary
        names.append(f"model: {name.replace('_', '-')}")
    ax.set_title("where a request's time goes (per phase)")
    if not names:
        ax.text(0.5, 0.5, "no per-phase breakdown in this report", ha="center", va="center", transform=ax.transAxes)
        return
    y = np.arange(len(names))
    avg = [float((phases[n] or {}).get("avg_us") or 0) / 1e3 for n in names]
    p99 = [float(((phases[n] or {}).get("percentiles_us") or {}).get("p99") or 0) / 1e3 for n in names]
    ax.barh(y - 0.2, avg, height=0.4, color="tab:blue", label="mean")
    ax.barh(y + 0.2, p99, height=0.4, color="tab:gray", label="p99")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("time (ms)")
    _plain_ticks(ax.xaxis)
    ax.legend(fontsize=8, loc="lower right")


def run_title(report: dict[str, Any]) -> str:
    """Model, engine and precision first: what a reader needs to tell two plots apart."""
    model = _model_name((report.get("model") or {}).get("path") or (report.get("config") or {}).get("model"))
    eng = report.get("engine") or {}
    what = " ".join(str(eng[k]) for k in ("engine", "precision") if eng.get(k)) or str((report.get("config") or {}).get("engine") or "")
    state = "  INCOMPLETE" if report.get("complete") is False else ""
    return (f"{model} ({what}): i{report.get('instances')} p{report.get('processes')} b{report.get('batch_size')} "
            f"t{report.get('intra_threads')}, {report.get('samples')} samples{state}")


def _warmup_us(report: dict[str, Any]) -> float | None:
    warm = report.get("warmup") or {}
    return warm.get("e2e", {}).get("avg_us") if warm.get("requests") else None


def run_figure(report: dict[str, Any]) -> Any:
    """e2e and model latency histograms (p50, p99, warm-up marked) and throughput over time."""
    fig = _figure((12, 7.5))
    grid = fig.add_gridspec(2, 2)
    hists = report.get("histograms") or {}
    _histogram(fig.add_subplot(grid[0, 0]), hists.get("e2e") or {}, report.get("e2e") or {}, "e2e latency", _warmup_us(report))
    _histogram(fig.add_subplot(grid[0, 1]), hists.get("model") or {}, report.get("model_latency") or {}, "model latency")
    _throughput(fig.add_subplot(grid[1, :]), report)
    fig.suptitle(run_title(report))
    return fig


def plot_run(report: dict[str, Any], path: str | Path, flag: str = "--plot") -> None:
    """The PNG of `vampy run --plot`: run_figure."""
    _save(run_figure(report), path, flag)


def run_svgs(report: dict[str, Any]) -> dict[str, str]:
    """The HTML report's figures of one run, as SVG text: histogram, breakdown, stability."""
    hists = report.get("histograms") or {}
    out: dict[str, str] = {}
    fig = _figure((10, 3.6))
    grid = fig.add_gridspec(1, 2)
    _histogram(fig.add_subplot(grid[0, 0]), hists.get("e2e") or {}, report.get("e2e") or {}, "e2e latency", _warmup_us(report))
    _histogram(fig.add_subplot(grid[0, 1]), hists.get("model") or {}, report.get("model_latency") or {}, "model latency")
    fig.suptitle(run_title(report))
    out["histogram"] = to_svg(fig)
    fig = _figure((10, 2.6))
    _breakdown(fig.add_subplot(), report)
    out["breakdown"] = to_svg(fig)
    fig = _figure((10, 3.2))
    _throughput(fig.add_subplot(), report)
    out["stability"] = to_svg(fig)
    return out


def to_svg(fig: Any) -> str:
    """The figure as a standalone SVG document: text kept as text, no metadata links, stable ids."""
    import io

    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "vampy"}):
        fig.savefig(buffer, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # the XML prolog and DOCTYPE (a URL to the DTD) are not needed inline


# --- sweep ---


def point_label(p: dict[str, Any]) -> str:
    """How a sweep point is named everywhere (plot key, HTML table): -i/-p/-b/--threads, engine if any."""
    label = f"i{p.get('instances')} p{p.get('processes')} b{p.get('batch')} t{p.get('threads')}"
    return f"{label} {p['engine']}" if p.get("engine") else label


def sweep_figure(sweep: dict[str, Any]) -> Any:
    """Throughput against p99 e2e latency: every point numbered (#k as in the table and the key),
    the Pareto front joined, the winner starred."""
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
        for k, p in enumerate(points):  # alternate above and below so neighbours' labels overlap less
            ax.annotate(f"#{p.get('index', k + 1)}", (p["e2e_p99_ms"], p["throughput_qps"]),
                        textcoords="offset points", xytext=(5, 5 if k % 2 == 0 else -12), fontsize=8)
        excluded = [p for p in points if p.get("accuracy") == "fail"]
        if excluded:
            gate = (sweep.get("config") or {}).get("min_snr_db")
            ax.scatter([p["e2e_p99_ms"] for p in excluded], [p["throughput_qps"] for p in excluded], marker="x", s=80,
                       color="tab:red", zorder=4, label=f"under the accuracy gate (--min_snr_db {gate:g}): cannot win")
        win = sweep.get("winner")
        if win:
            ax.scatter([win["e2e_p99_ms"]], [win["throughput_qps"]], marker="*", s=300, color="tab:orange", zorder=5, label="winner")
        ax.legend(fontsize=8, loc="best")  # lower right hid a winner drawn there
        key = "\n".join(f"#{p.get('index', k + 1)} {point_label(p)}" for k, p in enumerate(points[:30]))
        if len(points) > 30:
            key += f"\n... {len(points) - 30} more (see the CSV)"
        ax.text(1.02, 1.0, key, transform=ax.transAxes, va="top", ha="left", fontsize=7, family="monospace")
    else:
        ax.text(0.5, 0.5, "no point finished", ha="center", va="center", transform=ax.transAxes)
    p99s = [p["e2e_p99_ms"] for p in points if p["e2e_p99_ms"] > 0]
    log_x = bool(p99s) and spans_decades(min(p99s), max(p99s))
    if log_x:
        ax.set_xscale("log")
    _plain_ticks(ax.xaxis, log_x)
    _plain_ticks(ax.yaxis)
    ax.set_title(sweep_title(sweep))
    ax.grid(alpha=0.3)
    return fig


def sweep_title(sweep: dict[str, Any]) -> str:
    run = (sweep.get("config") or {}).get("run") or {}
    model = _model_name(run.get("model"))
    precision = {str(p["precision"]) for p in sweep.get("points", []) if p.get("precision")}
    what = " ".join([str(run.get("engine") or "onnxruntime"), *sorted(precision)])
    state = "" if sweep.get("complete", True) else f", {sweep.get('interrupted')}"
    return f"{model} ({what}): {sweep.get('mode')} sweep, {sweep.get('points_tried')} points{state}"


def plot_sweep(sweep: dict[str, Any], path: str | Path, flag: str = "--plot") -> None:
    """The PNG of `vampy sweep --plot`: sweep_figure."""
    _save(sweep_figure(sweep), path, flag)


def sweep_svg(sweep: dict[str, Any]) -> str:
    return to_svg(sweep_figure(sweep))
