"""Report dataclasses (RunReport, EvalReport, ...) with a schema_version; JSON in and out."""
from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from vampy.errors import InputError, OutputError
from vampy.formats.files import DEFAULT_MAX_BYTES, parse_json, read_input_bytes, write_file

# schema_version is per kind: a kind's version goes up when its shape changes, so a run report's
# version says nothing new when only eval's shape changed. Readers take every version from 1 to the
# kind's own. SCHEMA_VERSION: every kind not in KIND_SCHEMA_VERSIONS (run, compile, image2npz, sweep).
SCHEMA_VERSION = 1
# eval and infer 2: the mean metrics under `metrics` (name -> mean) and each image's under its own
# `metrics`, one shape for plain and --preset reports; version 1's keys are still written beside
# them as aliases until 3 (docs/eval.md, "The report's shape").
EVAL_SCHEMA_VERSION = 2
KIND_SCHEMA_VERSIONS = {"eval": EVAL_SCHEMA_VERSION, "infer": EVAL_SCHEMA_VERSION}


def schema_versions(kind: Any) -> tuple[int, ...]:
    """The schema_versions this vampy reads for a report kind: 1 up to the one it writes."""
    return tuple(range(1, KIND_SCHEMA_VERSIONS.get(kind, SCHEMA_VERSION) + 1)) if isinstance(kind, str) else (SCHEMA_VERSION,)


def versions_text(kind: Any) -> str:
    """'1', or '1 or 2': the versions a reader of this kind takes, for messages."""
    return " or ".join(str(v) for v in schema_versions(kind))

# --- run (RunReport) ---


@dataclass(frozen=True)
class RunReport:
    """The result of `vampy run`. Latencies are in microseconds in the dict form (vamp's unit)."""

    complete: bool
    incomplete_reason: str | None
    config: dict[str, Any]
    environment: dict[str, Any]
    model: dict[str, Any]
    inputs: dict[str, Any]
    processes: int
    instances: int
    batch_size: int
    intra_threads: int
    samples: int
    requests: int
    forward_time_s: float
    throughput_qps: float
    e2e: dict[str, Any]
    model_latency: dict[str, Any]
    warmup: dict[str, Any]
    per_process: list[dict[str, Any]]
    resources: dict[str, Any]
    stability: dict[str, Any]
    histograms: dict[str, Any]
    failed_workers: list[dict[str, Any]]
    setup_s: float
    datalist: dict[str, Any] | None = None
    breakdown: dict[str, Any] = field(default_factory=dict)  # queue, preprocess, model, output: they add up to e2e
    # On a device: the model phase as host_to_device, compute, device_to_host (they add up to model); None on a CPU.
    model_split: dict[str, Any] | None = None
    open_loop: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    # What ran, as the engine's sessions reported it: engine, version, device, precision, intra_threads, providers.
    engine: dict[str, Any] | None = None
    # --ray: the cluster's address, per node its name, IP, samples and throughput, and lost nodes.
    cluster: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION
    kind: str = "run"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    """Write a report as JSON (UTF-8, indented), atomically, so a reader never sees half a file."""
    write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def write_text(path: str | Path, text: str, flag: str | None = None) -> None:
    """Write a text file through the one safe writer (formats/files.write_file: a new temporary file,
    fsync, rename; never through a planted link), so Ctrl-C never leaves half a file; `flag` names
    the option in the one-line error."""
    target = Path(path)
    try:
        write_file(target, lambda fh: fh.write(text.encode("utf-8")))
    except OSError as exc:
        why = exc.strerror or exc
        if flag is None:
            raise OutputError(f"cannot write {target}: {why}; check that the folder exists and is writable", exc.errno) from None
        raise OutputError(f"{flag} {target}: cannot write ({why}); check that the folder exists and is writable", exc.errno) from None


