"""Every flag of `vampy run`, `sweep`, `infer` and `eval`, declared once.

A `Flag` holds the name (the API keyword and the CLI parameter), the CLI spellings (vamp's
included: `-i/--instance`, `--model_prefix_path`), the kind (how a value is checked and converted),
the default, the help text, and where its value goes. From these tables come the typer options
(`vampy/cli/flags.py`), the keyword arguments of `vampy.run`/`sweep`/`infer`/`evaluate` and their
`*_config` builders (`vampy/api.py`), and the argv table of vamp's quirks (`vampy/cli/argv.py`), so
a new flag is one entry here and the CLI, the API and `--dry_run` cannot disagree.
"""
from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from vampy.config.checks import DEFAULT_GT_PATTERN, DEFAULT_SHAVE_PX
from vampy.config.diff import DEFAULT_BOX_IOU, DEFAULT_BOX_SCORE_MIN
from vampy.config.run import DEFAULT_WARMUP_REQUESTS
from vampy.engines.base import DEFAULT_ENGINE
from vampy.errors import UsageError

REQUIRED: Any = ...  # the default of a flag that must be given


@dataclass(frozen=True)
class Flag:
    name: str
    spellings: tuple[str, ...]
    kind: str  # a key of CONVERTERS
    default: Any
    help: str
    # Where the value goes: a RunConfig field name (run only; RunConfig.flat routes it to its option
    # object), or None where the command's builder reads it by name.
    to: str | None = None
    # "both": CLI flag and API keyword; "config": also a keyword of the *_config builder but not of
    # the API function (--dry_run); "cli": presentation only (--plot, --html, -q), never in the API.
    scope: str = "both"
    vendor_note: str | None = None  # vamp-only flags: accepted, ignored, and this note printed

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def takes_value(self) -> bool:
        return self.kind != "bool"


# --- kinds: the API's type checks and conversions (the CLI passes typer's parsed values through them too) ---


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UsageError(f"{name}={value!r}: give a whole number")
    return int(value)


def _float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UsageError(f"{name}={value!r}: give a number")
    if not math.isfinite(value):
        # inf and nan would pass every range check below them (nan compares false) and mean nothing.
        raise UsageError(f"{name}={value!r}: give a finite number")
    return float(value)


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{name}={value!r}: give True or False")
    return value


def _str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise UsageError(f"{name}={value!r}: give a string")
    return value


def _path(name: str, value: Any) -> str:
    if not isinstance(value, (str, os.PathLike)):
        raise UsageError(f"{name}={value!r}: give a path (str or pathlib.Path)")
    path = os.fspath(value)
    if not path.strip():
        # An empty path would mean the current folder to some writers and nothing at all to others.
        raise UsageError(f"{name}: an empty path; give a file or folder name")
    return path


def _plain(value: Any) -> Any:
    """Nested sequences of integers -> nested lists of int (numpy integers included), for JSON."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    raise UsageError(f"shape: {value!r} is not a whole number or a list of them")


def parse_shape_arg(shape: Any) -> tuple[tuple[int, ...], ...] | None:
    """`shape=` (or -s): a string as -s takes it, a sequence of ints, or a sequence of such sequences."""
    from vampy.config.run import parse_shapes

    if shape is None:
        return None
    if isinstance(shape, str):
        return parse_shapes(shape)
    if not isinstance(shape, (list, tuple)):
        raise UsageError(f"shape={shape!r}: give C,H,W as a string '3,256,256', a tuple (3, 256, 256) or a list of tuples")
    # The same checks as -s: the value goes through the one parser as its JSON text.
    return parse_shapes(json.dumps(_plain(shape)))


def _percentiles(name: str, value: Any) -> tuple[float, ...]:
    from vampy.config.run import DEFAULT_PERCENTILES, parse_percentiles

    if isinstance(value, str):
        return parse_percentiles(value) if value else DEFAULT_PERCENTILES
    if not isinstance(value, (list, tuple)) or any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in value):
        raise UsageError(f"{name}={value!r}: give numbers in (0, 100], e.g. (50, 99.9), or a string '50,99.9'")
    return parse_percentiles(",".join(repr(float(v)) for v in value)) if value else DEFAULT_PERCENTILES


def _hw(name: str, value: Any) -> tuple[int, int]:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return (_int(name, value[0]), _int(name, value[1]))
    raise UsageError(f"{name}={value!r}: give H and W as a pair of whole numbers, e.g. (256, 256)")


def _values(name: str, value: Any) -> str:
    """A sweep dimension: "auto", "1,2,4", "1-4", 2 or (1, 2, 4) -> the text sweep's parser reads."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return ",".join(str(_int(name, v)) for v in value) if value else ""
    return str(_int(name, value))


