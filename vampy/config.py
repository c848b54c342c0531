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
    device_id: int = 0
    vendor_flags: dict[str, str] = field(default_factory=dict)
    json_path: str | None = None
    dry_run: bool = False

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
    if cfg.request_timeout_s is not None and cfg.request_timeout_s <= 0:
        raise UsageError(f"--timeout {cfg.request_timeout_s}: must be a positive number of seconds (omit it to turn it off)")
    if cfg.output_dtype not in ("model", "fp16", "fp32"):
        raise UsageError(f"--output_dtype {cfg.output_dtype}: choose model, fp16 or fp32")
    if cfg.token_dtype is not None and cfg.token_dtype not in TOKEN_DTYPES:
        raise UsageError(f"--dtype {cfg.token_dtype}: choose one of {', '.join(sorted(TOKEN_DTYPES))}")
    if cfg.path_output is not None and cfg.datalist is None:
        raise UsageError("--path_output needs --datalist: outputs are written one per datalist line")
    if cfg.resume and cfg.path_output is None:
        raise UsageError("--resume needs --datalist and --path_output: it skips lines whose output already exists")


# --dtype values for token inputs (BERT_EMBEDDING_OP), vamp's spellings included.
TOKEN_DTYPES = frozenset({"int32", "int64", "uint32", "uint8", "int8", "uint16", "int16", "uint64"})


# --- image2npz / eval (Image2NpzConfig, EvalConfig) ---

# --- compile (CompileConfig) ---
