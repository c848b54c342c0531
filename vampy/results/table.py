"""`vampy table`: model folders + run and eval reports -> one precision table (Markdown, CSV).

Pure: reads JSON and file sizes, never an ONNX graph (the caller hands in a counter for folders
whose mod.json has no MACs), never prints. Matching (documented in docs/compile.md, "vampy table"):

  run report   -> `--run DIR=FILE` when given; else the folder whose mod.onnx is the report's
                  model.path (both resolved against the current folder); else the one folder whose
                  mod.json output.sha256 equals the report's copy of it (a compiled model run from
                  another folder or machine).
  eval report  -> `--eval DIR=FILE` when given; else the model of the run (any --run report, matched
                  as above) whose --path_output is the eval's --out_npz_dir. An eval report does not
                  name its model, so nothing else is guessed.

A folder gets one row per engine its run reports ran on (the report's `engine` block; reports from
before it are onnxruntime), so the fp32 model measured with ONNX Runtime and with OpenVINO's bf16 are
two rows. Each row may get one run report for its speed columns (a synthetic-input run is
preferred over a --datalist run) and one eval report (matched to the engine of the run whose
--path_output it scored; an explicit DIR=FILE eval goes to the folder's first engine); more is an
error naming the files. Unmatched reports are notes.
"""
from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vampy.engines.base import run_label, what_ran
from vampy.errors import InputError, UsageError, VampyError
from vampy.results.schema import json_float, read_json, read_report_data, schema_versions, versions_text

MODEL_FILE = "mod.onnx"
METADATA_FILE = "mod.json"
FLOPS_PER_MAC = 2  # the project's convention, vampy.models.graph.FLOPS_PER_MAC (not imported: pure layer)
BYTES_PER_MB = 1_000_000
MISSING = "-"
MAX_SOURCE_HOPS = 4  # compile -> compile -> ... -> zoo: how far to follow source checkpoints
MAX_SIDECAR_BYTES = 1 << 20  # a checkpoint's sidecar is a zoo mod.json of a few kB (models.resolve's limit too)
RANDOM_MARK = "(random weights)"
INCOMPLETE_MARK = "(INCOMPLETE)"
GLOB_CHARS = "*?["

# (macs, params, input shapes the count was made at), or a VampyError when it cannot count.
GraphCounter = Callable[[Path], tuple[int, int, Sequence[Sequence[int | str | None]]]]


@dataclass(frozen=True)
class ModelFolder:
    """One model folder: its mod.json (None when absent) and the size of its mod.onnx."""

    folder: Path  # as the user gave it
    name: str
    metadata: dict[str, Any] | None
    size_bytes: int | None

    @property
    def key(self) -> Path:
        return self.folder.resolve()


@dataclass(frozen=True)
class Report:
    """A run or eval report; `folder` is the resolved model folder of an explicit DIR=FILE pair."""

    path: Path
    data: dict[str, Any]
    folder: Path | None = None


@dataclass(frozen=True)
class Row:
    model: str
    folder: str
    engine: str | None  # what the run ran on, None without a run
    precision: str | None  # what ran (the run's engine says), else what the folder's mod.json says
    calibration: str | None
    input_shape: str | None  # the shape GFLOPs were counted at
    gflops: float | None
    params_m: float | None
    psnr_db: float | None
    ssim: float | None
    accuracy_meaningful: bool | None  # False: random weights, do not quote PSNR/SSIM
    eval_images_scored: int | None
    eval_images_total: int | None
    throughput_qps: float | None
    e2e_p50_ms: float | None
    e2e_p99_ms: float | None
    run_complete: bool | None
    size_mb: float | None
    run_report: str | None
    eval_report: str | None
    run_settings: str | None
    eval_settings: str | None
    # compile's self-check (mod.json `drift`): the lowest and mean SNR over its samples, worst output; None when unchecked
    drift_snr_min_db: float | None = None
    drift_snr_mean_db: float | None = None
    drift_samples: int | None = None
    # A zoo family preset's eval (vampy/quality/families.py): its headline metric's name (as its script prints it) and value
    metric_name: str | None = None
    metric_value: float | None = None


@dataclass(frozen=True)
class Table:
    rows: tuple[Row, ...]
    notes: tuple[str, ...]  # unmatched reports, models whose GFLOPs could not be counted


# --- reading the inputs ---