def check_writable(path: str | Path, flag: str) -> None:
    """Fail before a long run, not after it, when its report could not be written."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise OutputError(f"{flag} {path}: the folder {folder} does not exist (create it first)")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{flag} {path}: the folder {folder} is not writable")


# A report is read whole, bounded: the largest vampy writes (a 1M-line datalist run whose every
# line failed) is about 200 MB; reports nest a handful of levels (MAX_NESTING allows 64).
MAX_REPORT_BYTES = DEFAULT_MAX_BYTES
REPORT_NEEDS = "a vampy report nests a handful"


def read_report_data(path: str | Path, fix: str = "give a vampy JSON report", max_bytes: int = MAX_REPORT_BYTES) -> Any:
    """A report file's JSON value through the bounded reader and the nesting check; InputError naming
    the file otherwise (a device, over max_bytes, a silent pipe, empty, too deep, not JSON)."""
    source = Path(path)
    try:
        raw = read_input_bytes(source, fix, max_bytes)
    except FileNotFoundError:
        raise InputError(f"{source}: no such report file") from None
    except OSError as exc:
        raise InputError(f"{source}: not a readable JSON report ({exc})") from None
    return parse_json(raw, str(source), REPORT_NEEDS)


def read_json(path: str | Path, kind: str | None = None) -> dict[str, Any]:
    """Read a report written by vampy; checks schema_version and, if given, the report kind."""
    source = Path(path)
    data = read_report_data(source)
    if not isinstance(data, dict) or data.get("schema_version") not in schema_versions(data.get("kind")):
        what = data.get("kind") if isinstance(data, dict) else None
        raise InputError(f"{source}: not a vampy report of schema_version {versions_text(what)}")
    if kind is not None and data.get("kind") != kind:
        raise InputError(f"{source}: is a '{data.get('kind')}' report, expected '{kind}'")
    return upgrade(data)


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """A version-1 eval or infer report in the current shape, so readers know one: `metrics` from
    `mean` (plain) or `mean_psnr_db` / `mean_ssim` (--preset), each image's from its `scores` or its
    own `psnr_db` / `ssim`; the old keys stay. Any other report is returned as it is."""
    if data.get("kind") not in KIND_SCHEMA_VERSIONS or data.get("schema_version") != 1:
        return data
    images = data.get("images")
    if isinstance(images, list):
        images = [dict(row, metrics=_v1_metrics(row, "scores", "")) if isinstance(row, dict) else row for row in images]
    return {**data, "metrics": _v1_metrics(data, "mean", "mean_"), "images": images}


def _v1_metrics(data: dict[str, Any], block: str, prefix: str) -> dict[str, Any]:
    """Version 1's scores of a report (`mean` / `mean_*`) or an image (`scores` / flat), nulls left out."""
    nested = data.get(block)
    if isinstance(nested, dict):
        return {name: value for name, value in nested.items() if value is not None}
    return {name: data[prefix + name] for name in ("psnr_db", "ssim") if data.get(prefix + name) is not None}


def _json_default(value: object) -> object:
    if hasattr(value, "tolist"):
        return value.tolist()  # numpy scalars and arrays
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")

# --- image2npz / eval (Image2NpzResult, EvalReport) ---


@dataclass(frozen=True)
class FileProblem:
    """A file that was skipped or could not be scored, and why (the reason names the file at fault)."""

    path: str
    reason: str