def _names(name: str, value: Any) -> str:
    """"onnxruntime,openvino" or ("onnxruntime", "openvino:bf16") -> one comma-separated string."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    raise UsageError(f"{name}={value!r}: give a string 'onnxruntime,openvino' or a list of names")


CONVERTERS: dict[str, Callable[[str, Any], Any]] = {
    "int": _int, "float": _float, "bool": _bool, "str": _str, "path": _path,
    "shape": lambda name, value: parse_shape_arg(value), "percentiles": _percentiles, "hw": _hw, "values": _values,
    "names": _names,
}
# The API's annotation per kind (its signature is generated from the flags; see vampy/api.py).
API_TYPES: dict[str, str] = {
    "int": "int", "float": "float", "bool": "bool", "str": "str", "path": "PathArg", "shape": "ShapeArg",
    "percentiles": "str | Sequence[float]", "hw": "Sequence[int]", "values": "ValuesArg", "names": "str | Sequence[str]",
}


def convert(flag: Flag, value: Any) -> Any:
    """The value the config holds: None stays None (an optional flag not given); percentiles None is the default set.
    Messages name the flag as the CLI spells it and as the API's keyword: `--timeout (timeout)=inf: ...`."""
    if value is None:
        return _percentiles(flag.name, "") if flag.kind == "percentiles" else None
    return CONVERTERS[flag.kind](f"{long_spelling(flag)} ({flag.name})", value)


def check_keywords(command: str, flags: Sequence[Flag], given: dict[str, Any], scope: str = "api") -> dict[str, Flag]:
    """The flags `command` takes as keywords; Python's own TypeError for any other name it was given."""
    allowed = {f.name: f for f in flags if f.scope != "cli" and (scope == "config" or f.scope == "both")}
    for name in given:
        if name not in allowed:
            raise TypeError(f"{command}() got an unexpected keyword argument {name!r}")
    return allowed


def read_flags(command: str, flags: Sequence[Flag], given: dict[str, Any], scope: str = "config") -> dict[str, Any]:
    """{name: converted value} for every flag in `scope`, defaults filled; Python's own TypeError for an
    unknown or missing keyword (these are keyword arguments, whichever way they came)."""
    allowed = check_keywords(command, flags, given, scope)
    missing = [n for n, f in allowed.items() if f.required and given.get(n) is None]
    if missing:
        raise TypeError(f"{command}() missing required keyword argument(s): {', '.join(repr(n) for n in missing)}")
    return {name: convert(f, given.get(name, f.default)) for name, f in allowed.items()}


def api_flags(flags: Sequence[Flag]) -> tuple[Flag, ...]:
    return tuple(f for f in flags if f.scope == "both")


def flag_named(flags: Sequence[Flag], name: str) -> Flag:
    return next(f for f in flags if f.name == name)


def long_spelling(flag: Flag) -> str:
    return next((s for s in flag.spellings if s.startswith("--")), flag.spellings[0])


# --- shared declarations ---

_MODEL_HELP = "Model: a .onnx file, a vamp prefix (dir/mod -> dir/mod.onnx) or a folder holding mod.onnx."
_VDSP_HELP = "vdsp_params preprocessing file (JSON or YAML)."
_HTML = Flag("html", ("--html",), "path", None, "Also write the self-contained HTML page of `vampy report` for this result.", scope="cli")
_QUIET_BAR = Flag("quiet", ("-q", "--quiet"), "bool", False, "No progress bar.", scope="cli")
_QUIET_SCORED = Flag("quiet", ("-q", "--quiet"), "bool", False,
                     "No progress bar, and no 'differs from the family's script' lines (they stay in --json's deviations).", scope="cli")
_JSON_REPORT = "Write the full report (config, environment, per-process figures, histograms) as JSON."

# --- vampy run ---

