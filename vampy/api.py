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

import inspect
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, Union

from vampy.config import EvalConfig, InferConfig, RunConfig
from vampy.config.flags import (
    API_TYPES,
    CONVERTERS,
    EVAL_FLAGS,
    INFER_FLAGS,
    RUN_FLAGS,
    SWEEP_FLAGS,
    Flag,
    check_keywords,
    parse_shape_arg,
    read_flags,
    run_config_from,
)
from vampy.errors import OutputError, PartialResult, UsageError, WorkerError

if TYPE_CHECKING:
    from vampy.config.sweep import SweepConfig
    from vampy.progress import Progress
    from vampy.quality.families import FamilyPreset
    from vampy.results.schema import CompileResult, EvalPresetReport, EvalReport, InferPresetReport, InferReport, RunReport
    from vampy.workflows.sweep import Measurement, Point, SweepResult
    from vampy.workflows.sweep_run import SweepReport

__all__ = ["compile", "evaluate", "infer", "parse_shape_arg", "run", "sweep"]

PathArg = Union[str, "os.PathLike[str]"]
# "3,256,256" / "[3,256,256]" / "[[1,512],[1,512]]" as -s takes it, (3, 256, 256), or [(1, 512), (1, 512)].
ShapeArg = str | Sequence[int] | Sequence[Sequence[int]]
# Sweep dimensions: "auto", "1,2,4", "1-4", 2 or (1, 2, 4).
ValuesArg = str | int | Sequence[int]
F = TypeVar("F", bound=Callable[..., Any])


# --- the config builders (the CLI builds its configs here too) ---


def _signature(flags: Sequence[Flag], scope: str, returns: str, extra: Sequence[inspect.Parameter] = ()) -> inspect.Signature:
    """Keyword-only parameters generated from the flag declarations, typed by kind, defaults as the CLI's."""
    params = [
        inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, default=inspect.Parameter.empty if f.required else f.default,
            annotation=API_TYPES[f.kind] + ("" if f.required or f.default is not None else " | None"),
        )
        for f in flags
        if f.scope != "cli" and (scope == "config" or f.scope == "both")
    ]
    return inspect.Signature([*params, *extra], return_annotation=returns)


def _declared(flags: Sequence[Flag], scope: str, returns: str, extra: Sequence[inspect.Parameter] = ()) -> Callable[[F], F]:
    def attach(function: F) -> F:
        function.__signature__ = _signature(flags, scope, returns, extra)  # type: ignore[attr-defined]
        return function

    return attach


_RUN_EXTRA = (
    inspect.Parameter("progress", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="Progress | None"),
    inspect.Parameter("check", inspect.Parameter.KEYWORD_ONLY, default=True, annotation="bool"),
)


def _path(name: str, value: PathArg | None) -> Any:
    return None if value is None else CONVERTERS["path"](name, value)


def _split_extra(kwargs: dict[str, Any]) -> tuple[Progress | None, bool]:
    return kwargs.pop("progress", None), kwargs.pop("check", True)


@_declared(RUN_FLAGS, "config", "RunConfig")
def run_config(**flags: Any) -> RunConfig:
    """The RunConfig of `vampy run` with these flags (the CLI builds its config here too)."""
    return run_config_from(read_flags("run_config", RUN_FLAGS, flags))