@dataclass(frozen=True)
class Image2NpzResult:
    """The result of `vampy image2npz`: npz files written in datalist order, images skipped."""

    datalist_path: str
    target_dir: str
    mode: str
    ycbcr: str
    written: tuple[str, ...]
    skipped: tuple[FileProblem, ...]
    schema_version: int = SCHEMA_VERSION
    kind: str = "image2npz"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EvalScores:
    """Plain eval's Y scores of the model output and of the bicubic input, against the ground truth.

    The field names are the metric names in `metrics` (to_metrics / of).
    """

    psnr_db: float
    ssim: float
    bicubic_psnr_db: float
    bicubic_ssim: float

    def to_metrics(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def of(cls, metrics: Mapping[str, float]) -> EvalScores:
        """The four scores of a plain eval or infer metrics mapping (KeyError on a --preset one: it has no bicubic)."""
        return cls(*(metrics[f.name] for f in fields(cls)))


@dataclass(frozen=True)
class ScoredImage:
    """One scored image: the one row of every eval and infer report, plain or --preset.

    metrics: metric name -> value, only what was measured (docs/eval.md, "The report's shape"):
    psnr_db and ssim; bicubic_psnr_db and bicubic_ssim where a bicubic input is scored (plain eval
    and infer); a convention without SSIM has no ssim. height/width are the size compared at.
    """

    index: int
    name: str
    output_path: str | None  # eval: the output npz scored; infer: the PNG under --save_dir, None without it
    source_path: str  # what the model was fed: the LR image (infer; eval's --src_dir image), the datalist's npz (eval --preset)
    gt_path: str
    height_px: int
    width_px: int
    metrics: dict[str, float]

    # Version 1's attributes, read-only aliases of `metrics` for one schema version.
    @property
    def scores(self) -> EvalScores:
        """Plain eval and infer only (a --preset row has no bicubic scores)."""
        return EvalScores.of(self.metrics)

    @property
    def psnr_db(self) -> float:
        return self.metrics["psnr_db"]

    @property
    def ssim(self) -> float | None:
        return self.metrics.get("ssim")


# Version 1's four row classes are one row now; the names stay for the Python API.
EvalImage = EvalPresetImage = InferImage = InferPresetImage = ScoredImage


def _with_v1_keys(data: dict[str, Any], preset: bool) -> dict[str, Any]:
    """Version 1's keys beside `metrics` (aliases, written until schema_version 3): plain reports
    `mean` and per-image `scores`; --preset reports `mean_psnr_db`, `mean_ssim` and per-image
    `psnr_db`, `ssim` (null where the convention has no SSIM)."""
    if preset and "psnr_db" not in data["metrics"]:
        return data  # the other families' presets (vampy/quality/families.py) are new in version 2: no aliases
    if preset:
        data["mean_psnr_db"], data["mean_ssim"] = data["metrics"]["psnr_db"], data["metrics"].get("ssim")
        for row in data["images"]:
            row["psnr_db"], row["ssim"] = row["metrics"]["psnr_db"], row["metrics"].get("ssim")
        return data
    data["mean"] = EvalScores.of(data["metrics"]).to_metrics()
    for row in data["images"]:
        row["scores"] = EvalScores.of(row["metrics"]).to_metrics()
    return data


class _ScoredReport:
    """What the plain eval and infer reports share: version 1's `mean`, completeness, the JSON with the v1 keys."""

    metrics: dict[str, float]
    failures: tuple[Any, ...]  # FileProblem (eval) or InferFailure (infer)

    @property
    def mean(self) -> EvalScores:
        """Version 1's name for `metrics`."""
        return EvalScores.of(self.metrics)

    @property
    def complete(self) -> bool:
        return not self.failures and getattr(self, "incomplete_reason", None) is None

    def to_dict(self) -> dict[str, Any]:
        data = _with_v1_keys(asdict(self), preset=False)  # type: ignore[call-overload]
        if data.get("incomplete_reason", "") is None:
            data.pop("incomplete_reason")  # written only by an interrupted infer: the other reports stay as they were
        return dict(data)


class _PresetReport:
    """What the eval and infer preset reports share: version 1's mean_psnr_db/mean_ssim, completeness, the JSON."""

    metrics: dict[str, float]
    failures: tuple[Any, ...]  # FileProblem (eval) or InferFailure (infer)

    @property
    def mean_psnr_db(self) -> float:
        return self.metrics["psnr_db"]

    @property
    def mean_ssim(self) -> float | None:
        return self.metrics.get("ssim")

    @property
    def complete(self) -> bool:
        return not self.failures and getattr(self, "incomplete_reason", None) is None

    def to_dict(self) -> dict[str, Any]:
        data = _with_v1_keys(asdict(self), preset=True)  # type: ignore[call-overload]
        for optional in ("per_class_iou", "incomplete_reason"):  # written only where they apply: other reports stay as they were
            if data.get(optional) is None:
                data.pop(optional, None)
        return data


@dataclass(frozen=True)
class EvalReport(_ScoredReport):
    """The result of `vampy eval`: per-image scores, their means, and the images that failed."""

    config: dict[str, Any]
    images: tuple[ScoredImage, ...]
    metrics: dict[str, float]  # the mean of each image metric: psnr_db, ssim, bicubic_psnr_db, bicubic_ssim
    failures: tuple[FileProblem, ...]
    drawn: int
    schema_version: int = EVAL_SCHEMA_VERSION
    kind: str = "eval"
    preset: str | None = None  # --preset drrn / vdsr (the Y convention this report is); None: no preset
    deviations: tuple[str, ...] = ()  # where vampy differs from the family's script, and why


@dataclass(frozen=True)
class EvalPresetReport(_PresetReport):
    """`vampy eval --preset NAME` (or --scoring FILE): per-image PSNR/SSIM by that family's convention."""

    config: dict[str, Any]
    preset: str
    scoring: dict[str, Any]  # the Scoring record's fields, as used
    images: tuple[ScoredImage, ...]
    metrics: dict[str, float]  # the mean of each image metric: psnr_db, and ssim where the convention has it
    failures: tuple[FileProblem, ...]
    drawn: int
    deviations: tuple[str, ...]  # where vampy differs from the family's script, and why
    schema_version: int = EVAL_SCHEMA_VERSION
    kind: str = "eval"
    # Optional in schema_version 2, written by the segmentation presets only (docs/report.md): class index (as text) ->
    # IoU in the units of the preset's IoU metric, null where the class has no pixel in either the ground truth or the
    # prediction (absent, not 0). A version 2 reader that does not know the key ignores it; other presets' reports lack it.
    per_class_iou: dict[str, float | None] | None = None

# --- compile (CompileResult) ---


@dataclass(frozen=True)
class CompileResult:
    """The result of `vampy compile`, also written as `<workspace>/<name>/mod.json`.

    `macs`/`params` are counted on the source graph at the compiled input shapes (1 MAC = 2 FLOPs);
    `calibration` is None for fp32 and fp16. Sizes are bytes, times seconds.
    """

    name: str
    precision: str
    model_path: str
    source: dict[str, Any]  # checkpoint, sha256, size_bytes
    output: dict[str, Any]  # sha256, size_bytes
    inputs: list[dict[str, Any]]  # name, shape, dtype
    outputs: list[dict[str, Any]]
    calibration: dict[str, Any] | None
    node_counts: dict[str, int]
    macs: int | None
    params: int | None
    flops_per_mac: int
    compile_time_s: float
    versions: dict[str, str]
    config: dict[str, Any]
    ignored_keys: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # fp16/int8 (and fp32 with --check_datalist): the built model against the float one on the check
    # samples (compiler/drift_check.py): samples, origin, summary, worst, gates; None when not checked.
    drift: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION
    kind: str = "compile"

    def to_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))