RUN_FLAGS: tuple[Flag, ...] = (
    Flag("model", ("-m", "--model"), "path", REQUIRED, _MODEL_HELP),
    Flag("vdsp_params", ("--vdsp_params",), "path", None, _VDSP_HELP, to="vdsp_params"),
    Flag("instances", ("-i", "--instance"), "int", 1, "Model instances per process, each driven concurrently.", to="instances"),
    Flag("processes", ("-p", "--processes"), "int", 1, "Worker processes (vamp's `p 1` works too).", to="processes"),
    Flag("batch_size", ("-b", "--batch_size"), "int", 1, "Samples per request.", to="batch_size"),
    Flag("shape", ("-s", "--shape"), "shape", None,
         "Input image shape C,H,W: 3,256,256 or [3,256,256]; several inputs: [[1,512],[1,512]]. Default: from the vdsp file or the model.",
         to="shapes"),
    Flag("device", ("-d", "--device"), "int", 0, "Device id: the GPU with --provider cuda/tensorrt; on the CPU only recorded.",
         to="device_id"),
    Flag("iterations", ("--iterations",), "int", None, "Samples per process (default 1024 unless -t is given).", to="iterations"),
    Flag("duration", ("-t", "--duration"), "float", None, "Seconds to measure; with --iterations too, whichever comes first.",
         to="duration_s"),
    Flag("warmup", ("--warmup",), "int", DEFAULT_WARMUP_REQUESTS,
         "Warm-up requests per instance, excluded from the figures and reported apart.", to="warmup_requests"),
    Flag("threads", ("--threads",), "int", None,
         "Engine threads per instance: ONNX Runtime intra-op threads, OpenVINO threads per stream "
         "(default: cores / (processes x instances), at least 1).", to="threads"),
    Flag("percentiles", ("--percentiles",), "percentiles", None,
         "Extra latency percentiles, e.g. 50,99.9 (p50, p90, p95, p99 are always shown).", to="percentiles"),
    Flag("seed", ("--seed",), "int", 0, "Seed of the synthetic input.", to="seed"),
    Flag("dtype", ("--dtype",), "str", None, "Integer type of token inputs (int32, int64, uint32, ...); default: the model's.",
         to="token_dtype"),
    Flag("datalist", ("--datalist",), "path", None, "Text file, one input npz path per line: run the data set.", to="datalist"),
    Flag("path_output", ("--path_output",), "path", None, "Folder for output_NNNNNN.npz (needs --datalist).", to="path_output"),
    Flag("output_dtype", ("--output_dtype",), "str", "model",
         "Output npz dtype: model (as the model gives it), fp16 (vendor parity) or fp32.", to="output_dtype"),
    Flag("resume", ("--resume",), "bool", False, "Skip datalist lines whose output already exists and is valid.", to="resume"),
    Flag("timeout", ("--timeout",), "float", None,
         "Seconds one request may take before its worker is failed (default: 20x the slowest warm-up request, at least 60 s; "
         "0 turns it off).", to="request_timeout_s"),
    Flag("rate", ("--rate",), "float", None,
         "Open loop: samples per second over all processes, issued on a schedule whatever the completions; "
         "latency counts from the scheduled arrival.", to="rate_qps"),
    Flag("arrival", ("--arrival",), "str", "poisson", "Open-loop arrivals: poisson (exponential gaps) or constant.", to="arrival"),
    Flag("profile", ("--profile",), "path", None,
         "Folder for the engine's per-worker profiles (ONNX Runtime's Chrome traces, OpenVINO's per-layer counters); "
         "prints the top operators.", to="profile_dir"),
    Flag("export_times", ("--export_times",), "path", None,
         "Write one row per request with every timestamp (ns) to FILE.csv or FILE.json.", to="export_times"),
    Flag("engine", ("--engine",), "str", DEFAULT_ENGINE,
         "Runtime: onnxruntime (default), openvino (pip install 'vampy[openvino]') or null (no runtime: measures "
         "vampy's own cost, see --null_us).", to="engine"),
    Flag("provider", ("--provider",), "str", None,
         "onnxruntime only: cpu (default), cuda or tensorrt (pip install 'vampy[gpu]'; -d is the GPU).", to="provider"),
    Flag("infer_precision", ("--infer_precision",), "str", None,
         "openvino only: f32, bf16 or f16 (default: the CPU's own choice, bf16 where it has it; always reported).",
         to="infer_precision"),
    Flag("null_us", ("--null_us",), "float", 0.0,
         "--engine null only: microseconds each request spends computing (a busy-wait on one core; default 0).",
         to="null_compute_us"),
    Flag("native_size", ("--native_size",), "bool", False,
         "Keep each image's own size (no vdsp resize); needs a model with dynamic H/W.", to="native_size"),
    Flag("json", ("--json",), "path", None, _JSON_REPORT, to="json_path"),
    Flag("ray", ("--ray",), "str", None,
         "With --datalist: run the shards on the Ray cluster at ADDRESS (HOST:PORT, ray://HOST:PORT or auto); outputs are "
         "written here. pip install 'vampy[ray]'; see docs/cluster.md.", to="ray_address"),
    Flag("hwconfig", ("--hwconfig",), "str", None, "vamp-only; accepted and ignored.",
         vendor_note="--hwconfig is vendor hardware configuration; ignored (vampy runs on --engine, --provider)"),
    Flag("backend", ("--backend",), "str", None, "vamp-only; accepted and ignored.",
         vendor_note="--backend selects the vendor's runtime; vampy's is --engine (default onnxruntime, CPU)"),
    Flag("forward_mode", ("--forward_mode",), "str", None, "vamp-only; accepted (vampy is always synchronous per instance).",
         vendor_note="--forward_mode: vampy always measures synchronous requests per instance "
                     "(its model latency is the session call alone)"),
    Flag("dry_run", ("--dry_run",), "bool", False, "Print the resolved configuration as JSON and exit 0, loading nothing.",
         to="dry_run", scope="config"),
    Flag("plot", ("--plot",), "path", None,
         "Write a PNG: e2e and model latency histograms, and throughput per stability window over time.", scope="cli"),
    _HTML,
    _QUIET_BAR,
)


