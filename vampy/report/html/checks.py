"""Is a report whole enough to show? The keys the page reads from each kind, checked before rendering.

A report with the right `kind` and `schema_version` can still be truncated or edited by hand; the
template reads some keys without a default (Jinja2's StrictUndefined makes a missing one an error,
never a silent blank), so the keys each kind's writer always writes are checked first, and a file
that misses one is named with the first key it lacks. What a check cannot foresee (a value of the
wrong type deep inside) is caught around each file's rendering (`unshowable`).
"""
from __future__ import annotations

from typing import Any

# kind -> the command whose --json writes it (the fix a bad-file line names)
WRITERS = {
    "run": "vampy run --json", "sweep": "vampy sweep --json", "compare": "vampy compare --json", "eval": "vampy eval --json",
    "infer": "vampy infer --json", "loadgen": "vampy loadgen --json", "compile": "vampy compile (its mod.json)",
    "diff": "vampy diff --json",
}
ENGINE_KEYS = ("engine", "version", "device", "precision", "intra_threads", "providers")  # EngineInfo.to_dict()
METRIC_KEYS = ("metrics.psnr_db", "metrics.ssim", "metrics.bicubic_psnr_db", "metrics.bicubic_ssim")  # plain eval: EvalScores
V1_MEAN_KEYS = ("mean.psnr_db", "mean.ssim", "mean.bicubic_psnr_db", "mean.bicubic_ssim")  # the same in schema_version 1
TIMING_KEYS = ("timing.images", "timing.pipeline_s", "timing.throughput_ips")  # InferTiming, the ones shown
# p50 and p99 are in every run report: --percentiles adds to the default set, never removes from it.
DIFF_KEYS = ("config.ref_dir", "config.test_dir", "summary", "worst", "gates")  # DiffReport, what the page reads
RUN_KEYS = ("throughput_qps", "e2e.percentiles_us.p50", "e2e.percentiles_us.p99",
            "model_latency.percentiles_us.p50", "model_latency.percentiles_us.p99")


def is_preset(data: dict[str, Any]) -> bool:
    """eval/infer --preset (or --scoring) reports: PSNR and maybe SSIM by the family's convention, no bicubic."""
    return "scoring" in data


def family_headline(data: dict[str, Any]) -> str | None:
    """The headline metric of a zoo family preset's eval report (its `scoring.headline`); None for SR reports."""
    scoring = data.get("scoring")
    headline = scoring.get("headline") if isinstance(scoring, dict) else None
    return headline if isinstance(headline, str) else None


def score_keys(data: dict[str, Any]) -> tuple[str, ...]:
    """The mean scores an eval or infer report must hold, by the names of its schema_version."""
    headline = family_headline(data)
    if headline is not None:  # a family preset (version 2 on): its own metrics, no PSNR of Y
        return (f"metrics.{headline}",)
    if data.get("schema_version") == 1:
        return ("mean_psnr_db",) if is_preset(data) else V1_MEAN_KEYS
    return ("metrics.psnr_db",) if is_preset(data) else METRIC_KEYS


def required_keys(data: dict[str, Any]) -> tuple[str, ...]:
    """Dotted key paths the page needs in this report, given its kind (and whether it is a preset one)."""
    kind = data.get("kind")
    engine = tuple(f"engine.{k}" for k in ENGINE_KEYS) if data.get("engine") else ()
    if kind == "run":
        return RUN_KEYS + engine
    if kind == "eval":
        return score_keys(data)
    if kind == "infer":
        return score_keys(data)[:2] + TIMING_KEYS + engine
    if kind == "loadgen":
        return ("config.scenario", "config.mode")
    if kind == "diff":
        return DIFF_KEYS
    if kind == "sweep" and data.get("winner"):
        return ("winner.index", "winner.throughput_qps", "winner.e2e_p99_ms")
    return ()


def missing_key(data: dict[str, Any]) -> str | None:
    """The first required key path the report lacks (a value of null counts as present: it shows as '-')."""
    for dotted in required_keys(data):
        node: Any = data
        for key in dotted.split("."):
            if not isinstance(node, dict) or key not in node:
                return dotted
            node = node[key]
    return None


def _a(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def without_line(label: str, kind: str, key: str) -> str:
    return f"{label}: {_a(kind)} report without {key} (truncated or edited?); regenerate it with {WRITERS.get(kind, 'vampy')}"


def unshowable(label: str, kind: str, exc: BaseException) -> str:
    """One line for a file whose data broke its own section: the error, squeezed to one short line."""
    what = " ".join(f"{type(exc).__name__}: {exc}".split())
    what = what if len(what) <= 160 else what[:157] + "..."
    fix = WRITERS.get(kind, "vampy")
    return f"{label}: {_a(kind)} report that cannot be shown ({what}; truncated or edited?); regenerate it with {fix}"
