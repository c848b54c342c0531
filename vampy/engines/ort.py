"""ONNX Runtime, CPU execution provider: the first Engine.

Sessions are fully optimised and sequential; ORT's own logging is silenced (the engine never
prints): its red `[E:onnxruntime:...]` lines would repeat, beside vampy's one-line error, what the
raised exception already says. `--debug` lets its warnings and errors through (log_severity).
Precision is read from the graph: ORT exposes no "precision in use" for a CPU session, and what it
computes follows the graph (QDQ nodes -> int8 kernels, float16 weights -> fp16).
"""
from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from vampy.engines.base import Clock, EngineInfo, EngineOptions, check_engine_flags
from vampy.errors import InputError, ModelError, UsageError, first_line
from vampy.models.graph import graph_precision, read_signature
from vampy.models.info import ModelInfo, TensorInfo
from vampy.models.resolve import file_sha256, read_sidecar

PROVIDER = "CPUExecutionProvider"
# --provider -> the execution providers asked for, first choice first (ORT falls back along the list).
_PROVIDERS = {
    "cpu": ("CPUExecutionProvider",),
    "cuda": ("CUDAExecutionProvider",),
    "tensorrt": ("TensorrtExecutionProvider", "CUDAExecutionProvider"),
}
GPU_HINT = "pip install 'vampy[gpu]' (onnxruntime-gpu, in place of onnxruntime) on a machine with an NVIDIA GPU, its driver and CUDA"
_ORT_TYPES: dict[str, str] = {
    "float": "float32", "double": "float64", "float16": "float16", "bool": "bool", "string": "object",
    "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64",
    "uint8": "uint8", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64",
}


# Set by cli/__init__.py's main for --debug (spawned workers and Ray's local actors inherit the environment);
# an API user may set it too.
DEBUG_ENV = "VAMPY_DEBUG"
_SEVERITY_QUIET = 4  # ORT's levels: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal
_SEVERITY_DEBUG = 2


def log_severity() -> int:
    """The lowest level ONNX Runtime logs: fatal only, or with --debug its warnings and errors too."""
    return _SEVERITY_DEBUG if os.environ.get(DEBUG_ENV) else _SEVERITY_QUIET


def trt_cache_dir(path: Path) -> Path:
    """Where TensorRT's engines for this model file are kept between runs: one folder per content
    hash, because ONNX Runtime names an engine by the model's file name and tensor names only (a
    re-exported mod.onnx would reuse a stale engine), so "built"/"reused" is exact per model.
    XDG_CACHE_HOME moves the cache like other tools' caches; read at each open, not at import."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vampy" / "tensorrt"
    return root / _content_hash(str(path), path.stat().st_mtime_ns, path.stat().st_size)


@functools.lru_cache(maxsize=16)
def _content_hash(path: str, mtime_ns: int, size: int) -> str:
    """Once per file version in a process (each instance opens the same model)."""
    return file_sha256(Path(path))[:16]


class OrtSession:
    """An ORT InferenceSession behind the Session protocol; `raw` is the ORT object itself."""

    def __init__(self, raw: Any, info: EngineInfo) -> None:
        self.raw = raw
        self.info = info
        self.output_names = tuple(o.name for o in raw.get_outputs())
        # Bound once: this sits on the timed path.
        self.run: Callable[[Mapping[str, np.ndarray]], Sequence[np.ndarray]] = functools.partial(raw.run, None)

    def end_profiling(self) -> str | None:
        return str(self.raw.end_profiling()) if self.raw.get_session_options().enable_profiling else None


class OrtDeviceSession(OrtSession):
    """On a GPU: each input goes to the device once per request and the outputs stay there until
    copied back once (IO binding), with the three steps timed apart as trtexec reports them.

    `device` is ORT's memory name ("cuda"); the same code runs with "cpu", which is how it is
    tested on machines without a GPU (tests/unit/test_device_split.py).
    """

    def __init__(self, raw: Any, info: EngineInfo, device: str, device_id: int, cache: tuple[Path, frozenset[str]] | None = None) -> None:
        super().__init__(raw, info)
        import onnxruntime

        self._to_device = onnxruntime.OrtValue.ortvalue_from_numpy
        self._device = device
        self._device_id = device_id
        self._cache = cache  # TensorRT: its cache folder and the files in it before this session; None once known
        # One binding per session, cleared per request, so that the host-to-device figure is the copy
        # rather than the binding's set-up (one session is driven by one thread).
        self._binding = raw.io_binding()
        self.run = self._run

    def _run(self, feed: Mapping[str, np.ndarray]) -> Sequence[np.ndarray]:
        return self.run_split(feed, time.perf_counter_ns)[0]

    def run_split(self, feed: Mapping[str, np.ndarray], clock: Clock) -> tuple[list[np.ndarray], tuple[int, int]]:
        """(outputs, (compute_start_ns, compute_end_ns)); the caller's stamps around it bound the copies."""
        t_first = time.perf_counter() if self._cache is not None else 0.0
        binding = self._binding
        binding.clear_binding_inputs()
        binding.clear_binding_outputs()
        on_device = [self._to_device(np.ascontiguousarray(array), self._device, self._device_id) for array in feed.values()]
        for name, value in zip(feed, on_device):
            binding.bind_ortvalue_input(name, value)
        for name in self.output_names:
            binding.bind_output(name, self._device, self._device_id)
        binding.synchronize_inputs()
        compute_start = clock()
        self.raw.run_with_iobinding(binding)
        binding.synchronize_outputs()
        compute_end = clock()
        outputs = list(binding.copy_outputs_to_cpu())
        if self._cache is not None:
            folder, before = self._cache
            self._cache = None
            self._first_run_done(time.perf_counter() - t_first, folder, before)
        return outputs, (compute_start, compute_end)

    def _first_run_done(self, seconds: float, folder: Path, before: frozenset[str]) -> None:
        """With dynamic shapes TensorRT builds its engine on the first request (static shapes: while the
        session opens): that time is build time, and the cache folder says whether an engine was built."""
        built = bool(_cache_files(folder) - before)
        self.info = replace(self.info, build_s=self.info.build_s + seconds, engine_cache="built" if built else "reused")


