"""The Executor seam: a run is data (RunJob) that any executor carries out; the local pool is the first."""
from __future__ import annotations

import pickle
from dataclasses import FrozenInstanceError
from pathlib import Path

import numpy as np
import pytest

from tests.support.configs import perf_config
from vampy.execution.executor import local_executor
from vampy.execution.job import DatalistTask, RunJob, StopRule, job_from_options
from vampy.measure.records import RawRun
from vampy.progress import NullProgress
from vampy.workflows.run import execute, prepare


def test_prepared_job_is_plain_data_that_survives_pickling(tmp_path: Path) -> None:
    prepared = prepare(perf_config(tmp_path, instances=2, processes=2, batch_size=2))
    job = prepared.job
    assert isinstance(job, RunJob) and job.engine == "onnxruntime" and job.intra_threads == 1
    assert job.stop == StopRule(requests_per_process=3, duration_s=None, request_timeout_s=None)
    assert job.expected_samples == 3 * 2 * 2  # requests x batch x processes
    assert pickle.loads(pickle.dumps(job)) == job  # what an executor ships to another process or machine
    with pytest.raises(FrozenInstanceError):
        job.seed = 1  # type: ignore[misc]


def test_datalist_shards_replace_the_request_count(tmp_path: Path) -> None:
    cfg = perf_config(tmp_path, duration_s=5.0, iterations=None)
    prepared = prepare(cfg)
    shards = (DatalistTask(((0, "a.npz"), (1, "b.npz"))), DatalistTask(((2, "c.npz"),)))
    job = job_from_options(str(prepared.model_path), prepared.plan, 0, cfg.load, cfg.engine, cfg.data, shards=shards)
    assert job.stop.requests_per_process is None and job.stop.duration_s is None  # shards end the run
    assert job.expected_samples == 3 and job.with_shards(()).shards == ()


class RecordingExecutor:
    """A real executor (the local pool underneath) that keeps the jobs it was handed."""

    name = "recording"

    def __init__(self) -> None:
        self.jobs: list[RunJob] = []

    def execute(self, job: RunJob, progress: object) -> RawRun:
        self.jobs.append(job)
        return local_executor().execute(job, progress)  # type: ignore[arg-type]


def test_run_goes_through_the_executor_it_is_given(tmp_path: Path) -> None:
    prepared = prepare(perf_config(tmp_path))
    executor = RecordingExecutor()
    report = execute(prepared, NullProgress(), executor)
    assert executor.jobs == [prepared.job]
    assert report.complete and report.samples == 6
    assert report.engine is not None and report.engine["engine"] == "onnxruntime" and report.engine["precision"] == "fp32"
    assert report.engine["intra_threads"] == 1 and report.engine["device"] == "cpu"


def test_local_pool_runs_a_hand_built_job(tmp_path: Path) -> None:
    prepared = prepare(perf_config(tmp_path))
    raw = local_executor().execute(prepared.job, NullProgress())
    assert [int(np.sum(r.columns["samples"])) for r in raw.results] == [6]
    assert raw.failed_workers == [] and raw.interrupted is None
    assert raw.results[0].engine is not None and raw.results[0].engine["providers"] == ["CPUExecutionProvider"]