# --- infer (InferReport) ---


@dataclass(frozen=True)
class InferFailure:
    """An image `vampy infer` could not finish; stage: read, ground truth, preprocess, model, score."""

    index: int
    path: str
    stage: str
    reason: str


@dataclass(frozen=True)
class InferTiming:
    """The pipeline's clock. throughput = images through the model / pipeline_s (first read to last write).

    The busy times are each stage's own work, summed over images; with the stages overlapping they
    add up to more than pipeline_s. Warm-up and setup (session, plan) come before and are excluded.
    """

    images: int
    batches: int
    pipeline_s: float
    throughput_ips: float
    decode_busy_s: float
    infer_busy_s: float
    model_s: float  # the session calls alone
    write_busy_s: float
    warmup_s: float
    setup_s: float


@dataclass(frozen=True)
class InferReport(_ScoredReport):
    """The result of `vampy infer`: per-image scores in input order, their mean, failures, timing."""

    config: dict[str, Any]
    model: dict[str, Any]
    mode: str  # the image2npz mode the images went through (y3, rgb, gray)
    compare_hw: list[int] | None  # None: each ground truth's own size
    intra_threads: int
    images: tuple[ScoredImage, ...]  # scored at height x width (the compare size); output_path: the PNG under --save_dir
    metrics: dict[str, float]  # the mean of each image metric: psnr_db, ssim, bicubic_psnr_db, bicubic_ssim
    failures: tuple[InferFailure, ...]
    timing: InferTiming
    saved: int
    notes: tuple[str, ...] = ()
    engine: dict[str, Any] | None = None  # EngineInfo.to_dict(): what ran
    schema_version: int = EVAL_SCHEMA_VERSION
    kind: str = "infer"
    incomplete_reason: str | None = None  # Ctrl-C or SIGTERM stopped the stream: the images scored until then (optional key)


