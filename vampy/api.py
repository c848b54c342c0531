"""vampy as a Python library: `vampy.run`, `vampy.evaluate`, `vampy.compile`, `vampy.sweep`, `vampy.infer`.

Each function takes its command's CLI flags as keyword arguments (the long flag names, the CLI's
defaults), builds the same frozen config the CLI builds (the `*_config` builders below are the
ones `vampy/cli` calls) and returns the report object whose `to_dict()` is what `--json` writes
for the same command line. Nothing is printed: progress goes to an optional `progress=` object
(vampy.progress.Progress) and every problem is a VampyError subclass whose `exit_code` is the
CLI's. Where the CLI would exit non-zero after a finished run (failed workers, failed datalist
lines or images) the error carries the report as `exc.report`; `check=False` returns it instead.

Only light modules are imported at the top (config, errors): the engine, ONNX Runtime and OpenCV
are imported inside the functions, so `import vampy` and `vampy --help` stay fast. Docs: docs/api.md.
"""
from __future__ import annotations

import json as _json
import numbers
import os
from typing import TYPE_CHECKING, Any, Sequence, Union

from vampy.config import EvalConfig, InferConfig, RunConfig
from vampy.errors import OutputError, PartialResult, UsageError, WorkerError

if TYPE_CHECKING:
    from vampy.progress import Progress
    from vampy.report.schema import CompileResult, EvalPresetReport, EvalReport, InferPresetReport, InferReport, RunReport
    from vampy.workflows.sweep import Measurement, Point, SweepConfig, SweepResult
    from vampy.workflows.sweep_run import SweepReport

__all__ = ["compile", "evaluate", "infer", "run", "sweep"]

PathArg = Union[str, "os.PathLike[str]"]
# "3,256,256" / "[3,256,256]" / "[[1,512],[1,512]]" as -s takes it, (3, 256, 256), or [(1, 512), (1, 512)].
ShapeArg = Union[str, Sequence[int], Sequence[Sequence[int]]]
# Sweep dimensions: "auto", "1,2,4", "1-4", 2 or (1, 2, 4).
ValuesArg = Union[str, int, Sequence[int]]


# --- flag values -> config values (shared with vampy/cli) ---


