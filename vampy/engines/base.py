"""The Engine seam: one small protocol that every runtime implements, and the registry.

An engine opens a model for a device and precision, describes its inputs and outputs, runs a
batch and, optionally, profiles it; its sessions say what actually ran (engine, version, device,
precision, threads) for the report. Workers, infer, loadgen, sweep (through run) and compile's
calibration all go through it, so a new runtime is one new module here and nothing else changes.
This module imports no runtime: the registry imports an engine's module only when it is asked for.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from vampy.errors import UsageError

if TYPE_CHECKING:  # annotations only: `import vampy` (config imports this module) stays light
    import numpy as np

    from vampy.models.info import ModelInfo

# name -> module under vampy.engines that defines ENGINE (an Engine); imported on first use.
# "null" runs no runtime (outputs of the declared shapes, an optional fixed compute time): vampy's own
# cost per request, and executor tests that need no runtime (docs/engines.md).
_REGISTRY: dict[str, str] = {"onnxruntime": "ort", "openvino": "openvino", "null": "null"}
ENGINES: tuple[str, ...] = tuple(_REGISTRY)
DEFAULT_ENGINE = "onnxruntime"


@dataclass(frozen=True)
class EngineOptions:
    """How to open a model. Plain data, so it travels to worker processes and other machines."""

    device: str = "cpu"
    device_id: int = 0
    intra_threads: int = 0  # 0: the runtime chooses
    inter_threads: int = 1
    allow_spinning: bool = True
    profile_prefix: str | None = None  # where the runtime writes its profile; None: no profiling
    # "all" for measuring; "none" where the graph must run as written (compile's calibration model:
    # the runtime's fusions would only cost memory there, 2.2 GB instead of 1.4 GB for VDSR-256).
    graph_optimization: str = "all"
    # What to compute in where the engine has a choice (OpenVINO: f32, bf16, f16); None: the
    # engine's own default for the device, which the session then reports.
    precision: str | None = None
    streams: int = 1  # instances that share one compiled model (OpenVINO streams); ORT opens one session each
    # The null engine's fixed compute time per request (busy, not sleeping: engines/null.py says why);
    # the other engines ignore it.
    null_compute_us: float = 0.0


@dataclass(frozen=True)
class EngineInfo:
    """What actually ran, as the runtime reports it (never an echo of the flags)."""

    engine: str
    version: str
    device: str
    precision: str  # what the model computes in: fp32, fp16, int8, ...
    intra_threads: int
    providers: tuple[str, ...] = ()
    # Seconds to make the session ready (ORT: the InferenceSession; OpenVINO: compile_model;
    # TensorRT: plus its first request, where it builds the engine for a model with dynamic shapes;
    # static shapes build while the session opens). Never part of a measurement.
    build_s: float = 0.0
    engine_cache: str | None = None  # TensorRT: "pending" until its first request, then "built" (and cached) or "reused"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["providers"] = list(self.providers)
        return data


class Session(Protocol):
    """One opened model. `run` takes {input name: array} and returns the outputs in model order."""

    info: EngineInfo
    output_names: tuple[str, ...]

    def run(self, feed: Mapping[str, np.ndarray]) -> Sequence[np.ndarray]: ...

    # Sessions on a device also have run_split(feed, clock) -> (outputs, (compute_start_ns,
    # compute_end_ns)): the run with the copies to and from the device timed apart (see has_split).

    def end_profiling(self) -> str | None:
        """Stop profiling and return the profile file (the engine's own format), None when off."""
        ...


class Engine(Protocol):
    name: str

    def version(self) -> str: ...

    def describe(self, path: Path) -> ModelInfo:
        """The model's inputs and outputs without running it; every failure is one VampyError."""
        ...

    def check(self, options: EngineOptions) -> None:
        """Refuse in one UsageError line, before any process starts, what the engine cannot do on
        this machine (a missing package, a device it does not have, a precision it has no name for)."""
        ...

    def open(self, path: Path, options: EngineOptions) -> Session:
        """A session ready to run; every failure is one VampyError (ModelError when it cannot load)."""
        ...


Clock = Callable[[], int]


def build_pending(session: Session) -> bool:
    """Whether the session still has to build on its first request (TensorRT on a model with dynamic
    shapes): callers run that request before any timing and record it nowhere but in build_s."""
    return session.info.engine_cache == "pending"


def has_split(session: Session) -> bool:
    """Whether the session times host-to-device, compute and device-to-host apart (a GPU session)."""
    return callable(getattr(session, "run_split", None))


# What each engine offers, for the flags; the engines map these names to their runtime's own.
PROVIDERS = ("cpu", "cuda", "tensorrt")
OPENVINO_PRECISIONS = ("f32", "bf16", "f16")


def check_engine_flags(engine: str, provider: str | None, infer_precision: str | None) -> None:
    """--engine, --provider and --infer_precision, each only with the engine that has it."""
    if engine not in ENGINES:
        raise UsageError(f"--engine {engine}: unknown engine; choose one of {', '.join(ENGINES)}")
    if provider is not None and provider not in PROVIDERS:
        raise UsageError(f"--provider {provider}: choose one of {', '.join(PROVIDERS)}")
    if provider not in (None, "cpu") and engine != "onnxruntime":
        raise UsageError(
            f"--provider {provider} is an ONNX Runtime option; drop it or use --engine onnxruntime (the {engine} engine runs on the CPU)"
        )
    if infer_precision is not None and infer_precision not in OPENVINO_PRECISIONS:
        raise UsageError(f"--infer_precision {infer_precision}: choose one of {', '.join(OPENVINO_PRECISIONS)}")
    if infer_precision is not None and engine != "openvino":
        reason = ("ONNX Runtime computes in the model's own precision (compile it fp16 or int8 with vampy compile)"
                  if engine == "onnxruntime" else f"the {engine} engine computes nothing")
        raise UsageError(f"--infer_precision is an OpenVINO option; {reason}: add --engine openvino or drop --infer_precision")



def what_ran(engine: dict[str, Any] | None) -> tuple[str, str, str]:
    """(engine, precision, device) from a report's `engine` block; reports from before the block were
    all ONNX Runtime on the CPU, precision unknown ("")."""
    engine = engine or {}
    return str(engine.get("engine") or DEFAULT_ENGINE), str(engine.get("precision") or ""), str(engine.get("device") or "cpu")


def run_label(engine: str, precision: str = "", device: str = "cpu") -> str:
    """"openvino bf16", "onnxruntime int8 cuda:0": the one label every table and comparison prints."""
    return " ".join(part for part in (engine, precision, "" if device == "cpu" else device) if part)


def get_engine(name: str = DEFAULT_ENGINE) -> Engine:
    """The engine called `name`; UsageError naming the known ones otherwise."""
    module = _REGISTRY.get(name)
    if module is None:
        raise UsageError(f"--engine {name}: unknown engine; choose one of {', '.join(ENGINES)}")
    engine: Engine = importlib.import_module(f"vampy.engines.{module}").ENGINE
    return engine
