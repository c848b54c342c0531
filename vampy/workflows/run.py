"""`vampy run` as a library call: prepare (fail fast, before any process starts), then execute."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from vampy.config.run import RunConfig
from vampy.data.inputs import InputPlan, build_plan, synthetic_tokens_note
from vampy.engines.base import DEFAULT_ENGINE, EngineOptions, get_engine
from vampy.execution.executor import Executor, connect_cluster, local_executor, ray_executor
from vampy.execution.job import DatalistTask, RunJob, job_from_options
from vampy.formats.files import make_output_dir
from vampy.measure.records import COLUMNS, RawRun
from vampy.measure.summary import RunFacts
from vampy.models.graph import gather_index_bounds
from vampy.models.info import ModelInfo
from vampy.models.resolve import resolve_model
from vampy.progress import Progress
from vampy.results.schema import RunReport


@dataclass(frozen=True)
class PreparedRun:
    """A checked run: the config, the model's signature, and the job an executor carries out."""

    cfg: RunConfig
    model_path: Path
    info: ModelInfo
    job: RunJob
    datalist_lines: int = 0
    skipped: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def plan(self) -> InputPlan:
        return self.job.plan

    @property
    def tasks(self) -> tuple[DatalistTask, ...]:
        return self.job.shards


def prepare(cfg: RunConfig) -> PreparedRun:
    """Resolve the model, read the vdsp file, check every input shape: all before spawning."""
    from vampy.formats.vdsp import load_vdsp

    if cfg.ray_address is not None:
        connect_cluster(cfg.ray_address)  # an unreachable cluster fails here, before any work
    if cfg.outputs.profile_dir is not None:
        make_output_dir(Path(cfg.outputs.profile_dir), "--profile")
    choice = cfg.engine
    engine = get_engine(choice.engine)
    engine.check(EngineOptions(device=choice.device, device_id=choice.device_id, precision=choice.infer_precision,
                               null_compute_us=choice.null_compute_us))
    model_path = resolve_model(cfg.model)
    info = engine.describe(model_path)
    spec = load_vdsp(cfg.inputs.vdsp_params) if cfg.inputs.vdsp_params else None
    notes = _notes(cfg, info)
    output_names = tuple(t.name for t in info.outputs)
    tasks: tuple[DatalistTask, ...] = ()
    lines = skipped = 0
    # Which ids each token input may take (its embedding's rows): synthetic ids and the data's are kept within them.
    index_bounds = gather_index_bounds(model_path)
    match = None
    if cfg.data.datalist is not None:
        from vampy.workflows.run_datalist import first_sample_match, prepare_tasks

        tasks, lines, skipped = prepare_tasks(cfg.data, cfg.inputs.batch_size, info)
        match = first_sample_match(tasks, info, index_bounds)
        if cfg.inputs.shapes is None and match is not None:
            # Warm-up and the shape check use the data set's own first sample, not a guess.
            cfg = replace(cfg, inputs=replace(cfg.inputs, shapes=match.shapes))
    plan = build_plan(cfg.inputs, spec, info, index_bounds, match)
    notes += [*plan.notes, *filter(None, [synthetic_tokens_note(plan)])]
    job = job_from_options(
        str(model_path), plan, cfg.inputs.seed, cfg.load, cfg.engine, cfg.data, cfg.outputs.profile_dir, tasks, output_names,
    )
    return PreparedRun(cfg, model_path, info, job, lines, skipped, notes)


def _notes(cfg: RunConfig, info: ModelInfo) -> list[str]:
    notes: list[str] = []
    if cfg.engine.device_id != 0 and cfg.engine.device == "cpu":
        notes.append(f"-d {cfg.engine.device_id}: vampy runs on the CPU; the device id is only recorded")
    token_dtype = cfg.inputs.token_dtype
    if token_dtype is not None:
        notes += [
            f"--dtype {token_dtype}: tokens for '{t.name}' are made as {token_dtype} and fed as the model's {np.dtype(t.dtype).name}"
            for t in info.inputs
            if np.dtype(t.dtype).kind in "iu" and np.dtype(t.dtype).name != token_dtype
        ]
    return notes


def execute(prepared: PreparedRun, progress: Progress, executor: Executor | None = None) -> RunReport:
    """Carry out the prepared job (on the local pool unless an executor is given) and summarise it."""
    from vampy.measure.summary import summarize

    cfg = prepared.cfg
    if executor is None:
        executor = ray_executor(cfg.ray_address) if cfg.ray_address is not None else local_executor()
    raw = executor.execute(prepared.job, progress)
    datalist = None
    if cfg.data.datalist is not None:
        from vampy.workflows.run_datalist import finish_datalist

        datalist = finish_datalist(cfg.data, raw, prepared.datalist_lines, prepared.skipped)
    profile = _profile(raw) if cfg.outputs.profile_dir is not None else None
    report = summarize(
        raw, run_facts(cfg), prepared.info, prepared.plan, list(prepared.notes), datalist, profile,
    )
    if cfg.outputs.export_times is not None:
        _export_times(raw, cfg.outputs.export_times)
    return report


def run_facts(cfg: RunConfig) -> RunFacts:
    load = cfg.load
    return RunFacts(
        cfg.to_dict(), cfg.engine.engine, load.processes, load.instances, load.rate_qps, load.arrival, load.warmup_requests,
        cfg.outputs.percentiles,
    )


def _profile(raw: RawRun) -> dict[str, Any]:
    from vampy.measure.profiling import summarize_profiles

    result = summarize_profiles([f for r in raw.results for f in r.profile_files])
    engine = next((r.engine["engine"] for r in raw.results if r.engine), DEFAULT_ENGINE)
    profiler = {"onnxruntime": "ONNX Runtime's profiler", "openvino": "OpenVINO's per-layer counters"}.get(engine, f"{engine}'s profiler")
    result["note"] = f"{profiler} was on: it slows every request; the figures include its cost, and the traces include warm-up"
    return result


def _export_times(raw: RawRun, path: str) -> None:
    from vampy.formats.files import write_bytes_atomic
    from vampy.measure.timesheet import to_text

    columns = {name: np.concatenate([r.columns[name] for r in raw.results]) if raw.results else np.zeros(0, np.int64) for name in COLUMNS}
    columns["worker"] = (np.concatenate([np.full(r.instance.size, r.worker_index, np.int64) for r in raw.results])
                         if raw.results else np.zeros(0, np.int64))
    columns["instance"] = np.concatenate([r.instance for r in raw.results]) if raw.results else np.zeros(0, np.int64)
    target = Path(path)
    write_bytes_atomic(target.parent, target.name, to_text(columns, target).encode("utf-8"))

