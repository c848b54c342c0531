"""One frozen, validated config object per command, built once from CLI > file > default.

Each section below belongs to one command; the CLI builds the object and the engine only reads it.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vampy.engines.base import DEFAULT_ENGINE, check_engine_flags
from vampy.errors import UsageError

# --- run (RunConfig) ---

DEFAULT_ITERATIONS = 1024  # vamp's usual default: samples per process
DEFAULT_PERCENTILES = (50.0, 90.0, 95.0, 99.0)
MAX_DIM = 1 << 16
_SHAPE_CHARS = re.compile(r"^[\[\]\d,\s]+$")


def parse_shapes(text: str, flag: str = "-s") -> tuple[tuple[int, ...], ...]:
    """`3,256,256`, `[3,256,256]` or `[[1,512],[1,512]]` -> one tuple per model input.

    Parsed as JSON after a character check: the value is data, never evaluated as code.
    """
    clean = text.strip()
    if not clean or not _SHAPE_CHARS.match(clean):
        raise UsageError(f"{flag} {text!r}: expected C,H,W such as 3,256,256 or [3,256,256], or [[1,512],[1,512]] for several inputs")
    if not clean.startswith("["):
        clean = f"[{clean}]"
    try:
        value = json.loads(clean)
    except json.JSONDecodeError:
        raise UsageError(f"{flag} {text!r}: unbalanced brackets or commas; write it as 3,256,256 or [[1,512],[1,512]]") from None
    except (ValueError, RecursionError):
        # json raises these for a number over Python's digit limit and for very deep brackets.
        raise UsageError(f"{flag} {text!r}: a number too long or brackets nested too deep; write it as 3,256,256 or [[1,512],[1,512]]") from None
    groups = value if value and all(isinstance(v, list) for v in value) else [value]
    shapes = tuple(_shape_tuple(g, flag, text) for g in groups)
    return shapes


def _shape_tuple(group: object, flag: str, text: str) -> tuple[int, ...]:
    if not isinstance(group, list) or not group or not all(isinstance(d, int) and not isinstance(d, bool) for d in group):
        raise UsageError(f"{flag} {text!r}: each shape must be a non-empty list of whole numbers, e.g. [3,256,256]")
    if any(d < 1 or d > MAX_DIM for d in group):
        raise UsageError(f"{flag} {text!r}: every dimension must be between 1 and {MAX_DIM}")
    if math.prod(group) > 1 << 28:
        raise UsageError(f"{flag} {text!r}: {math.prod(group)} elements per sample is more than vampy allows (2^28)")
    return tuple(group)


def parse_percentiles(text: str) -> tuple[float, ...]:
    """`--percentiles 50,99.9` -> the default set plus these, sorted, each in (0, 100]."""
    extra: list[float] = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise UsageError(f"--percentiles {text!r}: {part!r} is not a number; write e.g. 50,99.9") from None
        if not 0 < value <= 100:
            raise UsageError(f"--percentiles {text!r}: {value} is outside (0, 100]")
        extra.append(value)
    return tuple(sorted(set(DEFAULT_PERCENTILES) | set(extra)))


@dataclass(frozen=True)
class RunConfig:
    """Everything `vampy run` needs, validated once; the engine reads it and never changes it."""

    model: str
    vdsp_params: str | None = None
    instances: int = 1
    processes: int = 1
    batch_size: int = 1
    shapes: tuple[tuple[int, ...], ...] | None = None
    iterations: int | None = None
    duration_s: float | None = None
    warmup_requests: int = 2
    threads: int | None = None
    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES
    seed: int = 0
    token_dtype: str | None = None
    datalist: str | None = None
    path_output: str | None = None
    output_dtype: str = "model"
    resume: bool = False
    native_size: bool = False
    request_timeout_s: float | None = None
    rate_qps: float | None = None  # open loop: samples per second over all processes
    arrival: str = "poisson"
    profile_dir: str | None = None
    export_times: str | None = None
    device_id: int = 0
    engine: str = DEFAULT_ENGINE
    provider: str | None = None  # onnxruntime: cpu (default), cuda, tensorrt
    infer_precision: str | None = None  # openvino: f32, bf16, f16; None: the device's default
    vendor_flags: dict[str, str] = field(default_factory=dict)
    json_path: str | None = None
    dry_run: bool = False
    ray_address: str | None = None  # --ray: run the datalist's shards on this Ray cluster

    def __post_init__(self) -> None:
        _validate_run(self)

    @property
    def samples_per_process(self) -> int | None:
        """The --iterations stop rule; None when only --duration was given."""
        if self.iterations is None and self.duration_s is not None:
            return None
        return self.iterations if self.iterations is not None else DEFAULT_ITERATIONS

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _validate_run(cfg: RunConfig) -> None:
    for flag, value in (("-i/--instance", cfg.instances), ("-p/--processes", cfg.processes), ("-b/--batch_size", cfg.batch_size)):
        if value < 1:
            raise UsageError(f"{flag} {value}: must be at least 1")
    if cfg.processes * cfg.instances > 256:
        raise UsageError(f"-p {cfg.processes} x -i {cfg.instances}: more than 256 model instances in all; lower -p or -i")
    if cfg.iterations is not None and cfg.iterations < 1:
        raise UsageError(f"--iterations {cfg.iterations}: must be at least 1")
    if cfg.duration_s is not None and not 0 < cfg.duration_s <= 7 * 86400:
        raise UsageError(f"-t/--duration {cfg.duration_s}: must be a positive number of seconds")
    if cfg.warmup_requests < 0:
        raise UsageError(f"--warmup {cfg.warmup_requests}: must be 0 or more")
    if cfg.threads is not None and not 1 <= cfg.threads <= 1024:
        raise UsageError(f"--threads {cfg.threads}: must be between 1 and 1024")
    if cfg.request_timeout_s is not None and cfg.request_timeout_s < 0:
        raise UsageError(f"--timeout {cfg.request_timeout_s}: give seconds per request, 0 to turn the watchdog off, or omit it for the automatic bound")
    if cfg.output_dtype not in ("model", "fp16", "fp32"):
        raise UsageError(f"--output_dtype {cfg.output_dtype}: choose model, fp16 or fp32")
    if cfg.token_dtype is not None and cfg.token_dtype not in TOKEN_DTYPES:
        raise UsageError(f"--dtype {cfg.token_dtype}: choose one of {', '.join(sorted(TOKEN_DTYPES))}")
    _validate_measurement(cfg)
    check_engine_flags(cfg.engine, cfg.provider, cfg.infer_precision)
    if cfg.path_output is not None and cfg.datalist is None:
        raise UsageError("--path_output needs --datalist: outputs are written one per datalist line")
    if cfg.resume and cfg.path_output is None:
        raise UsageError("--resume needs --datalist and --path_output: it skips lines whose output already exists")
    _validate_ray(cfg)


def _validate_ray(cfg: RunConfig) -> None:
    if cfg.ray_address is None:
        return
    if not cfg.ray_address.strip() or any(c.isspace() for c in cfg.ray_address):
        raise UsageError(f"--ray {cfg.ray_address!r}: give the cluster's address as HOST:PORT, ray://HOST:PORT or auto")
    if cfg.datalist is None:
        raise UsageError("--ray runs a data set on a cluster: add --datalist (a performance run measures one machine; vampy sweep --ray spreads points over nodes)")
    if cfg.profile_dir is not None:
        raise UsageError("--profile with --ray: the traces would stay on each node's disk; profile on one machine without --ray")


def _validate_measurement(cfg: RunConfig) -> None:
    if cfg.rate_qps is not None:
        if not 0 < cfg.rate_qps <= 1e7:
            raise UsageError(f"--rate {cfg.rate_qps}: give samples per second, a positive number")
        if cfg.datalist is not None:
            raise UsageError("--rate is for performance mode; a --datalist run is closed-loop (drop one of them)")
    if cfg.arrival not in ("poisson", "constant"):
        raise UsageError(f"--arrival {cfg.arrival}: choose poisson or constant")
    if cfg.arrival != "poisson" and cfg.rate_qps is None:
        raise UsageError("--arrival needs --rate: arrivals are scheduled only in open-loop mode")
    if cfg.export_times is not None and not cfg.export_times.lower().endswith((".csv", ".json")):
        raise UsageError(f"--export_times {cfg.export_times}: the file must end in .csv or .json (the format follows the extension)")


# --- device of a run ---


def device_of(provider: str | None) -> str:
    """The engine device a provider means: cuda and tensorrt run on the GPU -d names."""
    return provider or "cpu"


# --dtype values for token inputs (BERT_EMBEDDING_OP), vamp's spellings included.
TOKEN_DTYPES = frozenset({"int32", "int64", "uint32", "uint8", "int8", "uint16", "int16", "uint64"})


# --- image2npz / eval (Image2NpzConfig, EvalConfig) ---

IMAGE2NPZ_MODES = ("rgb", "y3", "gray")
YCBCR_METHODS = ("opencv", "bt601")
# The vendor's VDSR model size; vampy/quality/evaluate.py explains why bilinear resizing to it reproduces their table.
DEFAULT_EVAL_INPUT_HW = (256, 256)
DEFAULT_SHAVE_PX = 4
# Ground truth for `baby_GT_scale_4.bmp` is `baby_GT.bmp`: {base} is the source name without `_scale_N`.
DEFAULT_GT_PATTERN = "{base}.*"


def _check_choice(flag: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UsageError(f"{flag} {value}: choose one of {', '.join(choices)}")


@dataclass(frozen=True)
class Image2NpzConfig:
    """`vampy image2npz`: one NAME.npz (key input_0, uint8 CHW) per matching image, plus the datalist."""

    dataset_dir: str
    pattern: str
    target_dir: str
    datalist_path: str
    mode: str = "rgb"
    ycbcr: str = "opencv"
    relative: bool = False
    preset: str | None = None  # a zoo family's image2npz (vampy/data/image2npz.py PREP_PRESETS); overrides mode
    hr_path: str | None = None  # realsr: where its HR-512 ground truth PNGs go

    def __post_init__(self) -> None:
        _check_choice("--mode", self.mode, IMAGE2NPZ_MODES)
        _check_choice("--ycbcr", self.ycbcr, YCBCR_METHODS)
        if not self.pattern.strip():
            raise UsageError("--pattern is empty: give a glob such as '*.png' or '*_scale_4.bmp'")
        if Path(self.pattern).is_absolute():
            raise UsageError(f"--pattern {self.pattern}: must be relative to --dataset_path (e.g. '*.bmp'), not an absolute path")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EvalConfig:
    """`vampy eval`: score SR outputs against ground truth on Y. input_hw None means native size."""

    src_dir: str
    gt_dir: str
    datalist: str
    outputs_dir: str
    input_hw: tuple[int, int] | None = DEFAULT_EVAL_INPUT_HW
    pair_by_order: bool = False
    shave_px: int = DEFAULT_SHAVE_PX
    ycbcr: str = "opencv"
    gt_pattern: str = DEFAULT_GT_PATTERN
    draw_dir: str | None = None
    json_path: str | None = None
    # --preset NAME / --scoring FILE (vampy/quality/presets.py). With a preset other than drrn/vdsr,
    # src_dir may be "" and input_hw None means "the preset's default size".
    preset: str | None = None
    scoring_path: str | None = None
    lr_dir: str | None = None  # ecbsr: the LR images whose chroma recolours the Y output
    model_type: str | None = None  # real_esrgan: x4plus -> GT suffix x4, else x2

    def __post_init__(self) -> None:
        _check_choice("--ycbcr", self.ycbcr, YCBCR_METHODS)
        if not 0 <= self.shave_px <= 1000:
            raise UsageError(f"--scale {self.shave_px}: the border to shave must be between 0 and 1000 pixels")
        if self.input_hw is not None and any(not 1 <= d <= MAX_DIM for d in self.input_hw):
            raise UsageError(f"--input_shape {self.input_hw[0]} {self.input_hw[1]}: H and W must be between 1 and {MAX_DIM}")
        _check_gt_pattern(self.gt_pattern)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_gt_pattern(pattern: str) -> None:
    try:
        pattern.format(stem="x", base="x")
    except (KeyError, IndexError, ValueError):
        raise UsageError(
            f"--gt_pattern {pattern!r}: only {{stem}} (the source name) and {{base}} (the name without _scale_N) "
            "may appear in braces, e.g. '{base}.*' or '{stem}_hr.png'"
        ) from None
    if not pattern.strip():
        raise UsageError("--gt_pattern is empty: the default is '{base}.*'")

# --- compile (CompileConfig) ---

PRECISIONS = ("fp32", "fp16", "int8")
CALIBRATE_MODES = ("kl_divergence", "max", "percentile", "mse")
ACTIVATION_TYPES = ("uint8", "int8")
# The values of vampy.formats.vdsp.Norm: x, x/255, (x-mean)/std, (x/255-mean)/std, x/127.5-1.
NORMALIZATIONS = ("none", "unit", "mean_std", "unit_mean_std", "symmetric")
# ORT's own default percentile (99.999 %), written as vamc writes calibrate_range.
DEFAULT_CALIBRATE_RANGE = 0.99999


@dataclass(frozen=True)
class DecodeImageOp:
    """Read the file as HxWx3 uint8 RGB (the vendor's pipeline decodes to RGB)."""


@dataclass(frozen=True)
class CvtColorOp:
    code: str  # an OpenCV constant name, e.g. COLOR_RGB2YCrCb; resolved where cv2 is imported


@dataclass(frozen=True)
class ResizeOp:
    size_wh: tuple[int, int]
    interpolation: str = "bilinear"  # nearest | bilinear | bicubic | area | lanczos
    backend: str = "cv2"  # cv2 | pillow
    adaptive_side: str | None = None  # short | long: keep the aspect ratio, that side becomes size


@dataclass(frozen=True)
class ChannelSplitOp:
    index: int


@dataclass(frozen=True)
class NormalizeOp:
    norm: str  # one of NORMALIZATIONS
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None


@dataclass(frozen=True)
class ToTensorOp:
    """HWC -> CHW float32 (the batch dimension is added by the compiler to fit the model)."""


@dataclass(frozen=True)
class CenterCropOp:
    size_wh: tuple[int, int]


@dataclass(frozen=True)
class PadOp:
    pad_to_square: bool = False
    size_wh: tuple[int, int] | None = None
    value: float = 0.0  # padding goes to the bottom and right, as mmcv's Pad does


ProcessOp = DecodeImageOp | CvtColorOp | ResizeOp | ChannelSplitOp | NormalizeOp | ToTensorOp | CenterCropOp | PadOp


@dataclass(frozen=True)
class QuantizeConfig:
    """backend.quantize; calibrate_range is a fraction (vamc's 0.99999), used by percentile only."""

    calibrate_mode: str = "kl_divergence"
    per_channel: bool = False
    calibrate_range: float = DEFAULT_CALIBRATE_RANGE
    skip_layers: tuple[str | int, ...] = ()  # node names, or indices among the Conv nodes
    activation_type: str = "uint8"
    num_bins: int | None = None  # histogram bins; None keeps ONNX Runtime's default per mode
    float_nodes: tuple[FloatNodes, ...] = ()  # skip_conv_layers, skip_matmul_layers, exclude_layers, ops_usingfp


@dataclass(frozen=True)
class FloatNodes:
    """Nodes kept in float, from one YAML list (`key`): node names, or indices among the `among` nodes
    (conv: Conv/ConvTranspose, matmul: MatMul/Gemm, all: every node; negative counts from the end);
    among "op_type": the items are operator types (ops_usingfp)."""

    key: str
    among: str
    items: tuple[str | int, ...]


@dataclass(frozen=True)
class ExtraOp:
    """graph.extra_ops that vampy applies: a Softmax over `axis` appended to every graph output."""

    kind: str  # "softmax"
    axis: int = -1


@dataclass(frozen=True)
class DatasetConfig:
    """dataset: files in `path` (not recursive) matching `pattern` and `suffixes`, sorted by name."""

    path: str
    suffixes: tuple[str, ...] = ()  # lower case, no dot; () means any image suffix
    pattern: str = "*"
    max_samples: int | None = None  # sampler.get_data_num
    ops: tuple[ProcessOp, ...] = ()


@dataclass(frozen=True)
class CompileConfig:
    """`vampy compile`: one vamc-style YAML plus the CLI's flags, validated once."""

    source: str  # the YAML file, for messages
    name: str
    checkpoint: str
    precision: str
    workspace: str
    input_shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    frontend_dtype: str = "fp32"
    quantize: QuantizeConfig = field(default_factory=QuantizeConfig)
    dataset: DatasetConfig | None = None
    vdsp_params: str | None = None
    calib_datalist: str | None = None
    ignored_keys: tuple[str, ...] = ()  # vendor-only keys, accepted and reported
    unused_keys: tuple[str, ...] = ()  # valid keys this precision does not use
    ignored_reasons: tuple[str, ...] = ()  # one per ignored_keys entry: why it means nothing on ONNX Runtime
    extra_ops: tuple[ExtraOp, ...] = ()  # graph.extra_ops applied to the model
    warnings: tuple[str, ...] = ()  # from reading the file (a key that looks misspelt)
    notes: tuple[str, ...] = ()  # from reading the file (extra ops not applied)

    def __post_init__(self) -> None:
        _check_choice("backend.dtype", self.precision, PRECISIONS)
        _check_choice("backend.quantize.calibrate_mode", self.quantize.calibrate_mode, CALIBRATE_MODES)
        if self.precision == "int8" and self.dataset is None and self.calib_datalist is None:
            raise UsageError(f"{self.source}: backend.dtype int8 needs calibration data: add a dataset: section or pass --calib_datalist")

    @property
    def output_dir(self) -> Path:
        return Path(self.workspace) / self.name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

# --- infer (InferConfig) ---

MAX_INFER_BATCH = 256


@dataclass(frozen=True)
class InferConfig:
    """`vampy infer`: images -> vdsp preprocessing -> model -> SR images and Y scores, streamed.

    mode None: y3 for a model whose image input has 1 channel, rgb for 3 (as image2npz would be run).
    input_hw None: the vdsp file's output size (or the model's fixed H, W); native: each image's own.
    """

    lr_dir: str
    model: str
    gt_dir: str
    vdsp_params: str | None = None
    save_dir: str | None = None
    pattern: str = "*"
    mode: str | None = None
    ycbcr: str = "opencv"
    input_hw: tuple[int, int] | None = None
    native: bool = False
    batch_size: int = 1
    shave_px: int = DEFAULT_SHAVE_PX
    gt_pattern: str = DEFAULT_GT_PATTERN
    threads: int | None = None
    device_id: int = 0
    engine: str = DEFAULT_ENGINE
    provider: str | None = None
    infer_precision: str | None = None
    json_path: str | None = None
    # --preset NAME / --scoring FILE: score as `eval --preset` does (vampy/workflows/infer_preset.py)
    preset: str | None = None
    scoring_path: str | None = None

    def __post_init__(self) -> None:
        check_engine_flags(self.engine, self.provider, self.infer_precision)
        if (self.preset or self.scoring_path) and self.gt_pattern != DEFAULT_GT_PATTERN:
            raise UsageError("--gt_pattern does not apply with --preset/--scoring: the preset names the ground truth (docs/eval.md); drop it")
        if (self.preset or self.scoring_path) and self.mode not in (None, "rgb"):
            raise UsageError(f"--mode {self.mode}: --preset/--scoring feed the model as image2npz --preset does (RGB, or ecbsr's Y); drop --mode")
        if self.mode is not None:
            _check_choice("--mode", self.mode, IMAGE2NPZ_MODES)
        _check_choice("--ycbcr", self.ycbcr, YCBCR_METHODS)
        if not self.pattern.strip():
            raise UsageError("--pattern is empty: give a glob such as '*.png' or '*_scale_4.bmp'")
        if Path(self.pattern).is_absolute():
            raise UsageError(f"--pattern {self.pattern}: must be relative to --lr_image_dir (e.g. '*.bmp'), not an absolute path")
        if self.native and self.input_hw is not None:
            raise UsageError("--native runs each image at its own size; drop --input_shape or --native")
        if self.input_hw is not None and any(not 1 <= d <= MAX_DIM for d in self.input_hw):
            raise UsageError(f"--input_shape {self.input_hw[0]} {self.input_hw[1]}: H and W must be between 1 and {MAX_DIM}")
        if self.input_hw is not None and self.vdsp_params is None:
            raise UsageError("--input_shape sets the size the vdsp preprocessing resizes to; give --vdsp_params too")
        if not 1 <= self.batch_size <= MAX_INFER_BATCH:
            raise UsageError(f"--batch {self.batch_size}: must be between 1 and {MAX_INFER_BATCH}")
        if not 0 <= self.shave_px <= 1000:
            raise UsageError(f"--scale {self.shave_px}: the border to shave must be between 0 and 1000 pixels")
        if self.threads is not None and not 1 <= self.threads <= 1024:
            raise UsageError(f"--threads {self.threads}: must be between 1 and 1024")
        _check_gt_pattern(self.gt_pattern)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
