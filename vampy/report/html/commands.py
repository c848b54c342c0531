"""The command line that reproduces a report, rebuilt from its config dict (flags that differ from
the defaults only). Shell-quoted: a path with spaces or `;` from an untrusted report stays one word."""
from __future__ import annotations

import dataclasses
import json
import shlex
from collections.abc import Callable
from functools import cache
from typing import Any

from vampy.config import DEFAULT_EVAL_INPUT_HW, DEFAULT_PERCENTILES

# config key -> flag. A flag is given when the report's value differs from the config class's own default
# (_defaults below: the one place defaults live), and always when that default is None.
RUN_FLAGS: tuple[tuple[str, str], ...] = (
    ("vdsp_params", "--vdsp_params"), ("instances", "-i"), ("processes", "-p"), ("batch_size", "-b"),
    ("shapes", "-s"), ("iterations", "--iterations"), ("duration_s", "-t"), ("warmup_requests", "--warmup"),
    ("threads", "--threads"), ("seed", "--seed"), ("token_dtype", "--dtype"), ("datalist", "--datalist"),
    ("path_output", "--path_output"), ("output_dtype", "--output_dtype"), ("request_timeout_s", "--timeout"),
    ("rate_qps", "--rate"), ("profile_dir", "--profile"), ("export_times", "--export_times"),
    ("device_id", "-d"), ("engine", "--engine"), ("provider", "--provider"),
    ("infer_precision", "--infer_precision"), ("json_path", "--json"),
)
RUN_SWITCHES = (("resume", "--resume"), ("native_size", "--native_size"))
EVAL_FLAGS = (
    ("src_dir", "--src_dir"), ("gt_dir", "--gt_dir"), ("datalist", "--input_npz_path"),
    ("outputs_dir", "--out_npz_dir"), ("shave_px", "--scale"), ("ycbcr", "--ycbcr"),
    ("gt_pattern", "--gt_pattern"), ("draw_dir", "--draw_dir"), ("preset", "--preset"),
    ("scoring_path", "--scoring"), ("lr_dir", "--lr_dir"), ("model_type", "--model_type"),
    ("result_txt", "--result_txt"), ("label_txt", "--label_txt"), ("num_bits", "--num_bits"),
    ("datasets_name", "--datasets_name"), ("image_dir", "--input_image_dir"), ("txt_dir", "--txt"),
    ("det_format", "--format"), ("json_path", "--json"),
)
INFER_FLAGS = (
    ("lr_dir", "--lr_image_dir"), ("vdsp_params", "--vdsp_params_info"), ("gt_dir", "--hr_image_dir"),
    ("save_dir", "--save_dir"), ("pattern", "--pattern"), ("mode", "--mode"), ("ycbcr", "--ycbcr"),
    ("batch_size", "-b"), ("shave_px", "--scale"), ("gt_pattern", "--gt_pattern"),
    ("threads", "--threads"), ("device_id", "-d"), ("engine", "--engine"), ("provider", "--provider"),
    ("infer_precision", "--infer_precision"), ("preset", "--preset"), ("scoring_path", "--scoring"),
    ("label_txt", "--label_txt"), ("result_txt", "--result_txt"), ("json_path", "--json"),
)
LOADGEN_FLAGS = (
    ("scenario", "--scenario"), ("mode", "--mode"), ("vdsp_params", "--vdsp_params"),
    ("shapes", "-s"), ("instances", "-i"), ("threads", "--threads"), ("samples", "--samples"),
    ("min_queries", "--min_queries"), ("min_duration_s", "--min_duration"), ("max_duration_s", "--max_duration"),
    ("target_qps", "--target_qps"), ("target_latency_ms", "--target_latency_ms"),
    ("samples_per_query", "--samples_per_query"), ("datalist", "--datalist"), ("path_output", "--path_output"),
    ("log_dir", "--log_dir"),
)


def _shape_word(shapes: Any) -> str:
    """[[3,16,16]] -> [3,16,16]; several inputs stay nested, as -s takes them."""
    if isinstance(shapes, list) and len(shapes) == 1:
        shapes = shapes[0]
    return json.dumps(shapes, separators=(",", ":"))


