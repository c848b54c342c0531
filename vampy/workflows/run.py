"""`vampy run` as a library call: prepare (fail fast, before any process starts), then execute."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from vampy.config import RunConfig
from vampy.data.inputs import InputPlan, build_plan
from vampy.models.graph import ModelInfo, describe_model, resolve_model
from vampy.progress import Progress
from vampy.report.schema import RunReport
from vampy.formats.files import make_output_dir
from vampy.execution.pool import RawRun
from vampy.execution.worker import COLUMNS, DatalistTask


@dataclass(frozen=True)
class PreparedRun:
    cfg: RunConfig
    model_path: Path
    info: ModelInfo
    plan: InputPlan
    tasks: tuple[DatalistTask, ...] = ()
    datalist_lines: int = 0
    skipped: int = 0
    notes: list[str] = field(default_factory=list)


def prepare(cfg: RunConfig) -> PreparedRun:
    """Resolve the model, read the vdsp file, check every input shape: all before spawning."""
    from vampy.formats.vdsp import load_vdsp

    if cfg.profile_dir is not None:
        make_output_dir(Path(cfg.profile_dir), "--profile")
    model_path = resolve_model(cfg.model)
    info = describe_model(model_path)
    spec = load_vdsp(cfg.vdsp_params) if cfg.vdsp_params else None
    notes: list[str] = []
    if cfg.device_id != 0:
        notes.append(f"-d {cfg.device_id}: vampy runs on the CPU; the device id is only recorded")
    if cfg.token_dtype is not None:
        notes += [
            f"--dtype {cfg.token_dtype}: tokens for '{t.name}' are made as {cfg.token_dtype} and fed as the model's {np.dtype(t.dtype).name}"
            for t in info.inputs
            if np.dtype(t.dtype).kind in "iu" and np.dtype(t.dtype).name != cfg.token_dtype
        ]
    if cfg.datalist is None:
        return PreparedRun(cfg, model_path, info, build_plan(cfg, spec, info), notes=notes)
    from vampy.execution.datalist_task import first_input_shapes, prepare_tasks

    tasks, lines, skipped = prepare_tasks(cfg, info)
    if cfg.shapes is None:
        # Warm-up and the shape check use the data set's own first sample, not a guess.
        cfg = replace(cfg, shapes=first_input_shapes(tasks, len(info.inputs)))
    return PreparedRun(cfg, model_path, info, build_plan(cfg, spec, info), tasks, lines, skipped, notes)


def execute(prepared: PreparedRun, progress: Progress) -> RunReport:
    from vampy.execution import pool as loadgen
    from vampy.measure.summary import summarize

    cfg = prepared.cfg
    output_names = tuple(t.name for t in prepared.info.outputs)
    raw = loadgen.run(cfg, str(prepared.model_path), prepared.plan, progress, prepared.tasks, output_names)
    datalist = None
    if cfg.datalist is not None:
        from vampy.execution.datalist_task import finish_datalist

        datalist = finish_datalist(cfg, raw, prepared.datalist_lines, prepared.skipped)
    profile = _profile(raw) if cfg.profile_dir is not None else None
    report = summarize(raw, cfg, prepared.info, prepared.plan, list(prepared.notes), datalist, profile)
    if cfg.export_times is not None:
        _export_times(raw, cfg.export_times)
    return report


def _profile(raw: RawRun) -> dict[str, Any]:
    from vampy.measure.profiling import summarize_profiles

    result = summarize_profiles([f for r in raw.results for f in r.profile_files])
    result["note"] = "ONNX Runtime's profiler was on: it slows every request; the figures include its cost, and the traces include warm-up"
    return result


def _export_times(raw: RawRun, path: str) -> None:
    from vampy.formats.files import write_bytes_atomic
    from vampy.measure.timesheet import to_text

    columns = {name: np.concatenate([r.columns[name] for r in raw.results]) if raw.results else np.zeros(0, np.int64) for name in COLUMNS}
    columns["worker"] = np.concatenate([np.full(r.instance.size, r.worker_index, np.int64) for r in raw.results]) if raw.results else np.zeros(0, np.int64)
    columns["instance"] = np.concatenate([r.instance for r in raw.results]) if raw.results else np.zeros(0, np.int64)
    target = Path(path)
    write_bytes_atomic(target.parent, target.name, to_text(columns, target).encode("utf-8"))