def collect(
    paths: Sequence[str], run_args: Sequence[str] = (), eval_args: Sequence[str] = (), count: GraphCounter | None = None,
) -> Table:
    """Command-line words -> Table. `paths`: model folders, plus report files sorted by their kind
    (a shell glob after --eval expands to several words, and only the first is the flag's value)."""
    folders: list[ModelFolder] = []
    loose: list[Report] = []
    for word in paths:
        for path in expand(word, "model folder"):
            _sort_path(path, folders, loose)
    folders = _unique(folders)
    if not folders:
        raise UsageError("give at least one model folder (holding mod.onnx and mod.json), e.g. deploy_weights/*/")
    runs = [r for r in loose if r.data["kind"] == "run"] + _flag_reports(run_args, "--run", "run", folders)
    evals = [r for r in loose if r.data["kind"] == "eval"] + _flag_reports(eval_args, "--eval", "eval", folders)
    return build_table(folders, runs, evals, count)


def expand(word: str, what: str) -> list[Path]:
    """A path, or a glob the shell left unexpanded (quoted, or matching nothing)."""
    if Path(word).exists() or not any(c in word for c in GLOB_CHARS):
        return [Path(word)]
    matches = sorted(glob.glob(word))
    if not matches:
        raise InputError(f"{word}: matches no {what}")
    return [Path(m) for m in matches]


def _sort_path(path: Path, folders: list[ModelFolder], loose: list[Report]) -> None:
    if path.is_dir():
        folders.append(load_model_folder(path))
    elif path.name in (MODEL_FILE, METADATA_FILE) and path.is_file():
        folders.append(load_model_folder(path.parent))
    elif path.is_file():
        loose.append(Report(path, _report_of_any_kind(path)))
    else:
        raise InputError(f"{path}: no such folder or file; give model folders (e.g. deploy_weights/*/) and report files")


def _report_of_any_kind(path: Path) -> dict[str, Any]:
    data = read_json(path)
    if data.get("kind") not in ("run", "eval"):
        raise InputError(
            f"{path}: is a '{data.get('kind')}' report; give model folders, run reports (`vampy run --json`) "
            "and eval reports (`vampy eval --json`)"
        )
    return data


def _unique(folders: list[ModelFolder]) -> list[ModelFolder]:
    seen: dict[Path, ModelFolder] = {}
    for folder in folders:
        seen.setdefault(folder.key, folder)
    return list(seen.values())


def load_model_folder(folder: Path) -> ModelFolder:
    """A folder written by `vampy compile` or `vampy zoo`; mod.json is optional, not its format."""
    model_path, metadata_path = folder / MODEL_FILE, folder / METADATA_FILE
    if not model_path.is_file() and not metadata_path.is_file():
        written_by = "give folders written by `vampy compile` or `vampy zoo`"
        raise InputError(f"{folder}: holds neither {MODEL_FILE} nor {METADATA_FILE}; {written_by}")
    # exists(), not is_file(): a mod.json that is a device or a pipe is refused by the bounded reader, not skipped.
    metadata = read_metadata(metadata_path) if metadata_path.exists() else None
    size_bytes = model_path.stat().st_size if model_path.is_file() else None
    return ModelFolder(folder, folder.resolve().name, metadata, size_bytes)


def read_metadata(path: Path) -> dict[str, Any]:
    """mod.json of `vampy compile` (kind 'compile') or `vampy zoo` (no kind); anything else is an error."""
    data = _json_object(path)
    kind = data.get("kind")
    if kind is None and "vampy_version" in data and "model" in data:
        return data
    if kind == "compile" and data.get("schema_version") in schema_versions(kind):
        return data
    if kind == "compile":
        version = data.get("schema_version")
        raise InputError(f"{path}: a compile mod.json of schema_version {version}, expected {versions_text(kind)}; recompile the model")
    not_ours = "is not a mod.json of `vampy compile` or `vampy zoo` (vamp's own mod.json is another format)"
    what = f"is a '{kind}' report" if kind else not_ours
    raise InputError(f"{path}: {what}; a model folder's {METADATA_FILE} must come from `vampy compile` or `vampy zoo`")


def _json_object(path: Path) -> dict[str, Any]:
    data = read_report_data(path, f"a model folder's {METADATA_FILE} comes from `vampy compile` or `vampy zoo`")
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a JSON object")
    return data


def _flag_reports(args: Sequence[str], flag: str, kind: str, folders: list[ModelFolder]) -> list[Report]:
    reports: list[Report] = []
    for arg in args:
        folder, word = split_pair(arg, flag, folders)
        for path in expand(word, f"{kind} report"):
            try:
                reports.append(Report(path, read_json(path, kind), folder))
            except InputError as exc:
                raise InputError(f"{flag} {exc}") from None
    return reports