def run_config_from(values: dict[str, Any]) -> Any:
    """RunConfig from read_flags(RUN_FLAGS, ...)'s values: each flag to its field, vamp-only flags noted."""
    from vampy.config.run import RunConfig

    fields = {f.to: values[f.name] for f in RUN_FLAGS if f.to is not None and f.name in values}
    vendor = {f.name: values[f.name] for f in RUN_FLAGS if f.vendor_note and values.get(f.name) is not None}
    return RunConfig.flat(values["model"], vendor_flags=vendor, **fields)


# --- vampy sweep ---

SWEEP_FLAGS: tuple[Flag, ...] = (
    Flag("model", ("-m", "--model"), "path", REQUIRED, _MODEL_HELP),
    Flag("vdsp_params", ("--vdsp_params",), "path", None, _VDSP_HELP),
    Flag("shape", ("-s", "--shape"), "shape", None, "Input image shape C,H,W, e.g. [3,256,256] (as `vampy run -s`)."),
    Flag("instances", ("-i", "--instances"), "values", "auto", "Model instances per process: auto, a list 1,2,4 or a range 1-4."),
    Flag("processes", ("-p", "--processes"), "values", "auto", "Worker processes: auto, a list or a range."),
    Flag("batch", ("-b", "--batch"), "values", "auto",
         "Samples per request: auto, a list or a range (a model with a fixed batch keeps it)."),
    Flag("threads", ("--threads",), "values", "auto", "Engine threads per instance: auto, a list or a range."),
    Flag("engines", ("--engines",), "names", DEFAULT_ENGINE,
         "Engines to search, each on its own ladders, pooled into one ranking: onnxruntime,openvino; "
         "a precision as openvino:bf16,openvino:f32."),
    Flag("search", ("--search",), "str", None,
         "auto (climb) or grid (every combination). Default: auto when any dimension is auto, else grid."),
    Flag("max_p99_ms", ("--max_p99_ms",), "float", None, "Only points whose p99 e2e latency is at most this many ms can win."),
    Flag("point_duration", ("--point_duration",), "float", None,
         "Seconds each point measures (default 4 unless --point_iterations is given)."),
    Flag("point_iterations", ("--point_iterations",), "int", None,
         "Samples per process each point measures; with --point_duration, whichever comes first."),
    Flag("warmup", ("--warmup",), "int", 1, "Warm-up requests per instance at each point (excluded from its figures)."),
    Flag("seed", ("--seed",), "int", 0, "Seed of the synthetic input."),
    Flag("dtype", ("--dtype",), "str", None, "Integer type of token inputs (as `vampy run --dtype`)."),
    Flag("csv", ("--csv",), "path", None, "Write every point as CSV (rewritten after each point)."),
    Flag("json", ("--json",), "path", None,
         "Write the sweep as JSON: points, winner, command line, noise, search log (rewritten after each point)."),
    Flag("ray", ("--ray",), "str", None,
         "Run each point alone on one node of the Ray cluster at ADDRESS (HOST:PORT, ray://HOST:PORT or auto), grid points "
         "on several nodes at once; points on different kinds of machine are ranked per kind. pip install 'vampy[ray]'; "
         "see docs/cluster.md."),
    Flag("accuracy_datalist", ("--accuracy_datalist",), "path", None,
         "Check each engine once on this datalist against the reference's outputs (with --min_snr_db): an engine under the "
         "gate keeps its points in the table, marked, but none can win (docs/validation.md)."),
    Flag("min_snr_db", ("--min_snr_db",), "float", None,
         "The accuracy gate: the lowest SNR (dB) of any line's output against the reference, as `vampy diff` computes it."),
    Flag("reference_model", ("--reference_model",), "path", None,
         "The accuracy check's reference, run on ONNX Runtime (CPU) in its own precision; default: the swept model "
         "(give the fp32 model when sweeping an int8 one)."),
    Flag("plot", ("--plot",), "path", None, "Write throughput against p99 latency, Pareto front marked, as PNG.", scope="config"),
    _HTML,
    Flag("quiet", ("-q", "--quiet"), "bool", False, "No line per point on stderr.", scope="cli"),
)

