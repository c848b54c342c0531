"""Compile checks itself: the built model against the float model it came from, on real samples.

After an fp16 or int8 build (or any build given --check_datalist), each sample goes through both
models on the Engine seam and every output is compared as `vampy diff` compares two runs
(vampy/quality/drift.py). The result is mod.json's `drift`: where the samples came from, the summary
per output, the worst samples by SNR and the --min_snr_db gate. The CLI raises GateFailed (exit 8)
after writing, so the model and its report are kept either way.

The samples are fed exactly as calibration feeds them (vdsp normalisation included), so the check
measures what quantization did to the numbers the model sees at run time.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import onnx

from vampy.compiler.calibration_data import Samples, calibration_samples
from vampy.compiler.common import BuildLog, graph_inputs
from vampy.config import CompileConfig
from vampy.config.diff import CompileCheck
from vampy.engines.base import EngineOptions, get_engine
from vampy.errors import InputError, VampyError
from vampy.progress import Progress
from vampy.quality.drift import Gates, TensorDrift, evaluate_gates, summarize, tensor_drift, worst_lines

REFERENCE_LABEL = "the float model it was built from (frontend.checkpoint at the compiled shapes), fp32"


def check_samples(cfg: CompileConfig, model: onnx.ModelProto, check: CompileCheck, log: BuildLog) -> tuple[Samples | None, str]:
    """The samples to check on and where they came from; (None, why not) when there are none."""
    if not check.enabled:
        return None, "turned off (--no_check)"
    scratch = BuildLog(warnings=[], notes=[])  # calibration already said what it had to say about these files
    if check.datalist is not None:
        try:
            return calibration_samples(replace(cfg, calib_datalist=check.datalist), model, scratch), f"--check_datalist {check.datalist}"
        except InputError as exc:
            # calibration's reader names its own flag; here the file came from --check_datalist
            raise InputError(str(exc).replace("--calib_datalist", "--check_datalist")) from None
    if cfg.precision == "fp32":
        return None, "fp32 is checked only with --check_datalist FILE"
    if cfg.calib_datalist is None and cfg.dataset is None:
        return None, "no samples: the YAML has no dataset; pass --check_datalist FILE (npz inputs)"
    origin = "the calibration samples" if cfg.precision == "int8" else "the YAML's dataset"
    try:
        return calibration_samples(cfg, model, scratch), origin
    except VampyError as exc:
        if cfg.precision == "int8":
            raise  # the build itself used these samples a moment ago
        return None, f"{origin} cannot feed this model ({exc}); pass --check_datalist FILE"


def used_by_check(cfg: CompileConfig, check: CompileCheck, samples: Samples | None) -> tuple[str, ...]:
    """The YAML keys and flags the check reads that the build itself does not (so no "not used" note for them)."""
    if samples is None:
        return ()
    if check.datalist is not None:
        return ("--vdsp_params",)
    return ("--vdsp_params", "dataset") if cfg.calib_datalist is None else ("--vdsp_params", "--calib_datalist")


def check_drift(reference: Path, built: Path, model: onnx.ModelProto, samples: Samples, origin: str, check: CompileCheck,
                progress: Progress) -> dict[str, Any]:
    """mod.json's `drift`: every sample through both models, every output compared."""
    options = EngineOptions(intra_threads=0)  # the runtime's own default threads: this is a check, not a measurement
    engine = get_engine()
    sessions = engine.open(reference, options), engine.open(built, options)
    per_feed = _files_per_feed(model, samples)
    records: list[TensorDrift] = []
    progress.start(f"checking drift against the float model ({samples.count} samples)", samples.count)
    for index in range(samples.count):
        feed = samples.make(index)
        ref_outputs, test_outputs = (session.run(feed) for session in sessions)
        name = " + ".join(samples.names[index * per_feed:(index + 1) * per_feed]) or f"sample {index}"
        records += [tensor_drift(r, t, index, name, f"output_{k}") for k, (r, t) in enumerate(zip(ref_outputs, test_outputs))]
        progress.advance()
    progress.finish()
    gates = evaluate_gates(records, Gates(min_snr_db=check.min_snr_db))
    return {
        "reference": REFERENCE_LABEL, "origin": origin, "samples": samples.count, "normalisation": samples.normalisation,
        "engine": _what_ran(sessions[1].info.to_dict()), "summary": summarize(records),
        "worst": [r.to_dict() for r in worst_lines(records, check.worst)], "gates": [g.to_dict() for g in gates],
    }


def _what_ran(info: dict[str, Any]) -> dict[str, Any]:
    """The session's identity without its build time, so two compiles of one model write the same drift."""
    return {key: info[key] for key in ("engine", "version", "device", "precision") if key in info}


def _files_per_feed(model: onnx.ModelProto, samples: Samples) -> int:
    """Files in one feed: the model's fixed batch (1 for a dynamic one), as calibration batches them."""
    dims = graph_inputs(model)[0].type.tensor_type.shape.dim
    batch = dims[0].dim_value if dims and dims[0].HasField("dim_value") else 1
    return max(1, min(batch, len(samples.names)))


def drift_line(drift: dict[str, Any]) -> str:
    """One line for the terminal: per output SNR mean / min and cosine min, then the worst sample."""
    from vampy.results.schema import json_float

    def figure(stats: dict[str, Any], key: str, fmt: str) -> str:
        value = json_float(stats.get(key))
        return "-" if value is None else (format(value, fmt) if abs(value) != float("inf") else str(value))

    parts = []
    for tensor, figures in drift["summary"].items():
        snr, cosine = figures.get("snr_db", {}), figures.get("cosine", {})
        parts.append(f"{tensor} SNR mean {figure(snr, 'mean', '.2f')} / min {figure(snr, 'min', '.2f')} dB, "
                     f"cosine min {figure(cosine, 'min', '.6f')}")
    worst = drift["worst"][0] if drift["worst"] else None
    tail = f"; worst: sample {worst['line']} {worst['path']} ({figure(worst, 'snr_db', '.2f')} dB)" if worst else ""
    return f"drift against the float model on {drift['samples']} sample(s) ({drift['origin']}): " + "; ".join(parts) + tail


__all__ = ["REFERENCE_LABEL", "check_drift", "check_samples", "drift_line", "used_by_check"]