def _value_word(key: str, value: Any) -> str:
    if key == "shapes":
        return _shape_word(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


@cache
def _defaults(kind: str) -> dict[str, Any]:
    """Each config field's default as a report holds it (JSON), by command: the config classes' own."""
    from vampy.config import EvalConfig, InferConfig, RunConfig
    from vampy.config.diff import DiffConfig
    from vampy.config.loadgen import LoadgenConfig

    if kind == "run":
        values = RunConfig.flat("m").to_dict()
    else:
        cls = {"eval": EvalConfig, "infer": InferConfig, "loadgen": LoadgenConfig, "diff": DiffConfig}[kind]
        values = {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
    return dict(json.loads(json.dumps(values, default=str)))


def _flags(config: dict[str, Any], table: tuple[tuple[str, str], ...], kind: str) -> list[str]:
    words: list[str] = []
    defaults = _defaults(kind)
    for key, flag in table:
        value, default = config.get(key), defaults.get(key)
        # "" is a family preset's unused folder (EvalConfig.src_dir), not a value the user gave
        if value is not None and value != "" and value != default and not isinstance(value, (dict, bool)):
            words += [flag, _value_word(key, value)]
    return words


def run_command(config: dict[str, Any]) -> str:
    words = ["vampy", "run", "-m", str(config.get("model"))] + _flags(config, RUN_FLAGS, "run")
    words += [flag for key, flag in RUN_SWITCHES if config.get(key) is True]
    percentiles = config.get("percentiles")
    if isinstance(percentiles, list) and tuple(percentiles) != DEFAULT_PERCENTILES:
        words += ["--percentiles", ",".join(f"{p:g}" for p in percentiles if isinstance(p, (int, float)))]
    if config.get("rate_qps") is not None and config.get("arrival") not in (None, "poisson"):
        words += ["--arrival", str(config["arrival"])]
    return shlex.join(words)


def sweep_command(config: dict[str, Any]) -> str:
    run = config.get("run") or {}
    words = ["vampy", "sweep", "-m", str(run.get("model"))] + _flags(run, (("vdsp_params", "--vdsp_params"), ("shapes", "-s")), "run")
    space = config.get("space") or {}
    space_flags = (("instances", "--instances"), ("processes", "-p"), ("batch", "-b"), ("threads", "--threads"), ("engines", "--engines"))
    for key, flag in space_flags:
        value = space.get(key)
        if value is not None:
            words += [flag, ",".join(str(v) for v in value) if isinstance(value, list) else str(value)]
    if config.get("max_p99_ms") is not None:
        words += ["--max_p99_ms", f"{config['max_p99_ms']:g}"]
    words += _flags(run, (("iterations", "--point_iterations"), ("duration_s", "--point_duration"), ("warmup_requests", "--warmup"),
                          ("seed", "--seed"), ("token_dtype", "--dtype")), "run")
    return shlex.join(words)


# A family preset's datalist, outputs folder and label file go under the names its script uses (FamilyPreset.needs);
# the first name is the one given otherwise.
_FAMILY_SPELLINGS = {
    "datalist": ("input_npz_path", "npz_txt", "npz_datalist", "vamp_datalist_path"),
    "outputs_dir": ("out_npz_dir", "npz_dir", "result_dir", "pred_npz_dir", "vamp_output_dir"),
    "labels_path": ("labels_path", "label_path", "eval_path", "label_file", "gt"),
}


def _eval_table(config: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    needs = _family_needs(config)
    if not needs:
        return EVAL_FLAGS
    renamed = {key: next((n for n in names if n in needs), names[0]) for key, names in _FAMILY_SPELLINGS.items()}
    table = [(key, f"--{renamed[key]}" if key in renamed else flag) for key, flag in EVAL_FLAGS]
    return (*table, ("labels_path", f"--{renamed['labels_path']}"))


def eval_command(config: dict[str, Any]) -> str:
    words = ["vampy", "eval"] + _flags(config, _eval_table(config), "eval")
    hw = config.get("input_hw")
    if hw is None:
        # without a preset None is --native; with one it is also "not given" (the preset's own size), so say nothing
        words += [] if config.get("preset") else ["--native"]
    elif list(hw) != list(DEFAULT_EVAL_INPUT_HW):
        words += ["--input_shape", *(str(v) for v in hw)]
    if config.get("model_hw"):
        words += ["--model_size", *(str(v) for v in config["model_hw"])]
    if config.get("pair_by_order") is True and not config.get("preset"):  # the family presets pair by order anyway
        words.append("--vamp_flag")
    return shlex.join(words)


def _family_needs(config: dict[str, Any]) -> tuple[str, ...]:
    from vampy.quality.families import family_preset

    preset = family_preset(config.get("preset")) if isinstance(config.get("preset"), str) else None
    return () if preset is None else tuple(preset.needs)


def infer_command(config: dict[str, Any]) -> str:
    words = ["vampy", "infer", "-m", str(config.get("model"))] + _flags(config, INFER_FLAGS, "infer")
    if config.get("native") is True:
        words.append("--native")
    elif config.get("input_hw"):
        words += ["--input_shape", *(str(v) for v in config["input_hw"])]
    return shlex.join(words)


def loadgen_command(config: dict[str, Any]) -> str:
    return shlex.join(["vampy", "loadgen", "-m", str(config.get("model"))] + _flags(config, LOADGEN_FLAGS, "loadgen"))


DIFF_FLAGS = (
    ("datalist", "--datalist"), ("worst", "--worst"), ("data_range", "--data_range"), ("min_snr_db", "--min_snr_db"),
    ("min_cosine", "--min_cosine"), ("min_top1_agree", "--min_top1_agree"), ("boxes", "--boxes"),
    ("box_score_min", "--box_score_min"), ("box_iou", "--box_iou"), ("min_box_recall", "--min_box_recall"),
)


def diff_command(config: dict[str, Any]) -> str:
    return shlex.join(["vampy", "diff", str(config.get("ref_dir")), str(config.get("test_dir"))] + _flags(config, DIFF_FLAGS, "diff"))


BUILDERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "run": run_command, "sweep": sweep_command, "eval": eval_command, "infer": infer_command, "loadgen": loadgen_command,
    "diff": diff_command,
}


def command_line(report: dict[str, Any]) -> str | None:
    """None for kinds whose inputs the report cannot name (compare: its run reports' files;
    compile: its YAML)."""
    build = BUILDERS.get(str(report.get("kind")))
    config = report.get("config")
    return build(config) if build is not None and isinstance(config, dict) else None