def _cache_files(folder: Path) -> frozenset[str]:
    return frozenset(p.name for p in folder.glob("*")) if folder.is_dir() else frozenset()


@dataclass(frozen=True)
class OrtEngine:
    name: str = "onnxruntime"

    def version(self) -> str:
        import onnxruntime

        return str(onnxruntime.__version__)

    def describe(self, path: Path) -> ModelInfo:
        info = read_signature(path)
        if info is not None:
            return info
        # Not an ONNX protobuf (e.g. .ort): ONNX Runtime may still read it.
        raw = self.open(path, EngineOptions(intra_threads=1)).raw
        inputs = tuple(_tensor_from_node_arg(arg) for arg in raw.get_inputs())
        outputs = tuple(_tensor_from_node_arg(arg) for arg in raw.get_outputs())
        return ModelInfo(path=path, inputs=inputs, outputs=outputs, metadata=read_sidecar(path))

    def check(self, options: EngineOptions) -> None:
        import onnxruntime as ort

        check_engine_flags(self.name, options.device, options.precision)
        wanted = _PROVIDERS[options.device][0]
        if wanted not in ort.get_available_providers():
            raise UsageError(
                f"--provider {options.device}: this ONNX Runtime ({ort.__version__}) has no {wanted} "
                f"(it has {', '.join(ort.get_available_providers())}); {GPU_HINT}"
            )

    def open(self, path: Path, options: EngineOptions) -> OrtSession:
        import onnxruntime as ort

        self.check(options)
        if options.intra_threads < 0 or options.inter_threads < 0:
            raise UsageError(
                f"threads must be >= 0 (0 lets ONNX Runtime choose); got intra {options.intra_threads}, inter {options.inter_threads}"
            )
        if not path.is_file():
            raise InputError(f"model {path}: no such file")
        # The default logger covers what ORT logs outside a session (model loading, provider start-up).
        ort.set_default_logger_severity(log_severity())
        session_options = _session_options(ort, options)
        cache_dir = trt_cache_dir(path) if options.device == "tensorrt" else None
        cache_before = _cache_files(cache_dir) if cache_dir else frozenset()
        t_build = time.perf_counter()
        try:
            raw = ort.InferenceSession(str(path), sess_options=session_options, providers=_provider_list(options, cache_dir))
        except Exception as exc:  # noqa: BLE001 - ORT raises several pybind types; all mean "cannot load"
            raise ModelError(f"model {path}: ONNX Runtime cannot load it: {first_line(exc)}") from exc
        used = tuple(raw.get_providers())
        if used[0] != _PROVIDERS[options.device][0] and not (options.device == "tensorrt" and used[0] == "CUDAExecutionProvider"):
            # ORT falls back to the CPU silently when a GPU provider fails to start; vampy does not.
            raise ModelError(
                f"model {path}: ONNX Runtime could not start {_PROVIDERS[options.device][0]} (it runs on {used[0]}); {GPU_HINT}"
            )
        build_s = time.perf_counter() - t_build
        device = _device(used, options)
        # "pending" until the first request, which callers run before any timing (engines.base.build_pending).
        cache = "pending" if device.startswith("tensorrt") else None
        info = EngineInfo(self.name, self.version(), device, _compute_precision(path, used), options.intra_threads, used, build_s, cache)
        if device == "cpu":
            return OrtSession(raw, info)
        return OrtDeviceSession(raw, info, "cuda", options.device_id, (cache_dir, cache_before) if cache and cache_dir else None)


