"""`vampy run`'s config: small frozen option objects, one per concept, composed into RunConfig.

Each option object belongs to the seam that reads it, and a lower layer is handed only its part:

| object            | concept                          | read by                                         |
| ----------------- | -------------------------------- | ----------------------------------------------- |
| `InputOptions`    | inputs and shapes                | data/inputs.build_plan                          |
| `LoadOptions`     | the load and the stop rule       | execution/job (StopRule, processes, rate)       |
| `EngineChoice`    | which runtime, device, threads   | engines (check, EngineOptions), execution/job   |
| `DatalistOptions` | the data set and its outputs     | workflows/run_datalist, execution/job           |
| `OutputOptions`   | what the run reports and writes  | measure/summary, workflows/run                  |

The flags that fill them are declared once in `vampy/config/flags.py`. `RunConfig.to_dict()` is
flat (every field by its own name), as the report's `config` block and `--dry_run` always were.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from vampy.config.checks import MAX_DIM, check_choice
from vampy.engines.base import DEFAULT_ENGINE, check_engine_flags
from vampy.errors import UsageError

DEFAULT_ITERATIONS = 1024  # vamp's usual default: samples per process
MAX_ITERATIONS = 1 << 40  # samples per process: past this the request counters would near int64 nanosecond sums
MIN_RATE_QPS = 1e-3  # one sample per 1000 s; below, the schedule's gaps overflow int64 nanoseconds
MAX_SEED = (1 << 32) - 1
MAX_SAMPLE_ELEMENTS = 1 << 28  # one sample of one input, from -s or read from a datalist's first npz
DEFAULT_PERCENTILES = (50.0, 90.0, 95.0, 99.0)
DEFAULT_WARMUP_REQUESTS = 2
MAX_INSTANCES = 256  # processes x instances
ARRIVALS = ("poisson", "constant")
OUTPUT_DTYPES = ("model", "fp16", "fp32")
# --dtype values for token inputs (BERT_EMBEDDING_OP), vamp's spellings included.
TOKEN_DTYPES = frozenset({"int32", "int64", "uint32", "uint8", "int8", "uint16", "int16", "uint64"})
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
        raise UsageError(
            f"{flag} {text!r}: a number too long or brackets nested too deep; write it as 3,256,256 or [[1,512],[1,512]]"
        ) from None
    groups = value if value and all(isinstance(v, list) for v in value) else [value]
    return tuple(_shape_tuple(g, flag, text) for g in groups)


def _shape_tuple(group: object, flag: str, text: str) -> tuple[int, ...]:
    if not isinstance(group, list) or not group or not all(isinstance(d, int) and not isinstance(d, bool) for d in group):
        raise UsageError(f"{flag} {text!r}: each shape must be a non-empty list of whole numbers, e.g. [3,256,256]")
    if any(d < 1 or d > MAX_DIM for d in group):
        raise UsageError(f"{flag} {text!r}: every dimension must be between 1 and {MAX_DIM}")
    if math.prod(group) > MAX_SAMPLE_ELEMENTS:
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


def device_of(provider: str | None) -> str:
    """The engine device a provider means: cuda and tensorrt run on the GPU -d names."""
    return provider or "cpu"


@dataclass(frozen=True)
class InputOptions:
    """What each model input receives: shapes, the vdsp preprocessing, batch, synthetic data."""

    vdsp_params: str | None = None
    shapes: tuple[tuple[int, ...], ...] | None = None  # one per model input; None: from the vdsp file or the model
    batch_size: int = 1
    seed: int = 0
    token_dtype: str | None = None  # --dtype: the integer type token inputs are made as
    native_size: bool = False

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise UsageError(f"-b/--batch_size {self.batch_size}: must be at least 1")
        if not 0 <= self.seed <= MAX_SEED:
            raise UsageError(f"--seed {self.seed}: must be between 0 and {MAX_SEED}")
        if self.token_dtype is not None and self.token_dtype not in TOKEN_DTYPES:
            raise UsageError(f"--dtype {self.token_dtype}: choose one of {', '.join(sorted(TOKEN_DTYPES))}")


@dataclass(frozen=True)
class LoadOptions:
    """How hard and how long: instances x processes, the stop rule, warm-up, the open-loop rate."""

    instances: int = 1
    processes: int = 1
    iterations: int | None = None
    duration_s: float | None = None
    warmup_requests: int = DEFAULT_WARMUP_REQUESTS
    request_timeout_s: float | None = None  # None: automatic, from the slowest warm-up request; 0: no watchdog
    rate_qps: float | None = None  # open loop: samples per second over all processes
    arrival: str = "poisson"

    def __post_init__(self) -> None:
        for flag, value in (("-i/--instance", self.instances), ("-p/--processes", self.processes)):
            if value < 1:
                raise UsageError(f"{flag} {value}: must be at least 1")
        if self.processes * self.instances > MAX_INSTANCES:
            raise UsageError(
                f"-p {self.processes} x -i {self.instances}: more than {MAX_INSTANCES} model instances in all; lower -p or -i"
            )
        if self.iterations is not None and not 1 <= self.iterations <= MAX_ITERATIONS:
            raise UsageError(f"--iterations {self.iterations}: must be between 1 and {MAX_ITERATIONS}")
        if self.duration_s is not None and not 0 < self.duration_s <= 7 * 86400:  # nan fails this too
            raise UsageError(f"-t/--duration {self.duration_s}: must be a positive number of seconds")
        if self.warmup_requests < 0:
            raise UsageError(f"--warmup {self.warmup_requests}: must be 0 or more")
        if self.request_timeout_s is not None and not 0 <= self.request_timeout_s <= 7 * 86400:
            raise UsageError(
                f"--timeout {self.request_timeout_s}: give seconds per request (at most a week), 0 to turn the watchdog off, "
                "or omit it for the automatic bound"
            )
        if self.rate_qps is not None and not MIN_RATE_QPS <= self.rate_qps <= 1e7:
            raise UsageError(f"--rate {self.rate_qps}: give samples per second, from {MIN_RATE_QPS:g} to 1e7")
        check_choice("--arrival", self.arrival, ARRIVALS)
        if self.arrival != "poisson" and self.rate_qps is None:
            raise UsageError("--arrival needs --rate: arrivals are scheduled only in open-loop mode")

    @property
    def samples_per_process(self) -> int | None:
        """The --iterations stop rule; None when only --duration was given."""
        if self.iterations is None and self.duration_s is not None:
            return None
        return self.iterations if self.iterations is not None else DEFAULT_ITERATIONS


@dataclass(frozen=True)
class EngineChoice:
    """Which runtime opens the model, on which device, with how many threads per instance."""

    engine: str = DEFAULT_ENGINE
    provider: str | None = None  # onnxruntime: cpu (default), cuda, tensorrt
    infer_precision: str | None = None  # openvino: f32, bf16, f16; None: the device's default
    device_id: int = 0
    threads: int | None = None  # per instance; None: cores / (processes x instances)
    null_compute_us: float = 0.0  # --engine null: fixed compute time per request (busy-wait)

    def __post_init__(self) -> None:
        if self.threads is not None and not 1 <= self.threads <= 1024:
            raise UsageError(f"--threads {self.threads}: must be between 1 and 1024")
        check_engine_flags(self.engine, self.provider, self.infer_precision)
        if not 0 <= self.null_compute_us <= 60e6:
            raise UsageError(f"--null_us {self.null_compute_us}: give microseconds per request, 0 to 60000000")
        if self.null_compute_us and self.engine != "null":
            raise UsageError("--null_us sets the null engine's compute time: add --engine null or drop --null_us")

    @property
    def device(self) -> str:
        return device_of(self.provider)

    def intra_threads(self, instances_in_all: int, cores: int | None = None) -> int:
        """Threads per instance so that processes x instances x threads fits the cores (>= 1)."""
        if self.threads is not None:
            return self.threads
        available = cores if cores is not None else len(os.sched_getaffinity(0))
        return max(1, available // instances_in_all)


@dataclass(frozen=True)
class DatalistOptions:
    """A data-set run: the datalist, where its outputs go, in what dtype, and --resume."""

    datalist: str | None = None
    path_output: str | None = None
    output_dtype: str = "model"
    resume: bool = False

    def __post_init__(self) -> None:
        if self.output_dtype not in OUTPUT_DTYPES:
            raise UsageError(f"--output_dtype {self.output_dtype}: choose model, fp16 or fp32")
        if self.path_output is not None and self.datalist is None:
            raise UsageError("--path_output needs --datalist: outputs are written one per datalist line")
        if self.resume and self.path_output is None:
            raise UsageError("--resume needs --datalist and --path_output: it skips lines whose output already exists")


@dataclass(frozen=True)
class OutputOptions:
    """What the run reports and writes besides outputs: percentiles, JSON, per-request times, profiles."""

    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES
    json_path: str | None = None
    export_times: str | None = None
    profile_dir: str | None = None

    def __post_init__(self) -> None:
        if self.export_times is not None and not self.export_times.lower().endswith((".csv", ".json")):
            raise UsageError(
                f"--export_times {self.export_times}: the file must end in .csv or .json (the format follows the extension)"
            )


# Which option object owns each flat field name (RunConfig.flat and to_dict use it).
_PARTS: dict[str, type] = {
    "inputs": InputOptions, "load": LoadOptions, "engine": EngineChoice, "data": DatalistOptions, "outputs": OutputOptions,
}
_OWNER: dict[str, str] = {f.name: part for part, cls in _PARTS.items() for f in dataclasses.fields(cls)}


@dataclass(frozen=True)
class RunConfig:
    """Everything `vampy run` needs, validated once: the model and one option object per concept."""

    model: str
    inputs: InputOptions = field(default_factory=InputOptions)
    load: LoadOptions = field(default_factory=LoadOptions)
    engine: EngineChoice = field(default_factory=EngineChoice)
    data: DatalistOptions = field(default_factory=DatalistOptions)
    outputs: OutputOptions = field(default_factory=OutputOptions)
    ray_address: str | None = None  # --ray: run the datalist's shards on this Ray cluster
    vendor_flags: dict[str, str] = field(default_factory=dict)  # vamp-only flags given, accepted and ignored
    dry_run: bool = False

    def __post_init__(self) -> None:
        if self.load.rate_qps is not None and self.data.datalist is not None:
            raise UsageError("--rate is for performance mode; a --datalist run is closed-loop (drop one of them)")
        _validate_ray(self)
        if self.engine.engine == "null" and self.outputs.profile_dir is not None:
            raise UsageError("--profile with --engine null: the null engine computes nothing to profile; drop --profile")

    @classmethod
    def flat(cls, model: str, **fields: Any) -> RunConfig:
        """A RunConfig from flat field names (instances=2, shapes=..., datalist=...), each routed to its part."""
        parts: dict[str, dict[str, Any]] = {name: {} for name in _PARTS}
        top: dict[str, Any] = {}
        for name, value in fields.items():
            if name in _OWNER:
                parts[_OWNER[name]][name] = value
            elif name in ("ray_address", "vendor_flags", "dry_run"):
                top[name] = value
            else:
                raise TypeError(f"RunConfig.flat() got an unexpected field {name!r}")
        return cls(model, **{name: _PARTS[name](**kw) for name, kw in parts.items()}, **top)

    def with_fields(self, **fields: Any) -> RunConfig:
        """A copy with these flat fields changed (sweep's points, a datalist's first shapes)."""
        return RunConfig.flat(**{**self.to_dict(), **fields})

    @property
    def samples_per_process(self) -> int | None:
        return self.load.samples_per_process

    def to_dict(self) -> dict[str, Any]:
        """Flat: every field by its own name, as the report's `config` block and --dry_run print it."""
        flat: dict[str, Any] = {"model": self.model}
        for name in _PARTS:
            flat.update(asdict(getattr(self, name)))
        flat.update(ray_address=self.ray_address, vendor_flags=dict(self.vendor_flags), dry_run=self.dry_run)
        return flat


def _validate_ray(cfg: RunConfig) -> None:
    if cfg.ray_address is None:
        return
    if not cfg.ray_address.strip() or any(c.isspace() for c in cfg.ray_address):
        raise UsageError(f"--ray {cfg.ray_address!r}: give the cluster's address as HOST:PORT, ray://HOST:PORT or auto")
    if cfg.data.datalist is None:
        raise UsageError(
            "--ray runs a data set on a cluster: add --datalist "
            "(a performance run measures one machine; vampy sweep --ray spreads points over nodes)"
        )
    if cfg.outputs.profile_dir is not None:
        raise UsageError("--profile with --ray: the traces would stay on each node's disk; profile on one machine without --ray")
