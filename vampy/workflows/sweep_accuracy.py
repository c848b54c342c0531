"""`vampy sweep --accuracy_datalist DL --min_snr_db X`: each engine (and precision) the sweep searches
is checked once on real data before its points count.

The reference is ONNX Runtime on the CPU running `--reference_model` (default: the swept model) in
its own precision; each engine of `--engines` runs the same datalist, and `vampy diff`'s figures
(quality/drift.py) compare every line's outputs. An engine whose lowest SNR over the data falls under
the gate keeps its measured points in the table, marked, but none of them can win.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from vampy.config.diff import DiffConfig
from vampy.config.run import RunConfig
from vampy.config.sweep import SweepConfig
from vampy.engines.base import DEFAULT_ENGINE
from vampy.errors import PartialResult
from vampy.progress import NullProgress
from vampy.workflows.sweep import engine_label


@dataclass(frozen=True)
class AccuracyCheck:
    """One engine's outputs on the accuracy datalist against the reference's."""

    engine: str
    infer_precision: str
    min_snr_db: float  # the lowest SNR of any line and output (inf: identical outputs)
    mean_snr_db: float
    passed: bool

    @property
    def label(self) -> str:
        return engine_label(self.engine, self.infer_precision)


def check_engines(cfg: SweepConfig) -> dict[tuple[str, str], AccuracyCheck]:
    """Every (engine, precision) of --engines checked against the reference on --accuracy_datalist."""
    assert cfg.accuracy_datalist is not None and cfg.min_snr_db is not None
    with tempfile.TemporaryDirectory(prefix="vampy-sweep-accuracy-") as folder:
        reference = Path(folder) / "reference"
        _outputs(cfg, cfg.reference_model or cfg.base.model, DEFAULT_ENGINE, "", reference)
        checks = {}
        for engine, precision in cfg.engines:
            test = Path(folder) / f"{engine}-{precision or 'default'}"
            _outputs(cfg, cfg.base.model, engine, precision, test)
            checks[(engine, precision)] = _compare(cfg, reference, test, engine, precision)
    return checks


def _outputs(cfg: SweepConfig, model: str, engine: str, precision: str, folder: Path) -> None:
    """The datalist's outputs of one engine, written by a real `vampy run --datalist` (one instance)."""
    from vampy.workflows.run import execute, prepare

    run = RunConfig.flat(
        model, vdsp_params=cfg.base.inputs.vdsp_params, seed=cfg.base.inputs.seed, token_dtype=cfg.base.inputs.token_dtype,
        datalist=cfg.accuracy_datalist, path_output=str(folder), engine=engine, infer_precision=precision or None,
    )
    report = execute(prepare(run), NullProgress())
    if report.datalist and report.datalist["failures"]:
        first = report.datalist["failures"][0]
        raise PartialResult(
            f"--accuracy_datalist: {len(report.datalist['failures'])} line(s) failed on {engine_label(engine, precision)} "
            f"(line {first['index']}: {first['reason']}); fix the data or drop the engine"
        )


def _compare(cfg: SweepConfig, reference: Path, test: Path, engine: str, precision: str) -> AccuracyCheck:
    from vampy.workflows.diff import diff_outputs

    assert cfg.accuracy_datalist is not None and cfg.min_snr_db is not None
    report = diff_outputs(DiffConfig(str(reference), str(test), cfg.accuracy_datalist, worst=0, min_snr_db=cfg.min_snr_db))
    snr = [float(r["snr_db"]) for r in report.records]
    lowest = min(snr) if snr else float("inf")
    mean = sum(snr) / len(snr) if snr else float("inf")
    return AccuracyCheck(engine, precision, lowest, mean, passed=not report.failed_gates and report.complete)