@_declared(EVAL_FLAGS, "config", "EvalConfig")
def eval_config(**flags: Any) -> EvalConfig:
    """The EvalConfig of `vampy eval` with these flags (the CLI builds its config here too).

    `preset` names a zoo family's scoring script (vampy.quality.presets.PRESETS), `scoring` a
    YAML/JSON file of Scoring fields; src_dir is needed only without them or for drrn/vdsr.
    """
    from vampy.config import DEFAULT_EVAL_INPUT_HW
    from vampy.quality.families import check_preset_name, family_preset
    from vampy.quality.preset_eval import resolve_scoring

    v = read_flags("eval_config", EVAL_FLAGS, flags)
    check_preset_name(v["preset"])
    family = family_preset(v["preset"])
    if family is not None:
        return _family_eval_config(v, family)
    for name in ("gt_dir", "input_npz_path", "out_npz_dir"):
        if v[name] is None:
            raise UsageError(f"--{name} is required (the vendor's eval flags: --gt_dir, --input_npz_path, --out_npz_dir)")
    hw, native = v["input_shape"], v["native"]
    if native and hw is not None:
        raise UsageError("--native compares at the ground truth's own size; drop --input_shape or --native")
    record = resolve_scoring(v["preset"], v["scoring"], v["model_type"])
    legacy = record is None or record.legacy_y
    if legacy and v["src_dir"] is None:
        raise UsageError(
            f"--src_dir is required {'for preset ' + record.name if record else 'without --preset'} "
            "(the bicubic input's scores and --draw_dir's chroma come from it)"
        )
    if not legacy and native:
        raise UsageError(f"--native applies to the Y-channel eval only; preset {record.name if record else ''} "
                         "compares at the output's size")
    input_hw = (None if native else (hw or DEFAULT_EVAL_INPUT_HW)) if record is None else hw
    return EvalConfig(
        src_dir=v["src_dir"] or "", gt_dir=v["gt_dir"], datalist=v["input_npz_path"], outputs_dir=v["out_npz_dir"],
        input_hw=input_hw, pair_by_order=v["vamp_flag"] or record is not None, shave_px=v["scale"], ycbcr=v["ycbcr"],
        gt_pattern=v["gt_pattern"], draw_dir=v["draw_dir"], json_path=v["json"],
        preset=record.name if record and v["preset"] else None, scoring_path=v["scoring"], lr_dir=v["lr_dir"],
        model_type=v["model_type"],
    )


def _family_eval_config(v: dict[str, Any], family: FamilyPreset) -> EvalConfig:
    """EvalConfig of a non-SR preset (vampy/quality/families.py): its vendor flags, checked by what it needs.

    --npz_txt/--npz_dir (the classification scripts' names) and --input_npz_path/--out_npz_dir are one
    pair of fields; --input_shape is kept as given (A, B): the preset reads it as its script does.
    """
    given = dict(v, npz_txt=v["npz_txt"] or v["input_npz_path"], npz_dir=v["npz_dir"] or v["out_npz_dir"])
    # The NLP and text presets' own names for the outputs folder, the datalist and the label file.
    outputs_dir = given["npz_dir"] or v["result_dir"] or v["pred_npz_dir"] or v["vamp_output_dir"]
    datalist = given["npz_txt"] or v["npz_datalist"] or v["vamp_datalist_path"] or ""
    labels_path = v["labels_path"] or v["label_path"] or v["eval_path"] or v["label_file"] or v["gt"]
    missing = [family.flag(name) for name in family.needs if given.get(name) is None]
    if missing:
        raise UsageError(f"preset {family.name} needs {' '.join(missing)} (its script's flags: {' '.join(map(family.flag, family.needs))})")
    if v["scoring"] is not None or v["native"]:
        raise UsageError(f"preset {family.name}: --scoring and --native apply to the super-resolution presets only")
    return EvalConfig(
        src_dir=v["src_dir"] or "", gt_dir=v["gt_dir"] or "", datalist=datalist, outputs_dir=outputs_dir,
        input_hw=v["input_shape"], pair_by_order=True, draw_dir=v["draw_dir"], json_path=v["json"], preset=family.name,
        result_txt=v["result_txt"], label_txt=v["label_txt"], num_bits=v["num_bits"], labels_path=labels_path,
        datasets_name=v["datasets_name"], image_dir=v["input_image_dir"], txt_dir=v["txt"], model_hw=v["model_size"],
        det_format=v["format"],
    )


@_declared(INFER_FLAGS, "config", "InferConfig")
def infer_config(**flags: Any) -> InferConfig:
    """The InferConfig of `vampy infer` with these flags (the CLI builds its config here too)."""
    from vampy.quality.families import check_preset_name, family_preset

    v = read_flags("infer_config", INFER_FLAGS, flags)
    check_preset_name(v["preset"])
    family = family_preset(v["preset"])
    return InferConfig(
        lr_dir=v["lr_image_dir"], model=v["model"], gt_dir=v["hr_image_dir"], vdsp_params=v["vdsp_params"],
        save_dir=v["save_dir"], pattern=v["pattern"], mode=v["mode"], ycbcr=v["ycbcr"], input_hw=v["input_shape"],
        native=v["native"], batch_size=v["batch"], shave_px=v["scale"], gt_pattern=v["gt_pattern"], threads=v["threads"],
        device_id=v["device"], engine=v["engine"], provider=v["provider"], infer_precision=v["infer_precision"],
        json_path=v["json"], preset=v["preset"], scoring_path=v["scoring"], label_txt=v["label_txt"], result_txt=v["result_txt"],
        preset_family=None if family is None else family.family,
    )


