"""`vampy sweep`'s config: the run every point shares, the space of points, the engines searched.

The search itself is vampy/workflows/sweep.py; these are only the flags' values, checked once.
"""
from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vampy.config.run import RunConfig
from vampy.engines.base import DEFAULT_ENGINE, ENGINES, OPENVINO_PRECISIONS, check_engine_flags
from vampy.errors import UsageError

_VALUES = re.compile(r"^\s*\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*\s*$")
MAX_VALUES = {"instances": 256, "processes": 256, "batch": 4096, "threads": 1024}
FLAGS = {"instances": "--instances", "processes": "--processes", "batch": "--batch", "threads": "--threads"}
DIMENSIONS = ("instances", "processes", "batch", "threads")  # Point's field order, the grid's order
MAX_BATCH = 64
DEFAULT_POINT_DURATION_S = 4.0


def parse_engines(text: str) -> tuple[tuple[str, str], ...]:
    """`onnxruntime,openvino:bf16,openvino:f32` -> ((engine, precision or ""), ...), each checked."""
    specs: list[tuple[str, str]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            raise UsageError(f"--engines {text!r}: an empty entry; give e.g. onnxruntime,openvino or openvino:bf16,openvino:f32")
        engine, _, precision = item.partition(":")
        try:
            check_engine_flags(engine, None, precision or None)
        except UsageError:
            raise UsageError(
                f"--engines {item}: give an engine ({', '.join(ENGINES)}), with a precision only for openvino "
                f"({', '.join(OPENVINO_PRECISIONS)}), e.g. onnxruntime,openvino:bf16,openvino:f32"
            ) from None
        if (engine, precision) in specs:
            raise UsageError(f"--engines {text!r}: {item} is listed twice")
        specs.append((engine, precision))
    return tuple(specs)


def parse_values(text: str, dim: str) -> tuple[int, ...] | None:
    """`auto` -> None; `1,2,4` or `1-4` or `1-2,8` -> the sorted distinct values."""
    flag = FLAGS[dim]
    if text.strip().lower() == "auto":
        return None
    if not _VALUES.match(text):
        raise UsageError(f"{flag} {text!r}: give auto, a list such as 1,2,4, or a range such as 1-4")
    values: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        a, b = int(low), int(high or low)
        if a > b:
            raise UsageError(f"{flag} {text!r}: the range {a}-{b} runs backwards; write {b}-{a}")
        if a < 1 or b > MAX_VALUES[dim]:
            raise UsageError(f"{flag} {text!r}: values must be between 1 and {MAX_VALUES[dim]}")
        values.update(range(a, b + 1))
    return tuple(sorted(values))


def _ladder(limit: int, steps: Sequence[int]) -> tuple[int, ...]:
    return tuple(v for v in steps if v <= limit)


def auto_ladder(dim: str, cores: int) -> tuple[int, ...]:
    """The values `auto` climbs, bounded by the machine: instances up to 2x cores (at least 4),
    processes up to the cores (at least 2), threads powers of two up to the cores (and the cores
    themselves), batch powers of two up to MAX_BATCH."""
    dense = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256]
    if dim == "instances":
        return _ladder(max(4, 2 * cores), dense)
    if dim == "processes":
        return _ladder(max(2, cores), dense)
    if dim == "threads":
        return tuple(sorted({v for v in (1 << k for k in range(11)) if v <= cores} | {max(1, cores)}))
    return _ladder(MAX_BATCH, [1 << k for k in range(13)])


@dataclass(frozen=True)
class SweepSpace:
    """Per dimension the values to try; None means `auto`."""

    instances: tuple[int, ...] | None = None
    processes: tuple[int, ...] | None = None
    batch: tuple[int, ...] | None = None
    threads: tuple[int, ...] | None = None

    @property
    def auto(self) -> bool:
        return any(getattr(self, d) is None for d in DIMENSIONS)

    def ladders(self, cores: int, fixed_batch: int | None = None) -> dict[str, tuple[int, ...]]:
        out: dict[str, tuple[int, ...]] = {}
        for dim in DIMENSIONS:
            given: tuple[int, ...] | None = getattr(self, dim)
            out[dim] = given if given is not None else auto_ladder(dim, cores)
        if fixed_batch is not None:
            if self.batch is None:
                out["batch"] = (fixed_batch,)
            elif set(self.batch) != {fixed_batch}:
                raise UsageError(
                    f"--batch {','.join(map(str, self.batch))}: the model's batch dimension is fixed at {fixed_batch}; "
                    f"give --batch {fixed_batch} (or auto), or a model with a dynamic batch dimension"
                )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {d: (list(v) if (v := getattr(self, d)) is not None else "auto") for d in DIMENSIONS}


@dataclass(frozen=True)
class SweepConfig:
    """`vampy sweep`: the run every point shares (model, input, stop rule) and the space."""

    base: RunConfig
    space: SweepSpace = field(default_factory=SweepSpace)
    max_p99_ms: float | None = None
    csv_path: str | None = None
    json_path: str | None = None
    plot_path: str | None = None
    strategy: str | None = None  # "auto" | "grid"; None: auto when any dimension is auto
    engines: tuple[tuple[str, str], ...] = ((DEFAULT_ENGINE, ""),)  # (engine, infer precision or ""), searched one after the other
    ray_address: str | None = None  # --ray: each point on a node of this Ray cluster, one point per node at a time
    # --accuracy_datalist + --min_snr_db: each engine is checked on this data against the reference model
    # (default: the swept one) on ONNX Runtime; an engine under the gate cannot win (workflows/sweep_accuracy.py).
    accuracy_datalist: str | None = None
    min_snr_db: float | None = None
    reference_model: str | None = None

    @property
    def auto(self) -> bool:
        return self.strategy == "auto" or (self.strategy is None and self.space.auto)

    def __post_init__(self) -> None:
        if self.strategy not in (None, "auto", "grid"):
            raise UsageError(f"--search {self.strategy}: choose auto (climb) or grid (every combination)")
        if self.max_p99_ms is not None and not 0 < self.max_p99_ms < math.inf:
            raise UsageError(f"--max_p99_ms {self.max_p99_ms}: give a positive number of milliseconds")
        if self.ray_address is not None and (not self.ray_address.strip() or any(c.isspace() for c in self.ray_address)):
            raise UsageError(f"--ray {self.ray_address!r}: give the cluster's address as HOST:PORT, ray://HOST:PORT or auto")
        if (self.accuracy_datalist is None) != (self.min_snr_db is None):
            raise UsageError("--accuracy_datalist and --min_snr_db go together: the data each engine is checked on, and the gate")
        if self.reference_model is not None and self.accuracy_datalist is None:
            raise UsageError("--reference_model is the accuracy check's reference: add --accuracy_datalist and --min_snr_db")
        if self.accuracy_datalist is not None and self.ray_address is not None:
            raise UsageError("--accuracy_datalist with --ray: the check runs on this machine only for now; drop one of them")
        if self.base.data.datalist is not None:
            raise UsageError("--datalist: sweep measures performance on synthetic input; run the data set with `vampy run --datalist`")
        named = [(f, p) for f, p in (("--csv", self.csv_path), ("--json", self.json_path), ("--plot", self.plot_path)) if p]
        for (f1, p1), (f2, p2) in itertools.combinations(named, 2):
            if Path(p1).resolve() == Path(p2).resolve():
                raise UsageError(f"{f1} and {f2} both name {p1}; give two files")