# --- vampy infer ---

# Declared once for eval and infer (imagenet_topk's two vendor flags).
_RESULT_TXT = Flag("result_txt", ("--result_txt",), "path", None,
                   "imagenet_topk: write the decode stage's result file here (5 lines an image, byte-identical to vamp_npz_decode.py's).")
_LABEL_TXT = Flag("label_txt", ("--label_txt",), "path", None,
                  "Class names, one a line by class id: imagenet_topk (the zoo's imagenet.txt), coco_det and coco_det_stretch "
                  "(the zoo's coco.txt).")

INFER_FLAGS: tuple[Flag, ...] = (
    Flag("lr_image_dir", ("--lr_image_dir",), "path", REQUIRED,
         "Folder of the low-resolution (bicubic-upscaled) images, e.g. Set5 x4."),
    Flag("model", ("-m", "--model_prefix_path", "--model"), "path", REQUIRED, _MODEL_HELP),
    Flag("vdsp_params", ("--vdsp_params_info", "--vdsp_params"), "path", None,
         "vdsp_params preprocessing file (JSON or YAML), as `vampy run` takes it."),
    # Not required by the CLI: --preset imagenet_topk has no ground-truth folder (InferConfig checks it for the rest).
    Flag("hr_image_dir", ("--hr_image_dir", "--gt_dir"), "path", None,
         "Folder of the ground-truth images (may be --lr_image_dir itself; see --gt_pattern); with a segmentation --preset the "
         "label files, named by the preset's rule (eval's --gt_dir). Required but for --preset imagenet_topk."),
    Flag("save_dir", ("--save_dir",), "path", None,
         "Write NAME.png here, as eval's --draw_dir: the colour image (super-resolution: Y from the model, chroma from the "
         "input), or the predicted label map as a grey PNG (segmentation presets)."),
    Flag("device", ("--device", "-d"), "int", 0, "Device id, recorded in the report (vampy runs on the CPU)."),
    Flag("batch", ("--batch", "-b"), "int", 1,
         "Images per model request (consecutive images of one shape; needs a model with a dynamic batch when > 1)."),
    Flag("pattern", ("--pattern",), "str", "*",
         "Glob relative to --lr_image_dir, e.g. '*_scale_4.bmp' (quote it); only image files count."),
    Flag("mode", ("--mode",), "str", None,
         "What image2npz --mode the images go through: y3, rgb or gray (default: rgb for a 3-channel model, else y3)."),
    Flag("ycbcr", ("--ycbcr",), "str", "opencv",
         "Y definition for y3/gray and for scoring: opencv (COLOR_BGR2YCrCb) or bt601 (MATLAB rgb2ycbcr)."),
    Flag("input_shape", ("--input_shape",), "hw", None,
         "H W the vdsp preprocessing resizes to, and the size scores are computed at (default: the vdsp file's / the model's)."),
    Flag("native", ("--native",), "bool", False,
         "Each image at its own size (model with dynamic H/W), scored at its ground truth's size; not with --input_shape."),
    Flag("scale", ("--scale",), "int", DEFAULT_SHAVE_PX, "Border to shave before scoring, in pixels (the SR scale, by convention)."),
    Flag("gt_pattern", ("--gt_pattern",), "str", DEFAULT_GT_PATTERN,
         "Ground-truth file name in --hr_image_dir; {stem} is the image name, {base} the same without _scale_N."),
    Flag("threads", ("--threads",), "int", None, "Engine threads (default: all cores, as `vampy run -i 1 -p 1`)."),
    Flag("engine", ("--engine",), "str", DEFAULT_ENGINE, "Runtime: onnxruntime (default) or openvino."),
    Flag("provider", ("--provider",), "str", None, "onnxruntime only: cpu (default), cuda or tensorrt."),
    Flag("infer_precision", ("--infer_precision",), "str", None, "openvino only: f32, bf16 or f16 (default: the CPU's own choice)."),
    Flag("preset", ("--preset",), "str", None,
         "Score as this `vampy eval --preset` does (docs/eval.md): images fed as image2npz --preset, ground truth named by the "
         "preset (RGB models; ecbsr: a Y model recoloured with the input's chroma; realsr: the originals in both folders); "
         "--gt_pattern, --ycbcr and --scale do not apply. Also imagenet_topk (give --label_txt; the label is each image's "
         "synset folder) and the segmentation presets (--hr_image_dir/--gt_dir: the label files); docs/infer.md."),
    Flag("scoring", ("--scoring",), "path", None,
         "YAML/JSON file of scoring fields (docs/eval.md), over --preset's or the defaults, as `vampy eval --scoring`."),
    _LABEL_TXT,
    _RESULT_TXT,
    Flag("json", ("--json",), "path", None, "Write the report (per-image scores, failures, timing) as JSON."),
    _HTML,
    _QUIET_SCORED,
)