@_declared(SWEEP_FLAGS, "config", "SweepConfig")
def sweep_config(**flags: Any) -> SweepConfig:
    """The SweepConfig of `vampy sweep` with these flags (the CLI builds its config here too)."""
    from vampy.config.sweep import DEFAULT_POINT_DURATION_S, SweepConfig, SweepSpace, parse_engines, parse_values

    v = read_flags("sweep_config", SWEEP_FLAGS, flags)
    space = SweepSpace(*(parse_values(v[dim], dim) for dim in ("instances", "processes", "batch", "threads")))
    iterations, duration = v["point_iterations"], v["point_duration"]
    if duration is None and iterations is None:
        duration = DEFAULT_POINT_DURATION_S
    base = RunConfig.flat(
        v["model"], vdsp_params=v["vdsp_params"], shapes=v["shape"], iterations=iterations, duration_s=duration,
        warmup_requests=v["warmup"], seed=v["seed"], token_dtype=v["dtype"],
    )
    return SweepConfig(
        base=base, space=space, max_p99_ms=v["max_p99_ms"], csv_path=v["csv"], json_path=v["json"], plot_path=v["plot"],
        strategy=v["search"], engines=parse_engines(v["engines"]), ray_address=v["ray"],
        accuracy_datalist=v["accuracy_datalist"], min_snr_db=v["min_snr_db"], reference_model=v["reference_model"],
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
        raise _with_report(PartialResult(f"{n} datalist line(s) failed (listed in report.datalist['failures'] and failures.json); "
                                         "every good output was written"), report)


@_declared(RUN_FLAGS, "api", "RunReport", _RUN_EXTRA)
def run(**kwargs: Any) -> RunReport:
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
    from vampy.results.schema import check_writable, write_json
    from vampy.workflows.run import execute, prepare

    progress, check = _split_extra(kwargs)
    cfg = run_config_from(read_flags("run", RUN_FLAGS, kwargs, scope="api"))
    for flag, target in (("--json", cfg.outputs.json_path), ("--export_times", cfg.outputs.export_times)):
        if target:
            check_writable(target, flag)
    report = execute(prepare(cfg), _progress(progress))
    if cfg.outputs.json_path:
        write_json(cfg.outputs.json_path, report.to_dict())
    if check:
        _check_run(report)
    return report


@_declared(EVAL_FLAGS, "api", "EvalReport | EvalPresetReport", _RUN_EXTRA)
def evaluate(**kwargs: Any) -> EvalReport | EvalPresetReport:
    """Score super-resolution outputs against ground truth on Y, as `vampy eval` (the vendor's eval flags).

    `input_npz_path` is the datalist the outputs were made from, `out_npz_dir` the folder of output
    npz files; `input_shape` (H, W) is the compare size (default (256, 256)), `native=True` compares
    at the ground truth's size; `vamp_flag=True` pairs outputs by order (output_NNNNNN.npz);
    `scale` is the border shaved, in pixels. `preset` (a zoo family's scoring script, see
    docs/eval.md) or `scoring` (a YAML/JSON file of its fields) score the way that family does,
    with `lr_dir` (ecbsr) and `model_type` (real_esrgan) as its flags; src_dir is then optional.

    Returns the EvalReport (an EvalPresetReport with a preset other than drrn/vdsr) (`to_dict()` is the `--json` content).
    Raises UsageError or InputError; PartialResult (with `exc.report`) when some images could not be scored, unless check=False.
    """
    from vampy.quality.preset_eval import run_eval as evaluate_outputs
    from vampy.results.schema import write_json

    progress, check = _split_extra(kwargs)
    check_keywords("evaluate", EVAL_FLAGS, kwargs)
    cfg = eval_config(**kwargs)
    report = evaluate_outputs(cfg, _progress(progress))
    if cfg.json_path:
        write_json(cfg.json_path, report.to_dict())
    if check and report.failures:
        total = len(report.failures) + len(report.images)
        raise _with_report(PartialResult(f"{len(report.failures)} of {total} image(s) could not be scored (report.failures); "
                                         "the figures cover the rest"), report)
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
    from vampy.results.schema import write_json

    if config is None:
        raise UsageError("config: required, give a path")
    cfg = load_compile_config(
        _path("config", config), vdsp_params=_path("vdsp_params", vdsp_params), calib_datalist=_path("calib_datalist", calib_datalist),
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


@_declared(SWEEP_FLAGS, "api", "SweepReport", _RUN_EXTRA)
def sweep(**kwargs: Any) -> SweepReport:
    """Find the configuration with the highest throughput within `max_p99_ms`, as `vampy sweep`.

    Each of `instances`, `processes`, `batch`, `threads` is "auto", a list "1,2,4" or (1, 2, 4), a
    range "1-4", or one value; `search` is "auto" (climb) or "grid". Each point is a short run of
    `point_duration` seconds (default 4 unless `point_iterations` is given) and/or
    `point_iterations` samples per process. `engines` ("onnxruntime,openvino", or entries with a
    precision such as "openvino:bf16") are searched one after the other and ranked together. `ray` ("HOST:PORT",
    "ray://HOST:PORT", "auto") runs each point alone on one node of that Ray cluster (docs/cluster.md). `csv` and `json`
    are rewritten after every point (for --plot: vampy.report.plots.plot_sweep(report.to_dict(), path)). Workers are spawned processes:
    call this under `if __name__ == "__main__":`.

    Returns a SweepReport: `.winner`, `.points`, `.result` (the SweepResult) and `to_dict()` (the
    `--json` content). Raises UsageError, InputError, ModelError or OutputError; KeyboardInterrupt
    (with `exc.report`, the finished points) when interrupted, unless check=False.
    """
    from vampy.measure.summary import environment
    from vampy.workflows.sweep import SweepResult
    from vampy.workflows.sweep_run import SweepReport, run_sweep, write_sweep_outputs

    progress, check = _split_extra(kwargs)
    check_keywords("sweep", SWEEP_FLAGS, kwargs)
    cfg = sweep_config(**kwargs)
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


@_declared(INFER_FLAGS, "api", "InferReport | InferPresetReport", _RUN_EXTRA)
def infer(**kwargs: Any) -> InferReport | InferPresetReport:
    """Stream a folder of low-resolution images through the vdsp preprocessing and the model, as `vampy infer`.

    Writes the colourised SR PNGs to `save_dir` (if given) and scores them on Y against the ground
    truth in `hr_image_dir`: per image and mean, and the pipeline's throughput. `model` is
    --model_prefix_path, `vdsp_params` --vdsp_params_info; `pattern` globs `lr_image_dir`.

    Returns the InferReport (`to_dict()` is the `--json` content). Raises UsageError, InputError
    (also when no image could be processed), ModelError or OutputError; PartialResult (with
    `exc.report`) when some images failed, unless check=False.

    With `preset` (a `vampy eval --preset` name) and/or `scoring` (a --scoring file), RGB models are
    scored as that preset does (docs/eval.md), equal to image2npz --preset + run --datalist + eval
    --preset; returns an InferPresetReport. So are `preset="imagenet_topk"` (give `label_txt`; no
    `hr_image_dir`) and the segmentation presets (`hr_image_dir`: the label files), with eval's metrics.
    """
    from vampy.results.schema import write_json
    from vampy.workflows.infer import execute, prepare

    progress, check = _split_extra(kwargs)
    check_keywords("infer", INFER_FLAGS, kwargs)
    cfg = infer_config(**kwargs)
    report = execute(prepare(cfg), _progress(progress))
    if cfg.json_path:
        write_json(cfg.json_path, report.to_dict())
    if check and report.failures:
        total = len(report.failures) + len(report.images)
        raise _with_report(PartialResult(f"{len(report.failures)} of {total} image(s) failed (report.failures); "
                                         "the figures cover the rest"), report)
    return report
