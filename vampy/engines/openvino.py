"""OpenVINO on the CPU: the second Engine. `pip install 'vampy[openvino]'`.

Reads the same .onnx files as ONNX Runtime (fp32, and the int8 QDQ models `vampy compile`
writes, which OpenVINO runs with int8 kernels). One compiled model per (file, options) in a
process, with as many streams as the worker has instances; each `open` is one infer request on
it, so vampy's instances are OpenVINO's streams and `--threads` (per instance) times the streams
is its thread count. The precision reported is the compiled model's own INFERENCE_PRECISION_HINT
(bf16 by default on CPUs that have it), or int8 for a quantized graph.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from vampy.engines.base import EngineInfo, EngineOptions, check_engine_flags
from vampy.errors import MAX_REASON_CHARS, InputError, ModelError, UsageError
from vampy.formats.files import write_file
from vampy.models.graph import graph_precision, read_signature
from vampy.models.info import ModelInfo, TensorInfo
from vampy.models.resolve import read_sidecar

PRECISIONS = {"f32": "fp32", "bf16": "bf16", "f16": "fp16"}  # OpenVINO's spelling -> the report's
INSTALL_HINT = "pip install 'vampy[openvino]'"
_compile_lock = threading.Lock()


def _ov() -> Any:
    try:
        import openvino
    except ImportError:
        raise UsageError(f"--engine openvino needs the openvino package: {INSTALL_HINT}") from None
    return openvino


@lru_cache(maxsize=1)
def _core() -> Any:
    return _ov().Core()


_LOCKS: dict[int, threading.Lock] = {}


def _lock_of(compiled: Any) -> threading.Lock:
    """One lock per compiled model (the compiled models live in _compiled's cache for the process)."""
    with _compile_lock:
        return _LOCKS.setdefault(id(compiled), threading.Lock())


class OvSession:
    """One infer request on a shared compiled model, behind the Session protocol."""

    def __init__(self, compiled: Any, info: EngineInfo, profile_prefix: str | None) -> None:
        self.raw = compiled.create_infer_request()
        self.info = info
        self.output_names = tuple(o.get_any_name() for o in compiled.outputs)
        self._profile_prefix = profile_prefix
        self._node_us: dict[tuple[str, str], list[float]] = {}  # (node, op type) -> [total us, calls]
        self._inputs_lock = _lock_of(compiled)
        self._tensor = _ov().Tensor

    def run(self, feed: Mapping[str, np.ndarray]) -> Sequence[np.ndarray]:
        # Two requests of one compiled model resizing their input tensors at the same time (a
        # dynamic-shape model, instance threads of one worker) deadlocked inside OpenVINO 2026.4
        # about once in ten runs. Handing each request a fresh tensor, one request at a time,
        # avoids the resize; the inference itself still runs in parallel.
        tensors = {name: self._tensor(np.ascontiguousarray(array)) for name, array in feed.items()}
        with self._inputs_lock:
            for name, tensor in tensors.items():
                self.raw.set_tensor(name, tensor)
        self.raw.infer()
        if self._profile_prefix is not None:
            self._add_counters()
        return [np.array(self.raw.get_output_tensor(k).data, copy=True) for k in range(len(self.output_names))]

    def _add_counters(self) -> None:
        for counter in self.raw.profiling_info:
            if str(counter.status).endswith("EXECUTED"):
                entry = self._node_us.setdefault((counter.node_name, counter.node_type), [0.0, 0])
                entry[0] += counter.real_time.total_seconds() * 1e6
                entry[1] += 1

    def end_profiling(self) -> str | None:
        """OpenVINO's per-layer counters, summed over the requests, in ONNX Runtime's trace layout."""
        if self._profile_prefix is None:
            return None
        events = [{"cat": "Node", "name": f"{node}_kernel_time", "dur": total_us, "args": {"op_name": op, "calls": int(calls)}}
                  for (node, op), (total_us, calls) in self._node_us.items()]
        path = Path(f"{self._profile_prefix}_openvino_{time.strftime('%Y%m%d_%H%M%S')}.json")
        write_file(path, lambda fh: fh.write(json.dumps(events).encode("utf-8")))  # the one safe writer: never through a link
        return str(path)


@dataclass(frozen=True)
class OpenVinoEngine:
    name: str = "openvino"

    def version(self) -> str:
        return str(_ov().get_version())

    def describe(self, path: Path) -> ModelInfo:
        info = read_signature(path)
        if info is not None:
            return info
        model = self._read(path)  # an OpenVINO IR (.xml) or another format it reads
        inputs = tuple(_tensor(port) for port in model.inputs)
        outputs = tuple(_tensor(port) for port in model.outputs)
        return ModelInfo(path=path, inputs=inputs, outputs=outputs, metadata=read_sidecar(path))

    def check(self, options: EngineOptions) -> None:
        _ov()
        check_engine_flags(self.name, options.device, options.precision)

    def open(self, path: Path, options: EngineOptions) -> OvSession:
        self.check(options)
        if options.intra_threads < 0 or options.streams < 1:
            raise UsageError(f"threads must be >= 0 and streams >= 1; got threads {options.intra_threads}, streams {options.streams}")
        if not path.is_file():
            raise InputError(f"model {path}: no such file")
        key = (str(path), path.stat().st_mtime_ns, options.precision, options.intra_threads, options.streams,
               options.profile_prefix is not None)
        with _compile_lock:
            compiled, compile_s = _compiled(*key)
        return OvSession(compiled, self._info(path, compiled, options, compile_s), options.profile_prefix)

    def _read(self, path: Path) -> Any:
        if path.suffix.lower() == ".onnx" and read_signature(path) is None:
            # Not an ONNX protobuf: OpenVINO would go on to its other readers (TensorFlow's prints to stderr).
            raise ModelError(f"model {path}: not a readable ONNX file; export it again, or give an OpenVINO IR (.xml)")
        try:
            return _core().read_model(str(path))
        except Exception as exc:  # noqa: BLE001 - OpenVINO raises RuntimeError subclasses for any unreadable model
            raise ModelError(f"model {path}: OpenVINO cannot read it: {_reason(exc)}") from None

    def _info(self, path: Path, compiled: Any, options: EngineOptions, compile_s: float) -> EngineInfo:
        hint = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        precision = "int8" if graph_precision(path) == "int8" else PRECISIONS.get(hint, hint)
        threads = int(compiled.get_property("INFERENCE_NUM_THREADS"))
        per_stream = max(1, threads // max(1, int(compiled.get_property("NUM_STREAMS"))))
        return EngineInfo(self.name, self.version(), "cpu", precision, per_stream, ("CPU",), build_s=compile_s)


@lru_cache(maxsize=8)
def _compiled(path: str, mtime_ns: int, precision: str | None, threads: int, streams: int, profiling: bool) -> tuple[Any, float]:
    """One compiled model per file version and options in this process (its instances share it),
    and the seconds reading and compiling it took."""
    t0 = time.perf_counter()
    config: dict[str, Any] = {"NUM_STREAMS": streams, "PERF_COUNT": profiling}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads * streams
    if precision is not None:
        config["INFERENCE_PRECISION_HINT"] = precision
    model = OpenVinoEngine()._read(Path(path))
    try:
        return _core().compile_model(model, "CPU", config), time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - unsupported operators surface here
        raise ModelError(f"model {path}: OpenVINO cannot compile it for the CPU: {_reason(exc)}") from None


def _tensor(port: Any) -> TensorInfo:
    shape = port.get_partial_shape()
    dims = tuple(int(d.get_length()) if d.is_static else None for d in shape) if shape.rank.is_static else ()
    dtype = np.dtype(port.get_element_type().to_dtype())
    return TensorInfo(port.get_any_name(), dims, dtype, tuple(None for _ in dims), rank_known=shape.rank.is_static)


def _reason(exc: BaseException) -> str:
    """OpenVINO's messages start with source locations ("Exception from src/...", "Check '...' failed
    at ..."); the reason a user can act on is what follows them, kept on one line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reasons = [line for line in lines if not line.startswith(("Exception from ", "Check '", "[ GENERAL_ERROR ]"))]
    return " ".join(reasons or lines or [type(exc).__name__])[:MAX_REASON_CHARS]


ENGINE = OpenVinoEngine()