# --- vampy eval ---

EVAL_FLAGS: tuple[Flag, ...] = (
    Flag("src_dir", ("--src_dir",), "path", None,
         "Folder of the source (bicubic-upscaled) images the npz inputs were made from (the Y eval, and --preset drrn/vdsr)."),
    # Required by every preset but imagenet_topk (its vendor flags are --npz_txt/--npz_dir): eval_config checks them.
    Flag("gt_dir", ("--gt_dir",), "path", None,
         "Folder of the ground truth: images (super-resolution, low light, colorization), label maps (segmentation), masks "
         "(salient objects), label files (text detection)."),
    Flag("input_npz_path", ("--input_npz_path",), "path", None, "The datalist the outputs were made from."),
    Flag("out_npz_dir", ("--out_npz_dir",), "path", None, "Folder of the output npz files."),
    Flag("input_shape", ("--input_shape",), "hw", None,
         "H W to compare at (ground truth and source resized bilinearly); default 256 256. With a preset: the two numbers as "
         "that preset's script reads them (drrn, vdsr, ecbsr, fsrnet, sparnet; the segmentation, salient-object, colorization "
         "and low-light presets: the model's input size; --list_presets says which need it)."),
    Flag("native", ("--native",), "bool", False, "Compare at the ground truth's own size (no resize); not with --input_shape."),
    Flag("vamp_flag", ("--vamp_flag",), "bool", False,
         "Pair the i-th of the sorted output files with the i-th datalist line (vamp's output_NNNNNN.npz); without it, pair by "
         "input name. Presets always pair by order, as their scripts do."),
    Flag("scale", ("--scale",), "int", DEFAULT_SHAVE_PX, "Border to shave before scoring, in pixels (the SR scale, by convention)."),
    Flag("ycbcr", ("--ycbcr",), "str", "opencv", "Y definition: opencv (COLOR_BGR2YCrCb) or bt601 (MATLAB rgb2ycbcr, the VDSR paper's)."),
    Flag("gt_pattern", ("--gt_pattern",), "str", DEFAULT_GT_PATTERN,
         "Ground-truth file name in --gt_dir; {stem} is the source name, {base} the same without _scale_N."),
    Flag("draw_dir", ("--draw_dir",), "path", None,
         "Write NAME.png images here (the decoded output; for Y models with chroma from the source)."),
    Flag("preset", ("--preset",), "str", None,
         "Score as this zoo family's script does (see --list_presets and docs/eval.md); without it: the Y-channel eval (= vdsr)."),
    Flag("scoring", ("--scoring",), "path", None,
         "YAML/JSON file of scoring fields (docs/eval.md), over --preset's or the defaults: for a model the zoo does not have."),
    Flag("lr_dir", ("--lr_dir",), "path", None, "ecbsr: folder of the LR images (NAME.png) whose chroma recolours the Y output."),
    Flag("model_type", ("--model_type",), "str", None, "real_esrgan: x4plus (GT suffix x4), anything else x2; as its script."),
    # The other families' vendor flags (ZOO-EVAL.md): imagenet_topk's two scripts, PySOD's table precision.
    Flag("npz_txt", ("--npz_txt",), "path", None,
         "The datalist the outputs were made from, as --input_npz_path (imagenet_topk's vamp_npz_decode.py calls it npz_txt)."),
    Flag("npz_dir", ("--npz_dir",), "path", None,
         "The folder of output npz files, as --out_npz_dir (imagenet_topk's vamp_npz_decode.py calls it npz_dir)."),
    _RESULT_TXT,
    _LABEL_TXT,
    Flag("num_bits", ("--num_bits",), "int", 3, "sod_*: decimals of the printed table (PySOD's --num-bits); the report is unrounded."),
    # The NLP and text-recognition presets' vendor flags (ZOO-EVAL.md 2.11, 2.12).
    Flag("result_dir", ("--result_dir",), "path", None, "imdb, mrpc, ner_people_daily: the folder of output npz files."),
    Flag("labels_path", ("--labels_path",), "path", None, "imdb: the label file, one integer class a line."),
    Flag("eval_path", ("--eval_path",), "path", None, "mrpc: MRPC's dev.tsv (a header line, then the label in column 0)."),
    Flag("label_path", ("--label_path",), "path", None, "ner_people_daily: the label file, one [id,id,...] line a sentence."),
    Flag("label_file", ("--label_file",), "path", None, "ctc_*: the label file, 'path label' a line."),
    Flag("pred_npz_dir", ("--pred_npz_dir",), "path", None, "ctc_*: the folder of output_NNNNNN.npz files."),
    Flag("npz_datalist", ("--npz_datalist",), "path", None, "ctc_*: the datalist the outputs were made from."),
    Flag("datasets_name", ("--datasets_name",), "str", "IIIT5k_3000", "ctc_*: the name printed before the result, as the script does."),
    # The detection presets' vendor flags (ZOO-EVAL.md 2.2): the reader's and eval_map.py's.
    Flag("format", ("--format",), "str", "bbox", "coco_det*: COCOeval's iouType (eval_map.py's --format); only bbox is scored."),
    Flag("input_image_dir", ("--input_image_dir",), "path", None, "coco_det*: the original images (read for their sizes)."),
    Flag("model_size", ("--model_size",), "hw", None, "coco_det*: the model's input H W the boxes are in (default 640 640)."),
    Flag("vamp_datalist_path", ("--vamp_datalist_path",), "path", None, "coco_det*: the datalist the outputs were made from."),
    Flag("vamp_output_dir", ("--vamp_output_dir",), "path", None, "coco_det*: the folder of output npz files."),
    Flag("txt", ("--txt", "--save_dir"), "path", None,
         "coco_det*: write one <stem>.txt per image here (the reader's files) and score them (--save_dir: coco_det_yolox's name)."),
    Flag("gt", ("--gt",), "path", None, "coco_det*: COCO's instances json (eval_map.py's --gt)."),
    Flag("draw_image", ("--draw_image",), "str", None,
         "coco_det_yolox: accepted and ignored (the script's type=bool flag took any value as True); nothing is drawn."),
    Flag("json", ("--json",), "path", None, "Write the full report as JSON."),
    Flag("list_presets", ("--list_presets",), "bool", False, "Print the presets and their parameters, then exit.", scope="cli"),
    _HTML,
    _QUIET_SCORED,
)

