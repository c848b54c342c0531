"""The null engine: no runtime. Outputs of the model's declared shapes, after an optional fixed compute time.

What it is for: measuring vampy itself (queueing, feed building, timestamps, output writing: the
ceiling on what vampy can measure, as MLPerf LoadGen's null SUT measures LoadGen), and executor and
fault tests that need no runtime. It reads the model's signature with the onnx package alone
(models/graph.read_signature: external weights are never read) and computes nothing.

Output shapes, per distinct feed: a declared dim as declared; a symbolic dim that an input also
names (e.g. "batch", "height") as that input's size in the feed; any other unknown dim 0 as the
feed's batch (the first input's dim 0); any other unknown dim 1. An output of undeclared rank has
the first input's shape. Outputs are zeros of the declared dtype, fresh each request (a runtime
also hands back new arrays).
"""
from __future__ import annotations

import math
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vampy import __version__
from vampy.engines.base import Clock, EngineInfo, EngineOptions, check_engine_flags
from vampy.errors import InputError, ModelError, UsageError
from vampy.models.graph import read_signature
from vampy.models.info import ModelInfo, TensorInfo

NAME = "null"
PRECISION = "none"  # it computes nothing; "fp32" would claim arithmetic that never happened
# zlib checksums release the GIL on buffers over 5 KiB (CPython's zlibmodule): spinning on one keeps
# a core busy while the process's other instance threads run, as a runtime does inside `run`.
_SPIN_BUFFER = bytes(6 * 1024)

FeedKey = tuple[tuple[str, tuple[int, ...], np.dtype], ...]  # (input name, shape, dtype) per fed array


def spin(duration_ns: int, clock: Clock = time.perf_counter_ns) -> int:
    """Keep this core busy until `duration_ns` have passed on `clock`; the ns that passed (>= duration_ns).

    Busy, not sleeping: a sleep is rounded up by the OS timer (tens of us and more on a loaded
    machine) and frees the core, so it would stand for an I/O-bound model, not a compute-bound one.
    Resolution: one checksum of _SPIN_BUFFER past the deadline at most (about 2 us here).
    """
    start_ns = now_ns = clock()
    end_ns = start_ns + duration_ns
    while now_ns < end_ns:
        zlib.crc32(_SPIN_BUFFER)  # the work; the GIL is free meanwhile
        now_ns = clock()
    return now_ns - start_ns


def output_shapes(model: ModelInfo, feed: Mapping[str, np.ndarray]) -> list[tuple[int, ...]]:
    """The outputs' shapes for this feed, by the rule in the module's docstring."""
    sizes = _symbol_sizes(model.inputs, feed)
    first = next((np.shape(feed[t.name]) for t in model.inputs if t.name in feed), ())
    batch = int(first[0]) if len(first) > 0 else 1
    return [_output_shape(t, sizes, batch, tuple(int(d) for d in first)) for t in model.outputs]


def _symbol_sizes(inputs: Sequence[TensorInfo], feed: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Symbolic dim name -> its size in the feed; the first input that names it decides."""
    sizes: dict[str, int] = {}
    for tensor in inputs:
        shape = np.shape(feed[tensor.name]) if tensor.name in feed else ()
        if len(shape) != len(tensor.dim_names):
            continue
        for name, size in zip(tensor.dim_names, shape):
            if name is not None:
                sizes.setdefault(name, int(size))
    return sizes


def _output_shape(tensor: TensorInfo, sizes: Mapping[str, int], batch: int, first: tuple[int, ...]) -> tuple[int, ...]:
    if not tensor.rank_known:
        return first  # as an identity would give
    dims = []
    for index, (size, name) in enumerate(zip(tensor.shape, tensor.dim_names)):
        if size is not None:
            dims.append(size)
        elif name is not None and name in sizes:
            dims.append(sizes[name])
        else:
            dims.append(batch if index == 0 else 1)
    return tuple(dims)


def check_feed(model: ModelInfo, feed: Mapping[str, np.ndarray]) -> None:
    """Refuse, as a runtime would, a feed that misses or adds an input, or has a declared dim or a dtype
    other than the model's: a harness bug must not pass unseen because nothing is computed."""
    names = [t.name for t in model.inputs]
    if sorted(feed) != sorted(names):
        raise InputError(f"null engine: the feed has inputs {sorted(feed)}, the model takes {sorted(names)}")
    for tensor in model.inputs:
        array = feed[tensor.name]
        if np.dtype(array.dtype) != np.dtype(tensor.dtype):
            raise InputError(f"null engine: input {tensor.name!r} is {array.dtype}, the model takes {np.dtype(tensor.dtype)}")
        declared = tensor.shape
        fits = len(array.shape) == len(declared) and all(d is None or d == n for d, n in zip(declared, array.shape))
        if tensor.rank_known and not fits:
            raise InputError(f"null engine: input {tensor.name!r} has shape {list(array.shape)}, the model takes {list(declared)}")


class NullSession:
    """A Session that computes nothing: zeros of the declared output shapes after `compute_ns` busy."""

    def __init__(self, model: ModelInfo, info: EngineInfo, compute_ns: int, clock: Clock = time.perf_counter_ns) -> None:
        self.info = info
        self.output_names = tuple(t.name for t in model.outputs)
        self._model = model
        self._dtypes = tuple(np.dtype(t.dtype) for t in model.outputs)
        self._compute_ns = compute_ns
        self._clock = clock
        # Checked and shaped once per distinct feed: a run feeds one or a few shapes, over and over.
        self._shapes: dict[FeedKey, list[tuple[int, ...]]] = {}

    def run(self, feed: Mapping[str, np.ndarray]) -> Sequence[np.ndarray]:
        key = tuple([(name, array.shape, array.dtype) for name, array in feed.items()])  # a list first: faster than a generator
        shapes = self._shapes.get(key)
        if shapes is None:
            check_feed(self._model, feed)
            shapes = self._shapes.setdefault(key, output_shapes(self._model, feed))
        if self._compute_ns > 0:
            spin(self._compute_ns, self._clock)
        return [np.zeros(shape, dtype) for shape, dtype in zip(shapes, self._dtypes)]

    def end_profiling(self) -> str | None:
        return None  # nothing ran that a profile could show


@dataclass(frozen=True)
class NullEngine:
    name: str = NAME

    def version(self) -> str:
        return __version__  # the engine is vampy's own code

    def describe(self, path: Path) -> ModelInfo:
        info = read_signature(path)
        if info is None:
            raise ModelError(f"model {path}: not a readable ONNX file; the null engine reads the signature of ONNX graphs only")
        return info

    def check(self, options: EngineOptions) -> None:
        check_engine_flags(self.name, options.device, options.precision)
        if not (math.isfinite(options.null_compute_us) and options.null_compute_us >= 0):
            raise UsageError(f"--null_us {options.null_compute_us}: give the null engine's compute time per request in us, >= 0")

    def open(self, path: Path, options: EngineOptions) -> NullSession:
        self.check(options)
        if options.intra_threads < 0:
            raise UsageError(f"threads must be >= 0; got {options.intra_threads}")
        t_build = time.perf_counter()
        model = self.describe(path)
        compute_ns = round(options.null_compute_us * 1000)
        info = EngineInfo(self.name, self.version(), "cpu", PRECISION, options.intra_threads, build_s=time.perf_counter() - t_build)
        return NullSession(model, info, compute_ns)


ENGINE = NullEngine()
