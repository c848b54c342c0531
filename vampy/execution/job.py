"""A run described as data: what to run, on what input plan, which shards of datalist lines, when
to stop. Everything here is plain and picklable, so an executor can ship it to worker processes
(the local pool) or, later, to other machines, and every executor carries out the same job.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from vampy.data.inputs import InputPlan

from vampy.config import device_of

if TYPE_CHECKING:
    from vampy.config import RunConfig


@dataclass(frozen=True)
class DatalistTask:
    """One shard: datalist lines for one request group, as (output index, npz path) pairs."""

    items: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class StopRule:
    """When a run ends. Datalist runs end when every shard is done (neither bound applies)."""

    requests_per_process: int | None  # closed or open loop: requests each process serves; None: until duration_s
    duration_s: float | None
    request_timeout_s: float | None  # None: automatic, from the slowest warm-up request; 0: no watchdog


@dataclass(frozen=True)
class RunJob:
    model_path: str
    engine: str
    device: str
    device_id: int
    processes: int
    instances: int
    intra_threads: int
    plan: InputPlan
    stop: StopRule
    warmup_requests: int  # per instance, before the common start
    seed: int
    shards: tuple[DatalistTask, ...] = ()  # datalist mode: handed out on demand to whoever is free
    output_names: tuple[str, ...] = ()
    output_dir: str | None = None
    output_dtype: str = "model"
    profile_dir: str | None = None
    request_rate_per_s: float | None = None  # open loop: requests per second, per process
    arrival: str = "poisson"
    infer_precision: str | None = None  # the engine's compute precision where it has a choice
    auto_threads: bool = False  # no --threads: a cluster executor fits intra_threads to each node's CPUs

    @property
    def expected_samples(self) -> int | None:
        if self.shards:
            return sum(len(t.items) for t in self.shards)
        per_process = self.stop.requests_per_process
        return per_process * self.plan.batch_size * self.processes if per_process else None

    def with_shards(self, shards: tuple[DatalistTask, ...]) -> RunJob:
        return replace(self, shards=shards)


def choose_intra_threads(cfg: RunConfig, cores: int | None = None) -> int:
    """Threads per instance so that processes x instances x threads fits the cores (>= 1)."""
    if cfg.threads is not None:
        return cfg.threads
    available = cores if cores is not None else len(os.sched_getaffinity(0))
    return max(1, available // (cfg.processes * cfg.instances))


def job_from_config(
    cfg: RunConfig, model_path: str, plan: InputPlan, shards: tuple[DatalistTask, ...] = (), output_names: tuple[str, ...] = ()
) -> RunJob:
    """The job `vampy run` describes: -i/-p/-b/--threads, the stop rule, the open-loop rate."""
    per_process = cfg.samples_per_process
    requests = math.ceil(per_process / cfg.batch_size) if per_process is not None and not shards else None
    rate = cfg.rate_qps / (cfg.batch_size * cfg.processes) if cfg.rate_qps and not shards else None
    return RunJob(
        model_path=model_path, engine=cfg.engine, device=device_of(cfg.provider), device_id=cfg.device_id,
        processes=cfg.processes, instances=cfg.instances, intra_threads=choose_intra_threads(cfg), plan=plan,
        stop=StopRule(requests, None if shards else cfg.duration_s, cfg.request_timeout_s),
        warmup_requests=cfg.warmup_requests, seed=cfg.seed, shards=shards, output_names=output_names,
        output_dir=cfg.path_output, output_dtype=cfg.output_dtype, profile_dir=cfg.profile_dir,
        request_rate_per_s=rate, arrival=cfg.arrival, infer_precision=cfg.infer_precision, auto_threads=cfg.threads is None,
    )