# --- vampy loadgen ---

LOADGEN_FLAGS: tuple[Flag, ...] = (
    Flag("model", ("-m", "--model"), "path", REQUIRED, _MODEL_HELP),
    Flag("scenario", ("--scenario",), "str", "SingleStream", "SingleStream, MultiStream, Server or Offline."),
    Flag("mode", ("--mode",), "str", "performance",
         "performance, or accuracy (every datalist sample once, outputs written as vamp npz)."),
    Flag("vdsp_params", ("--vdsp_params",), "path", None, _VDSP_HELP),
    Flag("shape", ("-s", "--shape"), "shape", None, "Input shape C,H,W as for vampy run."),
    Flag("instances", ("-i", "--instance"), "int", 1, "Model instances (threads of this process) serving LoadGen's queries."),
    Flag("threads", ("--threads",), "int", None, "Engine threads per instance (default: cores / instances)."),
    Flag("engine", ("--engine",), "str", DEFAULT_ENGINE, "Runtime: onnxruntime (default) or openvino."),
    Flag("provider", ("--provider",), "str", None, "onnxruntime only: cpu (default), cuda or tensorrt."),
    Flag("infer_precision", ("--infer_precision",), "str", None, "openvino only: f32, bf16 or f16."),
    Flag("samples", ("--samples",), "int", 64, "Query sample library size in performance mode (synthetic inputs)."),
    Flag("min_queries", ("--min_queries",), "int", 100, "LoadGen's minimum query count."),
    Flag("min_duration", ("--min_duration",), "float", 1.0, "LoadGen's minimum duration, seconds."),
    Flag("max_duration", ("--max_duration",), "float", 60.0, "LoadGen's maximum duration, seconds."),
    Flag("target_qps", ("--target_qps",), "float", None, "Server: the Poisson arrival rate (required); Offline: the expected rate."),
    Flag("target_latency_ms", ("--target_latency_ms",), "float", None,
         "Server: the latency bound LoadGen checks its percentile against."),
    Flag("samples_per_query", ("--samples_per_query",), "int", 8, "MultiStream: samples per query."),
    Flag("datalist", ("--datalist",), "path", None, "Accuracy mode: the npz datalist."),
    Flag("path_output", ("--path_output",), "path", None, "Accuracy mode: folder for output_NNNNNN.npz."),
    Flag("log_dir", ("--log_dir",), "path", "mlperf_logs", "Folder for LoadGen's own logs (mlperf_log_summary.txt, ...)."),
    Flag("json", ("--json",), "path", None, "Write both summaries and their comparison as JSON.", scope="cli"),
)