def split_pair(arg: str, flag: str, folders: Sequence[ModelFolder]) -> tuple[Path | None, str]:
    """`DIR=FILE` pairs a report with a listed model folder; a plain FILE is matched by the rules."""
    left, sep, right = arg.partition("=")
    if not sep or (Path(arg).is_file() and not Path(left).is_dir()):
        return None, arg
    key = Path(left).resolve()
    if key not in {f.key for f in folders}:
        listed = ", ".join(str(f.folder) for f in folders)
        raise UsageError(f"{flag} {arg}: {left} is not one of the model folders given ({listed}); pair reports with those")
    return key, right


# --- matching ---


def build_table(
    folders: Sequence[ModelFolder], runs: Sequence[Report], evals: Sequence[Report], count: GraphCounter | None = None,
) -> Table:
    """Match reports to folders (rules in the module docstring), then one row per folder, in order."""
    notes: list[str] = []
    runs_of = _assign(folders, runs, lambda r: _run_folder(r, folders), "--run", notes)
    outputs = _outputs_dirs(runs_of)
    evals_of = _assign(folders, evals, lambda e: _lookup(outputs, _resolved(_get(e.data, "config", "outputs_dir"))), "--eval", notes)
    rows = []
    for f in folders:
        engines: list[str | None] = list(dict.fromkeys(engine_of(r) for r in runs_of[f.key])) or [None]
        for engine in engines:
            runs = [r for r in runs_of[f.key] if engine_of(r) == engine]
            own = [e for e in evals_of[f.key] if _eval_engine(e, outputs) in (engine, None if engine == engines[0] else engine)]
            rows.append(_row(f, engine, _pick_run(runs, f), _pick(own, f, "--eval"), count, notes))
    return Table(tuple(rows), tuple(notes))


def _engine_cell(engine: dict[str, Any] | None) -> str:
    name, _, device = what_ran(engine)
    return run_label(name, "", device)


def engine_of(run: Report) -> str:
    """What a run report ran on, as one key: engine, precision and device ("openvino bf16"); reports
    from before the engine block are onnxruntime. Two precisions of one engine are two rows."""
    return run_label(*what_ran(run.data.get("engine")))


def _eval_engine(ev: Report, outputs: dict[Path, tuple[Path, str]]) -> str | None:
    """The engine of the run whose outputs an eval scored; None when not known (an explicit pair)."""
    hit = outputs.get(_resolved(_get(ev.data, "config", "outputs_dir")) or Path("/nonexistent"))
    return hit[1] if hit else None


def _assign(
    folders: Sequence[ModelFolder], reports: Sequence[Report], match: Callable[[Report], Path | None], flag: str, notes: list[str],
) -> dict[Path, list[Report]]:
    """Explicit pairs win: a folder with one gets no automatically matched report."""
    explicit: dict[Path, list[Report]] = {f.key: [] for f in folders}
    matched: dict[Path, list[Report]] = {f.key: [] for f in folders}
    for report in reports:
        if report.folder is not None:
            explicit[report.folder].append(report)
        elif (key := match(report)) is not None:
            matched[key].append(report)
        else:
            notes.append(_unmatched(report, flag))
    return {key: explicit[key] or matched[key] for key in explicit}


def _unmatched(report: Report, flag: str) -> str:
    if flag == "--run":
        why = f"its model {_get(report.data, 'model', 'path')} is in none of the model folders given"
    else:
        why = f"its --out_npz_dir {_get(report.data, 'config', 'outputs_dir')} is the --path_output of no matched run report"
    return f"{flag} {report.path}: left out, {why}; pair it with {flag} MODELDIR={report.path}"


def _run_folder(run: Report, folders: Sequence[ModelFolder]) -> Path | None:
    target = _resolved(_get(run.data, "model", "path"))
    for folder in folders:
        if target is not None and (folder.key / MODEL_FILE).resolve() == target:
            return folder.key
    sha256 = _get(run.data, "model", "metadata", "output", "sha256")
    hits = [f.key for f in folders if sha256 is not None and _get(f.metadata, "output", "sha256") == sha256]
    return hits[0] if len(hits) == 1 else None


def _outputs_dirs(runs_of: dict[Path, list[Report]]) -> dict[Path, tuple[Path, str]]:
    """--path_output of every matched run -> (its model folder, its engine)."""
    found: dict[Path, tuple[Path, str]] = {}
    for key, runs in runs_of.items():
        for run in runs:
            out = _resolved(_get(run.data, "datalist", "path_output") or _get(run.data, "config", "path_output"))
            if out is not None:
                found[out] = (key, engine_of(run))
    return found