@dataclass(frozen=True)
class InferPresetReport(_PresetReport):
    """`vampy infer --preset NAME` (or --scoring FILE): the streamed images scored as `eval --preset NAME` scores them."""

    config: dict[str, Any]
    model: dict[str, Any]
    mode: str
    intra_threads: int
    preset: str
    scoring: dict[str, Any]  # the Scoring record's fields, as used
    images: tuple[ScoredImage, ...]  # output_path: the decoded output as PNG under --save_dir (eval --draw_dir's picture)
    metrics: dict[str, float]  # the mean of each image metric: psnr_db, and ssim where the convention has it
    failures: tuple[InferFailure, ...]
    timing: InferTiming
    saved: int
    deviations: tuple[str, ...]  # where vampy differs from the family's script, and why
    notes: tuple[str, ...] = ()
    engine: dict[str, Any] | None = None
    schema_version: int = EVAL_SCHEMA_VERSION
    kind: str = "infer"
    # Optional in schema_version 2, written by the segmentation presets only (docs/report.md): class index (as text) ->
    # IoU in the units of the preset's IoU metric, null where the class has no pixel in either the ground truth or the
    # prediction (absent, not 0). A version 2 reader that does not know the key ignores it; other presets' reports lack it.
    per_class_iou: dict[str, float | None] | None = None
    incomplete_reason: str | None = None  # as InferReport's

# --- diff (DiffReport) ---


def json_safe(value: Any) -> Any:
    """JSON has no infinity: +inf, -inf and NaN floats become "inf", "-inf" and "nan" (float() reads them back)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, tuple):
        return tuple(json_safe(v) for v in value)
    return value


def json_float(value: Any) -> float | None:
    """A figure as json_safe wrote it -> float (None for null and for anything that is not a figure)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return float(value) if value in ("inf", "-inf", "nan") else None


@dataclass(frozen=True)
class DiffReport:
    """The result of `vampy diff`: two runs' outputs compared line by line (vampy/quality/drift.py defines
    the figures). records: one per line and output tensor (line, path, tensor, shape, the figures);
    summary: tensor -> figure -> {lines, mean, min, p5, p95, max}; worst: the lowest-SNR lines;
    missing: lines without an output on a side ({line, path, file, missing_in}); gates: GateResult dicts;
    boxes: detectors after NMS compared as boxes (vampy/quality/drift_boxes.py box_block), None where they were not."""

    config: dict[str, Any]
    lines: int  # datalist entries
    compared: int  # lines with an output on both sides
    records: list[dict[str, Any]]
    summary: dict[str, Any]
    worst: list[dict[str, Any]]
    missing: list[dict[str, Any]]
    gates: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    boxes: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION
    kind: str = "diff"

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def failed_gates(self) -> list[dict[str, Any]]:
        return [g for g in self.gates if not g["passed"]]

    def to_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))
