"""The command line that reproduces a report, rebuilt from its config dict (flags that differ from
the defaults only). Shell-quoted: a path with spaces or `;` from an untrusted report stays one word."""
from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from typing import Any

from vampy.config import DEFAULT_EVAL_INPUT_HW, DEFAULT_GT_PATTERN, DEFAULT_PERCENTILES, DEFAULT_SHAVE_PX

# config key -> (flag, default); a default of None: give the flag whenever the value is set.
RUN_FLAGS: tuple[tuple[str, str, Any], ...] = (
    ("vdsp_params", "--vdsp_params", None), ("instances", "-i", 1), ("processes", "-p", 1), ("batch_size", "-b", 1),
    ("shapes", "-s", None), ("iterations", "--iterations", None), ("duration_s", "-t", None), ("warmup_requests", "--warmup", 2),
    ("threads", "--threads", None), ("seed", "--seed", 0), ("token_dtype", "--dtype", None), ("datalist", "--datalist", None),
    ("path_output", "--path_output", None), ("output_dtype", "--output_dtype", "model"), ("request_timeout_s", "--timeout", None),
    ("rate_qps", "--rate", None), ("profile_dir", "--profile", None), ("export_times", "--export_times", None),
    ("device_id", "-d", 0), ("engine", "--engine", "onnxruntime"), ("provider", "--provider", None),
    ("infer_precision", "--infer_precision", None), ("json_path", "--json", None),
)
RUN_SWITCHES = (("resume", "--resume"), ("native_size", "--native_size"))
EVAL_FLAGS = (
    ("src_dir", "--src_dir", None), ("gt_dir", "--gt_dir", None), ("datalist", "--input_npz_path", None),
    ("outputs_dir", "--out_npz_dir", None), ("shave_px", "--scale", DEFAULT_SHAVE_PX), ("ycbcr", "--ycbcr", "opencv"),
    ("gt_pattern", "--gt_pattern", DEFAULT_GT_PATTERN), ("draw_dir", "--draw_dir", None), ("preset", "--preset", None),
    ("scoring_path", "--scoring", None), ("lr_dir", "--lr_dir", None), ("model_type", "--model_type", None),
    ("result_txt", "--result_txt", None), ("label_txt", "--label_txt", None), ("num_bits", "--num_bits", 3),
    ("datasets_name", "--datasets_name", "IIIT5k_3000"), ("image_dir", "--input_image_dir", None), ("txt_dir", "--txt", None),
    ("det_format", "--format", "bbox"), ("json_path", "--json", None),
)
INFER_FLAGS = (
    ("lr_dir", "--lr_image_dir", None), ("vdsp_params", "--vdsp_params_info", None), ("gt_dir", "--hr_image_dir", None),
    ("save_dir", "--save_dir", None), ("pattern", "--pattern", "*"), ("mode", "--mode", None), ("ycbcr", "--ycbcr", "opencv"),
    ("batch_size", "-b", 1), ("shave_px", "--scale", DEFAULT_SHAVE_PX), ("gt_pattern", "--gt_pattern", DEFAULT_GT_PATTERN),
    ("threads", "--threads", None), ("device_id", "-d", 0), ("engine", "--engine", "onnxruntime"), ("provider", "--provider", None),
    ("infer_precision", "--infer_precision", None), ("preset", "--preset", None), ("scoring_path", "--scoring", None),
    ("label_txt", "--label_txt", None), ("result_txt", "--result_txt", None), ("json_path", "--json", None),
)
LOADGEN_FLAGS = (
    ("scenario", "--scenario", "SingleStream"), ("mode", "--mode", "performance"), ("vdsp_params", "--vdsp_params", None),
    ("shapes", "-s", None), ("instances", "-i", 1), ("threads", "--threads", None), ("samples", "--samples", 64),
    ("min_queries", "--min_queries", 100), ("min_duration_s", "--min_duration", 1.0), ("max_duration_s", "--max_duration", 60.0),
    ("target_qps", "--target_qps", None), ("target_latency_ms", "--target_latency_ms", None),
    ("samples_per_query", "--samples_per_query", 8), ("datalist", "--datalist", None), ("path_output", "--path_output", None),
    ("log_dir", "--log_dir", "mlperf_logs"),
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


def _flags(config: dict[str, Any], table: tuple[tuple[str, str, Any], ...]) -> list[str]:
    words: list[str] = []
    for key, flag, default in table:
        value = config.get(key)
        # "" is a family preset's unused folder (EvalConfig.src_dir), not a value the user gave
        if value is not None and value != "" and value != default and not isinstance(value, (dict, bool)):
            words += [flag, _value_word(key, value)]
    return words


def run_command(config: dict[str, Any]) -> str:
    words = ["vampy", "run", "-m", str(config.get("model"))] + _flags(config, RUN_FLAGS)
    words += [flag for key, flag in RUN_SWITCHES if config.get(key) is True]
    percentiles = config.get("percentiles")
    if isinstance(percentiles, list) and tuple(percentiles) != DEFAULT_PERCENTILES:
        words += ["--percentiles", ",".join(f"{p:g}" for p in percentiles if isinstance(p, (int, float)))]
    if config.get("rate_qps") is not None and config.get("arrival") not in (None, "poisson"):
        words += ["--arrival", str(config["arrival"])]
    return shlex.join(words)


def sweep_command(config: dict[str, Any]) -> str:
    run = config.get("run") or {}
    words = ["vampy", "sweep", "-m", str(run.get("model"))] + _flags(run, (("vdsp_params", "--vdsp_params", None), ("shapes", "-s", None)))
    space = config.get("space") or {}
    space_flags = (("instances", "--instances"), ("processes", "-p"), ("batch", "-b"), ("threads", "--threads"), ("engines", "--engines"))
    for key, flag in space_flags:
        value = space.get(key)
        if value is not None:
            words += [flag, ",".join(str(v) for v in value) if isinstance(value, list) else str(value)]
    if config.get("max_p99_ms") is not None:
        words += ["--max_p99_ms", f"{config['max_p99_ms']:g}"]
    words += _flags(run, (("iterations", "--point_iterations", None), ("duration_s", "--point_duration", None),
                          ("warmup_requests", "--warmup", 2), ("seed", "--seed", 0), ("token_dtype", "--dtype", None)))
    return shlex.join(words)


# A family preset's datalist, outputs folder and label file go under the names its script uses (FamilyPreset.needs);
# the first name is the one given otherwise.
_FAMILY_SPELLINGS = {
    "datalist": ("input_npz_path", "npz_txt", "npz_datalist", "vamp_datalist_path"),
    "outputs_dir": ("out_npz_dir", "npz_dir", "result_dir", "pred_npz_dir", "vamp_output_dir"),
    "labels_path": ("labels_path", "label_path", "eval_path", "label_file", "gt"),
}


def _eval_table(config: dict[str, Any]) -> tuple[tuple[str, str, Any], ...]:
    needs = _family_needs(config)
    if not needs:
        return EVAL_FLAGS
    renamed = {key: next((n for n in names if n in needs), names[0]) for key, names in _FAMILY_SPELLINGS.items()}
    table = [(key, f"--{renamed[key]}" if key in renamed else flag, default) for key, flag, default in EVAL_FLAGS]
    return (*table, ("labels_path", f"--{renamed['labels_path']}", None))


def eval_command(config: dict[str, Any]) -> str:
    words = ["vampy", "eval"] + _flags(config, _eval_table(config))
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
    words = ["vampy", "infer", "-m", str(config.get("model"))] + _flags(config, INFER_FLAGS)
    if config.get("native") is True:
        words.append("--native")
    elif config.get("input_hw"):
        words += ["--input_shape", *(str(v) for v in config["input_hw"])]
    return shlex.join(words)


def loadgen_command(config: dict[str, Any]) -> str:
    return shlex.join(["vampy", "loadgen", "-m", str(config.get("model"))] + _flags(config, LOADGEN_FLAGS))


DIFF_FLAGS = (
    ("datalist", "--datalist", None), ("worst", "--worst", 10), ("data_range", "--data_range", None), ("min_snr_db", "--min_snr_db", None),
    ("min_cosine", "--min_cosine", None), ("min_top1_agree", "--min_top1_agree", None), ("boxes", "--boxes", "auto"),
    ("box_score_min", "--box_score_min", 0.25), ("box_iou", "--box_iou", 0.5), ("min_box_recall", "--min_box_recall", None),
)


def diff_command(config: dict[str, Any]) -> str:
    return shlex.join(["vampy", "diff", str(config.get("ref_dir")), str(config.get("test_dir"))] + _flags(config, DIFF_FLAGS))


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