def _lookup(found: dict[Path, tuple[Path, str]], outputs_dir: Path | None) -> Path | None:
    hit = found.get(outputs_dir) if outputs_dir is not None else None
    return hit[0] if hit else None


def _pick_run(runs: list[Report], folder: ModelFolder) -> Report | None:
    # A run over a datalist also reads and writes npz files; a synthetic-input run measures the model.
    synthetic = [r for r in runs if r.data.get("datalist") is None]
    return _pick(synthetic or runs, folder, "--run")


def _pick(reports: list[Report], folder: ModelFolder, flag: str) -> Report | None:
    if len(reports) > 1:
        names = ", ".join(str(r.path) for r in reports)
        fix = f"pass one, or pair it with {flag} {folder.folder}=FILE"
        raise InputError(f"{flag}: {len(reports)} reports for model {folder.folder} ({names}); {fix}")
    return reports[0] if reports else None


# --- one row ---


def _row(
    folder: ModelFolder, engine: str | None, run: Report | None, ev: Report | None, count: GraphCounter | None, notes: list[str],
) -> Row:
    meta = folder.metadata or {}
    macs, params, shape = _graph_figures(folder, count, notes)
    flops_per_mac = meta.get("flops_per_mac") or FLOPS_PER_MAC
    run_data, eval_data = (run.data if run else {}), (ev.data if ev else {})
    images, failures = eval_data.get("images"), eval_data.get("failures")
    return Row(
        model=folder.name,
        folder=str(folder.folder),
        engine=_engine_cell(run_data.get("engine")) if run else None,
        precision=_get(run_data, "engine", "precision") or _precision(folder.metadata),
        calibration=calibration_label(meta.get("calibration")),
        input_shape=shape,
        gflops=macs * flops_per_mac / 1e9 if macs is not None else None,
        params_m=params / 1e6 if params is not None else None,
        # every eval report's means are under `metrics` (read_json gives a version-1 report them too)
        psnr_db=_number(_get(eval_data, "metrics", "psnr_db")),
        ssim=_number(_get(eval_data, "metrics", "ssim")),
        accuracy_meaningful=accuracy_meaningful(folder.metadata),
        eval_images_scored=len(images) if isinstance(images, list) else None,
        eval_images_total=len(images) + len(failures) if isinstance(images, list) and isinstance(failures, list) else None,
        throughput_qps=_number(run_data.get("throughput_qps")),
        e2e_p50_ms=_ms(_get(run_data, "e2e", "percentiles_us", "p50")),
        e2e_p99_ms=_ms(_get(run_data, "e2e", "percentiles_us", "p99")),
        run_complete=run_data.get("complete") if isinstance(run_data.get("complete"), bool) else None,
        size_mb=folder.size_bytes / BYTES_PER_MB if folder.size_bytes is not None else None,
        run_report=str(run.path) if run else None,
        eval_report=str(ev.path) if ev else None,
        run_settings=_run_settings(run_data) if run else None,
        eval_settings=_eval_settings(eval_data) if ev else None,
        **drift_figures(meta.get("drift")),
        **headline_figures(eval_data),
    )


def headline_figures(eval_data: dict[str, Any]) -> dict[str, Any]:
    """A family preset's headline (its report's `scoring.headline`) and that metric's value; none for SR reports."""
    name = _get(eval_data, "scoring", "headline")
    if not isinstance(name, str):
        return {}
    return {"metric_name": name, "metric_value": _number(_get(eval_data, "metrics", name))}


def drift_figures(drift: Any) -> dict[str, Any]:
    """mod.json's drift -> the lowest `min` and `mean` SNR over its outputs (the worst output rules), and the sample count."""
    if not isinstance(drift, dict) or not isinstance(drift.get("summary"), dict):
        return {}
    snr = [stats["snr_db"] for stats in drift["summary"].values() if isinstance(stats, dict) and isinstance(stats.get("snr_db"), dict)]
    lows = [v for s in snr if (v := json_float(s.get("min"))) is not None]
    means = [v for s in snr if (v := json_float(s.get("mean"))) is not None]
    samples = drift.get("samples")
    return {"drift_snr_min_db": min(lows) if lows else None, "drift_snr_mean_db": min(means) if means else None,
            "drift_samples": samples if isinstance(samples, int) and not isinstance(samples, bool) else None}


