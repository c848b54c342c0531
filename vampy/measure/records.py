"""What a run measures, raw: one row of integer timestamps per request, per worker, per run.

Executors fill these; measure/summary.py turns them into statistics afterwards (house rule 3).
Plain data, so records travel back from worker processes (and, later, other machines) as they are.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vampy.measure.monitor import ResourceSummary

# One row per request. queue = start - arrival, preprocess = model_start - start,
# model = model_end - model_start, output = end - model_end; e2e = end - arrival is their sum.
# On a device (a GPU session), the model span splits further as trtexec splits it:
# host-to-device = compute_start - model_start, compute = compute_end - compute_start,
# device-to-host = model_end - compute_end. Both are 0 where the session has no such split (CPU).
COLUMNS = ("arrival_ns", "start_ns", "model_start_ns", "model_end_ns", "end_ns", "samples", "compute_start_ns", "compute_end_ns")



class Recorder:
    """Preallocated per-thread record; grows (outside the timed span) only in duration mode."""

    def __init__(self, capacity: int) -> None:
        self.rows = np.zeros((max(1, capacity), len(COLUMNS)), np.int64)
        self.n = 0

    def add(self, arrival_ns: int, start_ns: int, model_start_ns: int, model_end_ns: int, end_ns: int, samples: int,
            compute_ns: tuple[int, int] = (0, 0)) -> None:
        """compute_ns: (compute_start, compute_end) inside the model span, (0, 0) without a device split."""
        if self.n == self.rows.shape[0]:
            self.rows = np.concatenate([self.rows, np.zeros_like(self.rows)])
        self.rows[self.n] = (arrival_ns, start_ns, model_start_ns, model_end_ns, end_ns, samples, *compute_ns)
        self.n += 1

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: self.rows[: self.n, k].copy() for k, name in enumerate(COLUMNS)}



@dataclass
class WorkerResult:
    worker_index: int
    pid: int
    columns: dict[str, np.ndarray]  # COLUMNS, one entry per request
    instance: np.ndarray
    warmup_e2e_ns: np.ndarray
    warmup_model_ns: np.ndarray
    failures: list[tuple[int, str, str]] = field(default_factory=list)  # (index, path, reason)
    outputs_written: int = 0
    stopped_early: bool = False
    profile_files: list[str] = field(default_factory=list)
    fatal_output_error: str | None = None  # the output folder refused files: the run stopped
    engine: dict[str, Any] | None = None  # EngineInfo.to_dict() of this worker's sessions: what actually ran


@dataclass
class RawRun:
    """Everything measured, unprocessed: statistics are computed afterwards (stats.py)."""

    results: list[WorkerResult]
    failed_workers: list[tuple[int, str]]  # (worker index, what happened)
    resources: ResourceSummary
    intra_threads: int
    interrupted: str | None  # what stopped the run early, None when nothing did
    expected_samples: int | None
    setup_s: float
    notes: list[str] = field(default_factory=list)
    cluster: dict[str, Any] | None = None  # a cluster executor's account: address, nodes, what was lost