_DEVICE_OF = {"CPUExecutionProvider": "cpu", "CUDAExecutionProvider": "cuda", "TensorrtExecutionProvider": "tensorrt"}


def _device(used: tuple[str, ...], options: EngineOptions) -> str:
    """Where the session runs, from the provider ONNX Runtime put first (TensorRT may have fallen back to CUDA)."""
    device = _DEVICE_OF.get(used[0], used[0])
    return device if device == "cpu" else f"{device}:{options.device_id}"


def _compute_precision(path: Path, used: tuple[str, ...]) -> str:
    precision = graph_precision(path)
    if precision == "fp16" and used[0] == "CPUExecutionProvider":
        # The CPU provider has no fp16 kernels for most operators on x86: ONNX Runtime inserts
        # casts and computes in fp32 (why fp16 VDSR runs at fp32's speed, README "Speed").
        return "fp32 (fp16 weights)"
    return precision


def _provider_list(options: EngineOptions, cache_dir: Path | None) -> list[Any]:
    """cache_dir: TensorRT's engine cache for this model (trt_cache_dir), None for the other providers."""
    if options.device == "cpu":
        return [PROVIDER]
    cuda = ("CUDAExecutionProvider", {"device_id": options.device_id})
    if options.device == "cuda":
        return [cuda, PROVIDER]
    if cache_dir is None:
        raise ValueError("the TensorRT provider needs its cache folder (trt_cache_dir)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    # The timing cache too goes to the cache folder (without a path ONNX Runtime writes it to the working directory).
    trt = ("TensorrtExecutionProvider", {"device_id": options.device_id,
                                         "trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache_dir),
                                         "trt_timing_cache_enable": True, "trt_timing_cache_path": str(cache_dir)})
    return [trt, cuda, PROVIDER]


def _session_options(ort: Any, options: EngineOptions) -> Any:
    so = ort.SessionOptions()
    levels = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL, "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL}
    if options.graph_optimization not in levels:
        raise UsageError(f"graph optimisation {options.graph_optimization!r}: choose one of {', '.join(levels)}")
    so.graph_optimization_level = levels[options.graph_optimization]
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = options.intra_threads
    so.inter_op_num_threads = options.inter_threads
    # ORT would otherwise write warnings and errors to the terminal itself; the engine never prints.
    so.log_severity_level = log_severity()
    spin = "1" if options.allow_spinning else "0"
    so.add_session_config_entry("session.intra_op.allow_spinning", spin)
    so.add_session_config_entry("session.inter_op.allow_spinning", spin)
    if options.profile_prefix is not None:
        so.enable_profiling = True
        so.profile_file_prefix = options.profile_prefix
    return so


def _tensor_from_node_arg(arg: Any) -> TensorInfo:
    type_name = str(arg.type)
    if not type_name.startswith("tensor(") or type_name[7:-1] not in _ORT_TYPES:
        raise ModelError(f"model tensor {arg.name!r} has type {type_name}; vampy feeds and reads numeric tensors only")
    dtype = np.dtype(_ORT_TYPES[type_name[7:-1]])
    dims = list(arg.shape) if arg.shape is not None else []
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in dims)
    names = tuple(d if isinstance(d, str) else None for d in dims)
    return TensorInfo(arg.name, shape, dtype, names, rank_known=arg.shape is not None)



ENGINE = OrtEngine()