def _graph_figures(folder: ModelFolder, count: GraphCounter | None, notes: list[str]) -> tuple[int | None, int | None, str | None]:
    """MACs, params and the input shape they hold for: from mod.json, else counted on mod.onnx."""
    meta = folder.metadata or {}
    macs, params = _int(meta.get("macs")), _int(meta.get("params"))
    if macs is not None and params is not None:
        return macs, params, _metadata_shape(meta)
    if count is None or folder.size_bytes is None:
        return macs, params, None
    try:
        counted_macs, counted_params, shapes = count(folder.folder / MODEL_FILE)
    except VampyError as exc:
        notes.append(f"{folder.folder}: GFLOPs and params not counted: {exc}")
        return None, None, None
    return counted_macs, counted_params, shape_label(shapes)


def _metadata_shape(meta: dict[str, Any]) -> str | None:
    if isinstance(meta.get("macs_input_shape"), list):  # vampy zoo
        return shape_label([meta["macs_input_shape"]])
    inputs = meta.get("inputs")  # vampy compile: counted at the compiled input shapes
    if isinstance(inputs, list) and all(isinstance(i, dict) and isinstance(i.get("shape"), list) for i in inputs):
        return shape_label([i["shape"] for i in inputs])
    return None


def shape_label(shapes: Sequence[Sequence[int | str | None]]) -> str:
    """[[1, 1, 256, 256]] -> '1x1x256x256'; several inputs are joined with ' + '."""
    return " + ".join("x".join("?" if d is None else str(d) for d in shape) for shape in shapes)


def _precision(meta: dict[str, Any] | None) -> str | None:
    if meta is None:
        return None
    if meta.get("kind") == "compile":
        return str(meta.get("precision"))
    return "fp32"  # vampy zoo writes float32 graphs


def calibration_label(calibration: Any) -> str | None:
    """mod.json's calibration -> 'kl_divergence, per-channel, 5 samples' (None for fp32/fp16)."""
    if not isinstance(calibration, dict):
        return None
    method = str(calibration.get("method", "?"))
    if method == "percentile" and isinstance(calibration.get("percentile"), (int, float)):
        method = f"percentile {calibration['percentile']:g}"
    parts = [method, "per-channel" if calibration.get("per_channel") else "per-tensor"]
    if isinstance(calibration.get("samples"), int):
        parts.append(f"{calibration['samples']} samples")
    return ", ".join(parts)


def accuracy_meaningful(meta: dict[str, Any] | None) -> bool | None:
    """False for random weights: zoo says so; a compiled model inherits it from its source's mod.json."""
    for _ in range(MAX_SOURCE_HOPS):
        if meta is None:
            return None
        if isinstance(meta.get("accuracy_meaningful"), bool):
            return bool(meta["accuracy_meaningful"])
        meta = _source_metadata(meta)
    return None


def _source_metadata(meta: dict[str, Any]) -> dict[str, Any] | None:
    checkpoint = _get(meta, "source", "checkpoint")
    if not isinstance(checkpoint, str):
        return None
    sidecar = Path(checkpoint).with_suffix(".json")
    try:
        data = read_report_data(sidecar, max_bytes=MAX_SIDECAR_BYTES)  # a device or a silent pipe is refused, never read for ever
    except InputError:
        return None  # moved, never there or not ours: unknown, not an error
    return data if isinstance(data, dict) else None


def _run_settings(data: dict[str, Any]) -> str:
    def n(key: str, one: str, many: str) -> str:
        value = data.get(key, "?")
        return f"{value} {one if value == 1 else many}"

    return (f"{n('processes', 'process', 'processes')} x {n('instances', 'instance', 'instances')}, "
            f"batch {data.get('batch_size', '?')}, {n('intra_threads', 'intra-op thread', 'intra-op threads')}")


def _eval_settings(data: dict[str, Any]) -> str:
    config = data.get("config") or {}
    if data.get("preset") and "scoring" in data:  # a family's convention; drrn/vdsr (no scoring) are the Y one below
        return f"the {data['preset']} family's own scoring (`vampy eval --preset {data['preset']}`; docs/eval.md)"
    hw = config.get("input_hw")
    size = "native size" if hw is None else "x".join(str(d) for d in hw)
    return f"Y ({config.get('ycbcr', '?')}), {size}, {config.get('shave_px', '?')} px border shaved"


# --- small readers ---


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _resolved(value: Any) -> Path | None:
    return Path(value).resolve() if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ms(value_us: Any) -> float | None:
    number = _number(value_us)
    return number / 1e3 if number is not None else None





