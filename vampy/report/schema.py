"""Report dataclasses (RunReport, EvalReport, ...) with a schema_version; JSON in and out."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vampy.errors import InputError, OutputError
from vampy.formats.files import read_input_bytes

SCHEMA_VERSION = 1

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
    """Write a text file atomically (a temporary file beside it, then rename), so Ctrl-C never
    leaves half a file; `flag` names the option in the one-line error."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # the folder itself is the problem; there is nothing to clean up
        why = exc.strerror or exc
        if flag is None:
            raise OutputError(f"cannot write {target}: {why}; check that the folder exists and is writable") from None
        raise OutputError(f"{flag} {target}: cannot write ({why}); check that the folder exists and is writable") from None


def check_writable(path: str | Path, flag: str) -> None:
    """Fail before a long run, not after it, when its report could not be written."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise OutputError(f"{flag} {path}: the folder {folder} does not exist (create it first)")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{flag} {path}: the folder {folder} is not writable")


def read_json(path: str | Path, kind: str | None = None) -> dict[str, Any]:
    """Read a report written by vampy; checks schema_version and, if given, the report kind."""
    source = Path(path)
    try:
        data = json.loads(read_input_bytes(source, "give a vampy JSON report").decode("utf-8"))
    except FileNotFoundError:
        raise InputError(f"{source}: no such report file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{source}: not a readable JSON report ({exc})") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"{source}: not a vampy report of schema_version {SCHEMA_VERSION}")
    if kind is not None and data.get("kind") != kind:
        raise InputError(f"{source}: is a '{data.get('kind')}' report, expected '{kind}'")
    return data


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
    """Y-channel scores of the model output and of the bicubic input, against the ground truth."""

    psnr_db: float
    ssim: float
    bicubic_psnr_db: float
    bicubic_ssim: float


@dataclass(frozen=True)
class EvalImage:
    """One scored image; height/width are the size it was compared at."""

    index: int
    name: str
    output_path: str
    source_path: str
    gt_path: str
    height_px: int
    width_px: int
    scores: EvalScores


@dataclass(frozen=True)
class EvalReport:
    """The result of `vampy eval`: per-image scores, their means, and the images that failed."""

    config: dict[str, Any]
    images: tuple[EvalImage, ...]
    mean: EvalScores
    failures: tuple[FileProblem, ...]
    drawn: int
    schema_version: int = SCHEMA_VERSION
    kind: str = "eval"
    preset: str | None = None  # --preset drrn / vdsr (the Y convention this report is); None: no preset
    deviations: tuple[str, ...] = ()  # where vampy differs from the family's script, and why

    @property
    def complete(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EvalPresetImage:
    """One image scored by a preset's convention; height/width are the size compared."""

    index: int
    name: str
    output_path: str
    gt_path: str
    height_px: int
    width_px: int
    psnr_db: float
    ssim: float | None  # None where the convention has no SSIM


@dataclass(frozen=True)
class EvalPresetReport:
    """`vampy eval --preset NAME` (or --scoring FILE): per-image PSNR/SSIM by that family's convention."""

    config: dict[str, Any]
    preset: str
    scoring: dict[str, Any]  # the Scoring record's fields, as used
    images: tuple[EvalPresetImage, ...]
    mean_psnr_db: float
    mean_ssim: float | None
    failures: tuple[FileProblem, ...]
    drawn: int
    deviations: tuple[str, ...]  # where vampy differs from the family's script, and why
    schema_version: int = SCHEMA_VERSION
    kind: str = "eval"

    @property
    def complete(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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
    schema_version: int = SCHEMA_VERSION
    kind: str = "compile"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

# --- infer (InferReport) ---


@dataclass(frozen=True)
class InferImage:
    """One image through `vampy infer`: scores at height x width (the compare size), the PNG written."""

    index: int
    name: str
    source_path: str
    gt_path: str
    output_path: str | None  # the colourised SR PNG under --save_dir; None without it
    height_px: int
    width_px: int
    scores: EvalScores


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
class InferReport:
    """The result of `vampy infer`: per-image scores in input order, their mean, failures, timing."""

    config: dict[str, Any]
    model: dict[str, Any]
    mode: str  # the image2npz mode the images went through (y3, rgb, gray)
    compare_hw: list[int] | None  # None: each ground truth's own size
    intra_threads: int
    images: tuple[InferImage, ...]
    mean: EvalScores
    failures: tuple[InferFailure, ...]
    timing: InferTiming
    saved: int
    notes: tuple[str, ...] = ()
    engine: dict[str, Any] | None = None  # EngineInfo.to_dict(): what ran
    schema_version: int = SCHEMA_VERSION
    kind: str = "infer"

    @property
    def complete(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class InferPresetImage:
    """One image through `vampy infer --preset NAME`: scored by that preset's convention at height x width."""

    index: int
    name: str
    source_path: str
    gt_path: str
    output_path: str | None  # the decoded output as PNG under --save_dir (eval --draw_dir's picture); None without it
    height_px: int
    width_px: int
    psnr_db: float
    ssim: float | None  # None where the convention has no SSIM


@dataclass(frozen=True)
class InferPresetReport:
    """`vampy infer --preset NAME` (or --scoring FILE): the streamed images scored as `eval --preset NAME` scores them."""

    config: dict[str, Any]
    model: dict[str, Any]
    mode: str
    intra_threads: int
    preset: str
    scoring: dict[str, Any]  # the Scoring record's fields, as used
    images: tuple[InferPresetImage, ...]
    mean_psnr_db: float
    mean_ssim: float | None
    failures: tuple[InferFailure, ...]
    timing: InferTiming
    saved: int
    deviations: tuple[str, ...]  # where vampy differs from the family's script, and why
    notes: tuple[str, ...] = ()
    engine: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION
    kind: str = "infer"

    @property
    def complete(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
