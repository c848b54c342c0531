"""A run described as data: what to run, on what input plan, which shards of datalist lines, when
to stop. Everything here is plain and picklable, so an executor can ship it to worker processes
(the local pool) or, later, to other machines, and every executor carries out the same job.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from vampy.data.inputs import InputPlan

if TYPE_CHECKING:
    from vampy.config.run import DatalistOptions, EngineChoice, LoadOptions


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
    null_compute_us: float = 0.0  # --engine null: the fixed compute time per request

    @property
    def expected_samples(self) -> int | None:
        if self.shards:
            return sum(len(t.items) for t in self.shards)
        per_process = self.stop.requests_per_process
        return per_process * self.plan.batch_size * self.processes if per_process else None

    def with_shards(self, shards: tuple[DatalistTask, ...]) -> RunJob:
        return replace(self, shards=shards)


def job_from_options(
    model_path: str, plan: InputPlan, seed: int, load: LoadOptions, engine: EngineChoice, data: DatalistOptions,
    profile_dir: str | None = None, shards: tuple[DatalistTask, ...] = (), output_names: tuple[str, ...] = (),
) -> RunJob:
    """The job `vampy run` describes: -i/-p/-b/--threads, the stop rule, the open-loop rate."""
    per_process = load.samples_per_process
    batch = plan.batch_size
    requests = math.ceil(per_process / batch) if per_process is not None and not shards else None
    rate = load.rate_qps / (batch * load.processes) if load.rate_qps and not shards else None
    return RunJob(
        model_path=model_path, engine=engine.engine, device=engine.device, device_id=engine.device_id,
        processes=load.processes, instances=load.instances, intra_threads=engine.intra_threads(load.processes * load.instances),
        plan=plan, stop=StopRule(requests, None if shards else load.duration_s, load.request_timeout_s),
        warmup_requests=load.warmup_requests, seed=seed, shards=shards, output_names=output_names,
        output_dir=data.path_output, output_dtype=data.output_dtype, profile_dir=profile_dir,
        request_rate_per_s=rate, arrival=load.arrival, infer_precision=engine.infer_precision, auto_threads=engine.threads is None,
        null_compute_us=engine.null_compute_us,
    )