def _path(name: str, value: PathArg | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    raise UsageError(f"{name}={value!r}: give a path (str or pathlib.Path)")


def _required_path(name: str, value: PathArg) -> str:
    path = _path(name, value)
    if path is None:
        raise UsageError(f"{name}: required, give a path")
    return path


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UsageError(f"{name}={value!r}: give a whole number")
    return int(value)


def _opt_int(name: str, value: Any) -> int | None:
    return None if value is None else _int(name, value)


def _opt_float(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UsageError(f"{name}={value!r}: give a number")
    return float(value)


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{name}={value!r}: give True or False")
    return value


def _opt_str(name: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise UsageError(f"{name}={value!r}: give a string")
    return value


def _str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise UsageError(f"{name}={value!r}: give a string")
    return value


def _plain(value: Any) -> Any:
    """Nested sequences of integers -> nested lists of int (numpy integers included), for JSON."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    raise UsageError(f"shape: {value!r} is not a whole number or a list of them")


def parse_shape_arg(shape: ShapeArg | None) -> tuple[tuple[int, ...], ...] | None:
    """`shape=` (or -s): a string as -s takes it, a sequence of ints, or a sequence of such sequences."""
    from vampy.config import parse_shapes

    if shape is None:
        return None
    if isinstance(shape, str):
        return parse_shapes(shape)
    if not isinstance(shape, (list, tuple)):
        raise UsageError(f"shape={shape!r}: give C,H,W as a string '3,256,256', a tuple (3, 256, 256) or a list of tuples")
    # The same checks as -s: the value goes through the one parser as its JSON text.
    return parse_shapes(_json.dumps(_plain(shape)))


def _percentiles(value: str | Sequence[float] | None) -> tuple[float, ...]:
    from vampy.config import parse_percentiles

    if value is None or isinstance(value, str):
        return parse_percentiles(value) if value else RunConfig.percentiles
    if not isinstance(value, (list, tuple)) or any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in value):
        raise UsageError(f"percentiles={value!r}: give numbers in (0, 100], e.g. (50, 99.9), or a string '50,99.9'")
    return parse_percentiles(",".join(repr(float(v)) for v in value)) if value else RunConfig.percentiles


def _hw(name: str, value: Sequence[int] | None) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return (_int(name, value[0]), _int(name, value[1]))
    raise UsageError(f"{name}={value!r}: give H and W as a pair of whole numbers, e.g. (256, 256)")


def _values_text(name: str, value: ValuesArg) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return ",".join(str(_int(name, v)) for v in value) if value else ""
    return str(_int(name, value))


def run_config(
    *, model: PathArg, vdsp_params: PathArg | None = None, instances: int = 1, processes: int = 1, batch_size: int = 1,
    shape: ShapeArg | None = None, device: int = 0, iterations: int | None = None, duration: float | None = None, warmup: int = 2,
    threads: int | None = None, percentiles: str | Sequence[float] | None = None, seed: int = 0, dtype: str | None = None,
    datalist: PathArg | None = None, path_output: PathArg | None = None, output_dtype: str = "model", resume: bool = False,
    timeout: float | None = None, rate: float | None = None, arrival: str = "poisson", profile: PathArg | None = None,
    export_times: PathArg | None = None, native_size: bool = False, engine: str = "onnxruntime", provider: str | None = None,
    infer_precision: str | None = None, hwconfig: str | None = None,
    backend: str | None = None, forward_mode: str | None = None, json: PathArg | None = None, dry_run: bool = False,
    ray: str | None = None,
) -> RunConfig:
    """The RunConfig of `vampy run` with these flags (the CLI builds its config here too)."""
    vendor = {k: v for k, v in (("hwconfig", hwconfig), ("backend", backend), ("forward_mode", forward_mode)) if v is not None}
    return RunConfig(
        model=_required_path("model", model), vdsp_params=_path("vdsp_params", vdsp_params),
        instances=_int("instances", instances), processes=_int("processes", processes), batch_size=_int("batch_size", batch_size),
        shapes=parse_shape_arg(shape), iterations=_opt_int("iterations", iterations), duration_s=_opt_float("duration", duration),
        warmup_requests=_int("warmup", warmup), threads=_opt_int("threads", threads), percentiles=_percentiles(percentiles),
        seed=_int("seed", seed), token_dtype=_opt_str("dtype", dtype), datalist=_path("datalist", datalist),
        path_output=_path("path_output", path_output), output_dtype=_str("output_dtype", output_dtype),
        resume=_bool("resume", resume), native_size=_bool("native_size", native_size), request_timeout_s=_opt_float("timeout", timeout),
        device_id=_int("device", device), rate_qps=_opt_float("rate", rate), arrival=_str("arrival", arrival),
        profile_dir=_path("profile", profile), export_times=_path("export_times", export_times), engine=_str("engine", engine),
        provider=_opt_str("provider", provider), infer_precision=_opt_str("infer_precision", infer_precision), vendor_flags=vendor, json_path=_path("json", json), dry_run=_bool("dry_run", dry_run),
        ray_address=_opt_str("ray", ray),
    )


def eval_config(
    *, src_dir: PathArg | None, gt_dir: PathArg, input_npz_path: PathArg, out_npz_dir: PathArg, input_shape: Sequence[int] | None = None,
    native: bool = False, vamp_flag: bool = False, scale: int = 4, ycbcr: str = "opencv", gt_pattern: str = "{base}.*",
    draw_dir: PathArg | None = None, json: PathArg | None = None, preset: str | None = None, scoring: PathArg | None = None,
    lr_dir: PathArg | None = None, model_type: str | None = None
) -> EvalConfig:
    """The EvalConfig of `vampy eval` with these flags (the CLI builds its config here too).

    `preset` names a zoo family's scoring script (vampy.quality.presets.PRESETS), `scoring` a
    YAML/JSON file of Scoring fields; src_dir is needed only without them or for drrn/vdsr.
    """
    from vampy.config import DEFAULT_EVAL_INPUT_HW
    from vampy.quality.preset_eval import resolve_scoring

    hw = _hw("input_shape", input_shape)
    if _bool("native", native) and hw is not None:
        raise UsageError("--native compares at the ground truth's own size; drop --input_shape or --native")
    preset, scoring_path = _opt_str("preset", preset), _path("scoring", scoring)
    record = resolve_scoring(preset, scoring_path, _opt_str("model_type", model_type))
    legacy = record is None or record.legacy_y
    if legacy and src_dir is None:
        raise UsageError(f"--src_dir is required {'for preset ' + record.name if record else 'without --preset'} (the bicubic input's scores and --draw_dir's chroma come from it)")
    if not legacy and native:
        raise UsageError(f"--native applies to the Y-channel eval only; preset {record.name if record else ''} compares at the output's size")
    input_hw = (None if native else (hw or DEFAULT_EVAL_INPUT_HW)) if record is None else hw
    return EvalConfig(
        src_dir="" if src_dir is None else _required_path("src_dir", src_dir), gt_dir=_required_path("gt_dir", gt_dir),
        datalist=_required_path("input_npz_path", input_npz_path), outputs_dir=_required_path("out_npz_dir", out_npz_dir),
        input_hw=input_hw, pair_by_order=_bool("vamp_flag", vamp_flag) or record is not None,
        shave_px=_int("scale", scale), ycbcr=_str("ycbcr", ycbcr), gt_pattern=_str("gt_pattern", gt_pattern),
        draw_dir=_path("draw_dir", draw_dir), json_path=_path("json", json), preset=record.name if record and preset else None,
        scoring_path=scoring_path, lr_dir=_path("lr_dir", lr_dir), model_type=_opt_str("model_type", model_type),
    )


def infer_config(
    *, lr_image_dir: PathArg, model: PathArg, hr_image_dir: PathArg, vdsp_params: PathArg | None = None,
    save_dir: PathArg | None = None, device: int = 0, batch: int = 1, pattern: str = "*", mode: str | None = None,
    ycbcr: str = "opencv", input_shape: Sequence[int] | None = None, native: bool = False, scale: int = 4,
    gt_pattern: str = "{base}.*", threads: int | None = None, engine: str = "onnxruntime", provider: str | None = None,
    infer_precision: str | None = None, json: PathArg | None = None, preset: str | None = None, scoring: PathArg | None = None
) -> InferConfig:
    """The InferConfig of `vampy infer` with these flags (the CLI builds its config here too)."""
    return InferConfig(
        lr_dir=_required_path("lr_image_dir", lr_image_dir), model=_required_path("model", model),
        gt_dir=_required_path("hr_image_dir", hr_image_dir), vdsp_params=_path("vdsp_params", vdsp_params),
        save_dir=_path("save_dir", save_dir), pattern=_str("pattern", pattern), mode=_opt_str("mode", mode),
        ycbcr=_str("ycbcr", ycbcr), input_hw=_hw("input_shape", input_shape), native=_bool("native", native),
        batch_size=_int("batch", batch), shave_px=_int("scale", scale), gt_pattern=_str("gt_pattern", gt_pattern),
        threads=_opt_int("threads", threads), device_id=_int("device", device), engine=_str("engine", engine),
        provider=_opt_str("provider", provider), infer_precision=_opt_str("infer_precision", infer_precision), json_path=_path("json", json),
        preset=_opt_str("preset", preset), scoring_path=_path("scoring", scoring),
    )


def sweep_config(
    *, model: PathArg, vdsp_params: PathArg | None = None, shape: ShapeArg | None = None, instances: ValuesArg = "auto",
    processes: ValuesArg = "auto", batch: ValuesArg = "auto", threads: ValuesArg = "auto", search: str | None = None,
    max_p99_ms: float | None = None, point_duration: float | None = None, point_iterations: int | None = None, warmup: int = 1,
    seed: int = 0, dtype: str | None = None, plot: PathArg | None = None, csv: PathArg | None = None, json: PathArg | None = None,
    engines: str | Sequence[str] = "onnxruntime", ray: str | None = None
) -> SweepConfig:
    """The SweepConfig of `vampy sweep` with these flags (the CLI builds its config here too)."""
    from vampy.workflows.sweep import DEFAULT_POINT_DURATION_S, SweepConfig, SweepSpace, parse_engines, parse_values

    dims = (("instances", instances), ("processes", processes), ("batch", batch), ("threads", threads))
    space = SweepSpace(*(parse_values(_values_text(dim, value), dim) for dim, value in dims))
    iterations = _opt_int("point_iterations", point_iterations)
    duration = _opt_float("point_duration", point_duration)
    if duration is None and iterations is None:
        duration = DEFAULT_POINT_DURATION_S
    base = RunConfig(
        model=_required_path("model", model), vdsp_params=_path("vdsp_params", vdsp_params), shapes=parse_shape_arg(shape),
        iterations=iterations, duration_s=duration, warmup_requests=_int("warmup", warmup), seed=_int("seed", seed),
        token_dtype=_opt_str("dtype", dtype),
    )
    return SweepConfig(
        base=base, space=space, max_p99_ms=_opt_float("max_p99_ms", max_p99_ms), csv_path=_path("csv", csv),
        json_path=_path("json", json), plot_path=_path("plot", plot), strategy=_opt_str("search", search),
        engines=parse_engines(engines if isinstance(engines, str) else ",".join(engines)), ray_address=_opt_str("ray", ray),
    )


# --- the five functions ---


def _with_report(exc: BaseException, report: Any) -> BaseException:
    exc.report = report  # type: ignore[attr-defined]
    return exc


def _progress(progress: Progress | None) -> Progress:
    from vampy.progress import NullProgress

    return progress if progress is not None else NullProgress()


def _check_run(report: RunReport) -> None:
    """The CLI's exit rules for a finished run (cli/run_cmd.py), as exceptions carrying the report."""
    if report.failed_workers:
        raise _with_report(WorkerError(f"run INCOMPLETE: {report.incomplete_reason}"), report)
    if report.datalist and report.datalist.get("fatal_output_error"):
        raise _with_report(OutputError(
            f"run INCOMPLETE, {report.datalist['fatal_output_error']}; outputs written so far are kept: fix the folder and add resume=True"
        ), report)
    if not report.complete:
        raise _with_report(KeyboardInterrupt(f"run INCOMPLETE: {report.incomplete_reason}"), report)
    if report.datalist and report.datalist["failures"]:
        n = len(report.datalist["failures"])
        raise _with_report(PartialResult(f"{n} datalist line(s) failed (listed in report.datalist['failures'] and failures.json); every good output was written"), report)


def run(
    *,
    model: PathArg,
    vdsp_params: PathArg | None = None,
    instances: int = 1,
    processes: int = 1,
    batch_size: int = 1,
    shape: ShapeArg | None = None,
    device: int = 0,
    iterations: int | None = None,
    duration: float | None = None,
    warmup: int = 2,
    threads: int | None = None,
    percentiles: str | Sequence[float] | None = None,
    seed: int = 0,
    dtype: str | None = None,
    datalist: PathArg | None = None,
    path_output: PathArg | None = None,
    output_dtype: str = "model",
    resume: bool = False,
    timeout: float | None = None,
    rate: float | None = None,
    arrival: str = "poisson",
    profile: PathArg | None = None,
    export_times: PathArg | None = None,
    native_size: bool = False,
    engine: str = "onnxruntime",
    provider: str | None = None,
    infer_precision: str | None = None,
    json: PathArg | None = None,
    hwconfig: str | None = None,
    backend: str | None = None,
    forward_mode: str | None = None,
    ray: str | None = None,
    progress: Progress | None = None,
    check: bool = True,
) -> RunReport:
    """Profile a model, as `vampy run`: throughput, e2e and model latency, CPU and memory.

    Keywords are `vampy run`'s flags (`instances` is -i, `processes` -p, `batch_size` -b, `shape` -s,
    `duration` -t in seconds); `shape` is a string as -s takes it ("3,256,256"), a tuple of ints or
    a list of them (one per model input). With `datalist` (and `path_output`), runs the data set
    and writes one output_NNNNNN.npz per line; `ray` ("HOST:PORT", "ray://HOST:PORT", "auto") runs those
    lines on a Ray cluster (docs/cluster.md). `json`, `export_times` and `profile` write what the
    flags write (for --plot: vampy.report.plots.plot_run(report.to_dict(), path)). Workers are
    spawned processes: call this under `if __name__ == "__main__":`.

    Returns the RunReport (`to_dict()` is the `--json` content). Raises UsageError, InputError,
    ModelError or OutputError before anything runs; after the run, unless check=False: WorkerError
    (a worker failed), OutputError (the output folder failed), PartialResult (datalist lines failed),
    KeyboardInterrupt (interrupted), each with the report as `exc.report`.
    """
    from vampy.report.schema import check_writable, write_json
    from vampy.workflows.run import execute, prepare

    cfg = run_config(
        model=model, vdsp_params=vdsp_params, instances=instances, processes=processes, batch_size=batch_size, shape=shape,
        device=device, iterations=iterations, duration=duration, warmup=warmup, threads=threads, percentiles=percentiles,
        seed=seed, dtype=dtype, datalist=datalist, path_output=path_output, output_dtype=output_dtype, resume=resume,
        timeout=timeout, rate=rate, arrival=arrival, profile=profile, export_times=export_times, native_size=native_size,
        engine=engine, provider=provider, infer_precision=infer_precision, hwconfig=hwconfig, backend=backend,
        forward_mode=forward_mode, json=json, ray=ray,
    )
    for flag, target in (("--json", cfg.json_path), ("--export_times", cfg.export_times)):
        if target:
            check_writable(target, flag)
    report = execute(prepare(cfg), _progress(progress))
    if cfg.json_path:
        write_json(cfg.json_path, report.to_dict())
    if check:
        _check_run(report)
    return report


def evaluate(
    *,
    src_dir: PathArg | None = None,
    gt_dir: PathArg,
    input_npz_path: PathArg,
    out_npz_dir: PathArg,
    input_shape: Sequence[int] | None = None,
    native: bool = False,
    vamp_flag: bool = False,
    scale: int = 4,
    ycbcr: str = "opencv",
    gt_pattern: str = "{base}.*",
    draw_dir: PathArg | None = None,
    json: PathArg | None = None,
    progress: Progress | None = None,
    check: bool = True,
    preset: str | None = None,
    scoring: PathArg | None = None,
    lr_dir: PathArg | None = None,
    model_type: str | None = None,
) -> EvalReport | EvalPresetReport:
    """Score super-resolution outputs against ground truth on Y, as `vampy eval` (the vendor's eval flags).

    `input_npz_path` is the datalist the outputs were made from, `out_npz_dir` the folder of output
    npz files; `input_shape` (H, W) is the compare size (default (256, 256)), `native=True` compares
    at the ground truth's size; `vamp_flag=True` pairs outputs by order (output_NNNNNN.npz);
    `scale` is the border shaved, in pixels. `preset` (a zoo family's scoring script, see
    docs/eval.md) or `scoring` (a YAML/JSON file of its fields) score the way that family does,
    with `lr_dir` (ecbsr) and `model_type` (real_esrgan) as its flags; src_dir is then optional.

    Returns the EvalReport (an EvalPresetReport with a preset other than drrn/vdsr) (`to_dict()` is the `--json` content). Raises UsageError or InputError;
    PartialResult (with `exc.report`) when some images could not be scored, unless check=False.
    """
    from vampy.quality.preset_eval import run_eval as evaluate_outputs
    from vampy.report.schema import write_json

    cfg = eval_config(
        src_dir=src_dir, gt_dir=gt_dir, input_npz_path=input_npz_path, out_npz_dir=out_npz_dir, input_shape=input_shape,
        native=native, vamp_flag=vamp_flag, scale=scale, ycbcr=ycbcr, gt_pattern=gt_pattern, draw_dir=draw_dir, json=json,
        preset=preset, scoring=scoring, lr_dir=lr_dir, model_type=model_type,
    )
    report = evaluate_outputs(cfg, _progress(progress))
    if cfg.json_path:
        write_json(cfg.json_path, report.to_dict())
    if check and report.failures:
        total = len(report.failures) + len(report.images)
        raise _with_report(PartialResult(f"{len(report.failures)} of {total} image(s) could not be scored (report.failures); the mean covers the rest"), report)
    return report


def compile(
    *,
    config: PathArg,
    vdsp_params: PathArg | None = None,
    calib_datalist: PathArg | None = None,
    json: PathArg | None = None,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> CompileResult | dict[str, Any]:
    """Compile an ONNX model from a vamc-style YAML, as `vampy compile CONFIG`: fp32, fp16 or int8.

    dry_run=True: validate and return the resolved plan (the `--dry_run` JSON, a dict) without
    reading the checkpoint or the dataset.

    Writes <workspace.path>/<name>/mod.onnx and mod.json; `vdsp_params` completes the YAML's
    normalisation, `calib_datalist` calibrates int8 on these npz inputs. The notes and warnings the
    CLI prints are in `result.notes` and `result.warnings`.

    Returns the CompileResult (`to_dict()` is the `--json` content, and mod.json's). Raises
    UsageError, InputError, ModelError or OutputError.
    """
    from vampy.compiler.pipeline import compile_model
    from vampy.formats.compile_yaml import load_compile_config
    from vampy.report.schema import write_json

    cfg = load_compile_config(
        _required_path("config", config), vdsp_params=_path("vdsp_params", vdsp_params),
        calib_datalist=_path("calib_datalist", calib_datalist),
    )
    json_path = _path("json", json)
    if dry_run:
        from vampy.compiler.plan import compile_plan

        plan = compile_plan(cfg)
        if json_path:
            write_json(json_path, plan)
        return plan
    result = compile_model(cfg, _progress(progress))
    if json_path:
        write_json(json_path, result.to_dict())
    return result


class _SweepObserver:
    """Rewrites json/csv after every point (as the CLI does) and reports one progress step per point."""

    def __init__(self, cfg: SweepConfig, environment: dict[str, Any], progress: Progress) -> None:
        self.cfg = cfg
        self.environment = environment
        self.progress = progress
        self.started = False

    def point_started(self, point: Point, index: int, total: int | None) -> None:
        if not self.started:
            self.progress.start("sweep", total)
            self.started = True

    def point_done(self, measurement: Measurement, partial: SweepResult) -> None:
        from vampy.workflows.sweep_run import write_sweep_outputs

        write_sweep_outputs(self.cfg, partial, self.environment)
        self.progress.advance(1)


def sweep(
    *,
    model: PathArg,
    vdsp_params: PathArg | None = None,
    shape: ShapeArg | None = None,
    instances: ValuesArg = "auto",
    processes: ValuesArg = "auto",
    batch: ValuesArg = "auto",
    threads: ValuesArg = "auto",
    search: str | None = None,
    max_p99_ms: float | None = None,
    point_duration: float | None = None,
    point_iterations: int | None = None,
    warmup: int = 1,
    seed: int = 0,
    dtype: str | None = None,
    engines: str | Sequence[str] = "onnxruntime",
    csv: PathArg | None = None,
    json: PathArg | None = None,
    progress: Progress | None = None,
    check: bool = True,
    ray: str | None = None,
) -> SweepReport:
    """Find the configuration with the highest throughput within `max_p99_ms`, as `vampy sweep`.

    Each of `instances`, `processes`, `batch`, `threads` is "auto", a list "1,2,4" or (1, 2, 4), a
    range "1-4", or one value; `search` is "auto" (climb) or "grid". Each point is a short run of
    `point_duration` seconds (default 4 unless `point_iterations` is given) and/or
    `point_iterations` samples per process. `engines` ("onnxruntime,openvino", or entries with a
    precision such as "openvino:bf16") are searched one after the other and ranked together. `ray` ("HOST:PORT",
    "ray://HOST:PORT", "auto") runs each point alone on one node of that Ray cluster (docs/cluster.md). `csv` and `json` are rewritten after every point (for
    --plot: vampy.report.plots.plot_sweep(report.to_dict(), path)). Workers are spawned processes:
    call this under `if __name__ == "__main__":`.

    Returns a SweepReport: `.winner`, `.points`, `.result` (the SweepResult) and `to_dict()` (the
    `--json` content). Raises UsageError, InputError, ModelError or OutputError; KeyboardInterrupt
    (with `exc.report`, the finished points) when interrupted, unless check=False.
    """
    from vampy.measure.summary import environment
    from vampy.workflows.sweep import SweepResult
    from vampy.workflows.sweep_run import SweepReport, run_sweep, write_sweep_outputs

    cfg = sweep_config(
        model=model, vdsp_params=vdsp_params, shape=shape, instances=instances, processes=processes, batch=batch,
        threads=threads, search=search, max_p99_ms=max_p99_ms, point_duration=point_duration, point_iterations=point_iterations,
        warmup=warmup, seed=seed, dtype=dtype, csv=csv, json=json, engines=engines, ray=ray,
    )
    env = environment()
    write_sweep_outputs(cfg, SweepResult("auto" if cfg.auto else "grid", (), {}), env)  # an unwritable output fails now
    observer = _SweepObserver(cfg, env, _progress(progress))
    try:
        result = run_sweep(cfg, observer)
    finally:
        if observer.started:
            observer.progress.finish()
    write_sweep_outputs(cfg, result, env)
    report = SweepReport(result=result, config=cfg, environment=env)
    if check and result.interrupted:
        raise _with_report(KeyboardInterrupt(f"sweep {result.interrupted}: {len(result.rows)} finished point(s) kept"), report)
    return report


def infer(
    *,
    lr_image_dir: PathArg,
    model: PathArg,
    hr_image_dir: PathArg,
    vdsp_params: PathArg | None = None,
    save_dir: PathArg | None = None,
    device: int = 0,
    batch: int = 1,
    pattern: str = "*",
    mode: str | None = None,
    ycbcr: str = "opencv",
    input_shape: Sequence[int] | None = None,
    native: bool = False,
    scale: int = 4,
    gt_pattern: str = "{base}.*",
    threads: int | None = None,
    engine: str = "onnxruntime",
    provider: str | None = None,
    infer_precision: str | None = None,
    json: PathArg | None = None,
    preset: str | None = None,
    scoring: PathArg | None = None,
    progress: Progress | None = None,
    check: bool = True,
) -> InferReport | InferPresetReport:
    """Stream a folder of low-resolution images through the vdsp preprocessing and the model, as `vampy infer`.

    Writes the colourised SR PNGs to `save_dir` (if given) and scores them on Y against the ground
    truth in `hr_image_dir`: per image and mean, and the pipeline's throughput. `model` is
    --model_prefix_path, `vdsp_params` --vdsp_params_info; `pattern` globs `lr_image_dir`.

    Returns the InferReport (`to_dict()` is the `--json` content). Raises UsageError, InputError
    (also when no image could be processed), ModelError or OutputError; PartialResult (with
    `exc.report`) when some images failed, unless check=False.

    With `preset` (a `vampy eval --preset` name) and/or `scoring` (a --scoring file), RGB models are
    scored as that preset does (docs/eval.md), equal to image2npz --preset + run --datalist + eval
    --preset; returns an InferPresetReport.
    """
    from vampy.report.schema import write_json
    from vampy.workflows.infer import execute, prepare

    cfg = infer_config(
        lr_image_dir=lr_image_dir, model=model, hr_image_dir=hr_image_dir, vdsp_params=vdsp_params, save_dir=save_dir,
        device=device, batch=batch, pattern=pattern, mode=mode, ycbcr=ycbcr, input_shape=input_shape, native=native,
        scale=scale, gt_pattern=gt_pattern, threads=threads, engine=engine, provider=provider,
        infer_precision=infer_precision, json=json, preset=preset, scoring=scoring,
    )
    report = execute(prepare(cfg), _progress(progress))
    if cfg.json_path:
        write_json(cfg.json_path, report.to_dict())
    if check and report.failures:
        total = len(report.failures) + len(report.images)
        raise _with_report(PartialResult(f"{len(report.failures)} of {total} image(s) failed (report.failures); the mean covers the rest"), report)
    return report