def loadgen_config_from(values: dict[str, Any]) -> Any:
    """LoadgenConfig from read_flags(LOADGEN_FLAGS, ...)'s values (flag names to its field names)."""
    from vampy.config.loadgen import LoadgenConfig

    renamed = {"shape": "shapes", "min_duration": "min_duration_s", "max_duration": "max_duration_s"}
    return LoadgenConfig(**{renamed.get(name, name): value for name, value in values.items()})

# --- vampy diff ---

DIFF_FLAGS: tuple[Flag, ...] = (
    # Spellings without a dash are positional arguments (vampy/cli/flags.py).
    Flag("ref_dir", ("REF_DIR",), "path", REQUIRED, "The reference run's --path_output folder (output_NNNNNN.npz), e.g. fp32."),
    Flag("test_dir", ("TEST_DIR",), "path", REQUIRED, "The folder of the run under test, from the same datalist, e.g. int8."),
    Flag("datalist", ("--datalist",), "path", REQUIRED, "The datalist both runs were given: line i is output_{i:06d}.npz on each side."),
    Flag("worst", ("--worst",), "int", 10,
         "List this many lines with the lowest SNR (each line's worst tensor), and as many with the lowest box recall."),
    Flag("data_range", ("--data_range",), "float", None,
         "psnr_db's value range R (1 for [0, 1] outputs, 255 for pixels); default: each line's reference max - min."),
    Flag("min_snr_db", ("--min_snr_db",), "float", None, "Gate: exit 8 when any line's SNR (dB) of any output is below this."),
    Flag("min_cosine", ("--min_cosine",), "float", None, "Gate: exit 8 when any line's cosine similarity is below this, e.g. 0.999."),
    Flag("min_top1_agree", ("--min_top1_agree",), "float", None,
         "Gate: exit 8 when the top-1 agreement over every [N, C] score row is below this fraction, e.g. 0.99."),
    # Detectors after NMS (vampy/quality/drift_boxes.py).
    Flag("boxes", ("--boxes",), "str", "auto",
         "Compare detections after NMS as boxes: auto (when the outputs are class ids [1,N,1], scores [1,N,1], boxes "
         "[1,N,4]), on (require that layout in output_0..2) or off."),
    Flag("box_score_min", ("--box_score_min",), "float", DEFAULT_BOX_SCORE_MIN,
         "Boxes: compare the detections scoring at least this on each side (padding rows of -1 are always dropped)."),
    Flag("box_iou", ("--box_iou",), "float", DEFAULT_BOX_IOU,
         "Boxes: a test box matches a reference box of its class at this IoU or more."),
    Flag("min_box_recall", ("--min_box_recall",), "float", None,
         "Gate: exit 8 when any line's box recall (matched / reference detections) is below this fraction, e.g. 1."),
    Flag("json", ("--json",), "path", None, "Write the report (per-line records, summaries, worst lines, gates) as JSON.", scope="cli"),
    _HTML,
    _QUIET_BAR,
)


def diff_config_from(values: dict[str, Any]) -> Any:
    """DiffConfig from read_flags(DIFF_FLAGS, ...)'s values."""
    from vampy.config.diff import DiffConfig

    return DiffConfig(**{name: value for name, value in values.items() if name in DiffConfig.__dataclass_fields__})
