"""The parts of the HTML report, one builder per report kind: plain dicts and lists for the template.

Values are left as they are (numbers, strings from the report); the template formats and escapes.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vampy.errors import VampyError
from vampy.report import plots
from vampy.report.html.checks import family_headline, is_preset
from vampy.report.html.commands import command_line
from vampy.report.html.diff_section import diff_section
from vampy.report.html.types import Source, data_uri

# vampy table's own cells and legend, so the page and `vampy table` cannot disagree.
from vampy.report.table_render import _cells, _legend, columns_for
from vampy.results.table import METADATA_FILE, ModelFolder, Report, build_table, load_model_folder

CROP_PX = 96  # side of the square cut from the middle of each drawn image
SHOWN_METRICS = ("psnr_db", "ssim", "bicubic_psnr_db", "bicubic_ssim")  # the eval and infer tables' columns, in order
# What a report's own odd data raises in a builder or the template (jinja2's UndefinedError is added
# in __init__.py, which alone imports jinja2): that file goes to the bad list, the page goes on.
DATA_ERRORS: tuple[type[Exception], ...] = (LookupError, TypeError, ValueError, AttributeError, ArithmeticError)
TABLE_ERRORS: tuple[type[Exception], ...] = (VampyError, *DATA_ERRORS)


def build_section(source: Source) -> dict[str, Any]:
    """One file's part of the page (its figures drawn here); raises on data its checks did not foresee."""
    return BUILDERS[source.kind](source)


def page_context(built: Sequence[tuple[Source, dict[str, Any]]], bad: Sequence[str]) -> dict[str, Any]:
    """The template's variables from each good file's section, built by build_section."""
    sources = [s for s, _ in built]
    context: dict[str, Any] = {name: [] for name in SECTION_LISTS.values()}
    for source, section in built:
        context[SECTION_LISTS[source.kind]].append(section)
    return {
        **context,
        "title": _title(sources),
        "precision": precision_table(sources),
        "environments": _environments(sources),
        "commands": [(s.label, cmd) for s in sources if (cmd := command_line(s.data))],
        "bad": list(bad),
        "sources": [(s.kind, s.label) for s in sources],
    }


def _title(sources: Sequence[Source]) -> str:
    models = sorted({plots._model_name(m) for s in sources if (m := _model_of(s.data))})
    return "vampy report: " + (", ".join(models) if models else ", ".join(sorted({s.kind for s in sources})))


def _model_of(data: dict[str, Any]) -> str | None:
    model = data.get("model")
    if isinstance(model, dict):
        return model.get("path")
    config = data.get("config") or {}
    return config.get("model") or (config.get("run") or {}).get("model") or data.get("model_path")


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


# --- run ---


def run_section(source: Source) -> dict[str, Any]:
    d = source.data
    eng = d.get("engine") or {}
    stab = d.get("stability") or {}
    return {
        "label": source.label,
        "title": plots.run_title(d),
        "model": _get(d, "model", "path"),
        "engine": eng,
        "config": [("instances (-i)", d.get("instances")), ("processes (-p)", d.get("processes")), ("batch (-b)", d.get("batch_size")),
                   ("intra-op threads", d.get("intra_threads")), ("samples", d.get("samples")), ("requests", d.get("requests")),
                   ("measured window (s)", d.get("forward_time_s"))],
        "throughput_qps": d.get("throughput_qps"),
        "e2e": _get(d, "e2e", "percentiles_us") or {},
        "model_latency": _get(d, "model_latency", "percentiles_us") or {},
        "stable": stab.get("stable"),
        "max_deviation": stab.get("max_deviation"),
        "complete": d.get("complete") is not False,
        "incomplete_reason": d.get("incomplete_reason"),
        "notes": list(d.get("notes") or []),
        "failed_workers": [str(w.get("error") or w)[:500] if isinstance(w, dict) else str(w) for w in d.get("failed_workers") or []],
        "figures": {name: data_uri("image/svg+xml", svg.encode("utf-8")) for name, svg in plots.run_svgs(d).items()},
    }


# --- sweep ---

POINT_COLUMNS = (
    ("#", "index"), ("-i", "instances"), ("-p", "processes"), ("-b", "batch"), ("threads", "threads"), ("engine", "engine"),
    ("precision", "precision"), ("throughput (qps)", "throughput_qps"), ("p50 (ms)", "e2e_p50_ms"), ("p99 (ms)", "e2e_p99_ms"),
    ("stable", "stable"), ("Pareto", "pareto"), ("winner", "winner"), ("role", "role"), ("error", "error"),
)


def sweep_section(source: Source) -> dict[str, Any]:
    d = source.data
    points = [p for p in d.get("points") or [] if isinstance(p, dict)]
    # As the text table: engine where any point names one, precision where another engine than ONNX Runtime ran
    # (ONNX Runtime's is the model's own).
    other_precision = any(p.get("precision") and p.get("engine") not in (None, "onnxruntime") for p in points)
    shown = {"engine": any(p.get("engine") for p in points), "precision": other_precision}
    columns = [(head, key) for head, key in POINT_COLUMNS if shown.get(key, True)]
    return {
        "label": source.label,
        "title": plots.sweep_title(d),
        "complete": d.get("complete") is not False,
        "interrupted": d.get("interrupted"),
        "columns": columns,
        "points": [[p.get(key) for _, key in columns] for p in points],
        "winner": d.get("winner"),
        "winner_label": plots.point_label(d["winner"]) if isinstance(d.get("winner"), dict) else None,
        "winner_command": d.get("winner_command"),
        "low_latency_command": d.get("low_latency_command"),
        "figure": data_uri("image/svg+xml", plots.sweep_svg(d).encode("utf-8")),
    }


# --- compare ---


def compare_section(source: Source) -> dict[str, Any]:
    d = source.data
    names = [str(n) for n in d.get("names") or []]
    rows = []
    for m in d.get("metrics") or []:
        values = list(m.get("values") or [])
        base = values[0] if values else None
        changes = [None if not base or v is None else v / base - 1 for v in values[1:]]
        rows.append({"label": m.get("label"), "figures": values, "changes": changes})
    return {"label": source.label, "names": names, "rows": rows, "verdicts": list(d.get("verdicts") or []),
            "notes": list(d.get("notes") or []), "confidence": d.get("confidence"),
            "gates": [(bool(g.get("failed")), str(g.get("text"))) for g in d.get("gates") or [] if isinstance(g, dict)]}


# --- eval and infer ---


def eval_section(source: Source) -> dict[str, Any]:
    d = source.data
    if family_headline(d) is not None:
        return family_section(source)
    images = [i for i in d.get("images") or [] if isinstance(i, dict)]
    draw_dir = _get(d, "config", "draw_dir")
    return {"label": source.label, "family": False, "mean": _mean(d), "images": [_image_row(i) for i in images],
            "failures": [f"{f.get('path')}: {f.get('reason')}" for f in d.get("failures") or [] if isinstance(f, dict)],
            # the crops set the output beside its bicubic source, which a --preset report has none of
            "crops": [] if is_preset(d) else _crops(images, draw_dir, source.path), "draw_dir": draw_dir}


def family_section(source: Source) -> dict[str, Any]:
    """A zoo family preset's eval (top-1/top-5, pixAcc/mIoU, PySOD's 13 columns, PSNR/SSIM ...): its metrics as the
    script names them, each image's own, the deviations; no crops (the SR page's crops need a bicubic source)."""
    d = source.data
    s = d.get("scoring") or {}
    metrics = d.get("metrics") or {}
    images = [i for i in d.get("images") or [] if isinstance(i, dict)]
    names = list(dict.fromkeys(k for i in images for k in (i.get("metrics") or {})))
    rows = [{"name": i.get("name"), "size": f"{i.get('height_px')}x{i.get('width_px')}",
             "values": [(i.get("metrics") or {}).get(k) for k in names]} for i in images]
    return {"label": source.label, "family": True, "preset": d.get("preset"), "convention": s.get("convention"),
            "scripts": s.get("scripts"), "headline": s.get("headline"), "images": images,
            "metrics": [(k, v) for k, v in metrics.items() if not isinstance(v, (list, dict))],
            "names": names, "rows": rows, "deviations": [str(x) for x in d.get("deviations") or []],
            "per_class": _per_class(d.get("per_class_iou")),
            "failures": [f"{f.get('path')}: {f.get('reason')}" for f in d.get("failures") or [] if isinstance(f, dict)]}


def _per_class(per_class_iou: Any) -> list[tuple[str, Any]]:
    """The segmentation presets' (class, IoU) pairs, None for an absent class; [] when the report has none (older
    reports, other presets) or holds something else."""
    if not isinstance(per_class_iou, dict):
        return []
    return [(str(c), v if isinstance(v, (int, float)) and not isinstance(v, bool) else None) for c, v in per_class_iou.items()]


def infer_section(source: Source) -> dict[str, Any]:
    d = source.data
    if family_headline(d) is not None:  # infer --preset of a classification or segmentation preset: eval's figures
        return {**family_section(source), "model": _get(d, "model", "path"), "engine": d.get("engine") or {},
                "timing": d.get("timing") or {}, "notes": list(d.get("notes") or [])}
    images = [i for i in d.get("images") or [] if isinstance(i, dict)]
    return {"label": source.label, "family": False, "model": _get(d, "model", "path"), "engine": d.get("engine") or {},
            "mean": _mean(d), "timing": d.get("timing") or {}, "images": [_image_row(i) for i in images],
            "failures": [f"{f.get('path')} ({f.get('stage')}): {f.get('reason')}" for f in d.get("failures") or [] if isinstance(f, dict)],
            "notes": list(d.get("notes") or [])}


def _mean(d: dict[str, Any]) -> dict[str, Any]:
    """The mean scores the page shows; a --preset report has only PSNR and maybe SSIM (its family's convention): '-'."""
    metrics = d["metrics"]
    return {name: metrics.get(name) for name in SHOWN_METRICS}


def _image_row(image: dict[str, Any]) -> dict[str, Any]:
    s = image.get("metrics") or {}
    psnr, bic = s.get("psnr_db"), s.get("bicubic_psnr_db")
    gain = psnr - bic if isinstance(psnr, (int, float)) and isinstance(bic, (int, float)) else None
    return {"name": image.get("name"), "size": f"{image.get('height_px')}x{image.get('width_px')}", "psnr_db": psnr, "ssim": s.get("ssim"),
            "bicubic_psnr_db": bic, "bicubic_ssim": s.get("bicubic_ssim"), "gain_db": gain}


def _crops(images: list[dict[str, Any]], draw_dir: str | None, report_path: Path | None) -> list[dict[str, Any]]:
    """Best and worst image by PSNR: the middle CROP_PX square of output, ground truth and bicubic
    source, when --draw_dir's NAME.png and the images can still be found."""
    scored = [i for i in images if isinstance(_get(i, "metrics", "psnr_db"), (int, float))]
    if not draw_dir or not scored:
        return []
    ranked = sorted(scored, key=lambda i: i["metrics"]["psnr_db"])
    picks = [("best", ranked[-1])] + ([("worst", ranked[0])] if len(ranked) > 1 else [])
    out = []
    for role, image in picks:
        paths = {"output": Path(draw_dir) / f"{image.get('name')}.png", "ground truth": Path(str(image.get("gt_path"))),
                 "bicubic": Path(str(image.get("source_path")))}
        tiles = _tiles(paths, report_path)
        if tiles:
            out.append({"role": role, "name": image.get("name"), "psnr_db": image["metrics"]["psnr_db"], "tiles": tiles})
    return out


def _tiles(paths: dict[str, Path], report_path: Path | None) -> list[tuple[str, str]]:
    # Images are read, resized and encoded by the data layer (vampy/data/imaging.py), not OpenCV here.
    from vampy.data.imaging import encode_png, read_image, resize_image

    tiles: list[tuple[str, str]] = []
    size_hw: tuple[int, int] | None = None
    for caption, path in paths.items():
        found = _find(path, report_path)
        if found is None:
            return []
        try:
            bgr = read_image(found)
            size_hw = size_hw or (bgr.shape[0], bgr.shape[1])  # the output's: the others are brought to it
            bgr = resize_image(bgr, *size_hw)
            h, w = bgr.shape[:2]
            top, left = max(0, (h - CROP_PX) // 2), max(0, (w - CROP_PX) // 2)
            png = encode_png(bgr[top:top + CROP_PX, left:left + CROP_PX])
        except (VampyError, ValueError):  # unreadable or not encodable: no crops, the page goes on
            return []
        tiles.append((caption, data_uri("image/png", png)))
    return tiles


def _find(path: Path, report_path: Path | None) -> Path | None:
    """As written (relative to where the command ran, usually here), else beside the report."""
    if path.is_file():
        return path
    if report_path is not None and not path.is_absolute() and (report_path.parent / path).is_file():
        return report_path.parent / path
    return None


# --- compile and loadgen ---


def compile_section(source: Source) -> dict[str, Any]:
    d = source.data
    calib = d.get("calibration") or {}
    rows = [("precision", d.get("precision")), ("model", d.get("model_path")), ("source", _get(d, "source", "checkpoint")),
            ("size (bytes)", _get(d, "output", "size_bytes")), ("source size (bytes)", _get(d, "source", "size_bytes")),
            ("MACs", d.get("macs")), ("params", d.get("params")),
            ("calibration", calib.get("method") or calib.get("calibrate_mode") if calib else None),
            ("compile time (s)", d.get("compile_time_s"))]
    return {"label": source.label, "name": d.get("name"), "rows": rows, "versions": d.get("versions") or {},
            "node_counts": d.get("node_counts") or {}, "notes": [*(d.get("warnings") or []), *(d.get("notes") or [])],
            "drift": compile_drift(d.get("drift"))}


def compile_drift(drift: Any) -> dict[str, Any] | None:
    """compile's self-check for the page: per output SNR/cosine summaries, the worst samples, the gate."""
    if not isinstance(drift, dict):
        return None
    section = diff_section(Source(None, {"config": {}, "summary": drift.get("summary") or {}, "worst": drift.get("worst") or [],
                                         "gates": drift.get("gates") or [], "kind": "diff"}))
    return {"origin": drift.get("origin"), "samples": drift.get("samples"), "summaries": section["summaries"],
            "stats": section["stats"], "worst_heads": section["worst_heads"], "worst": section["worst"], "gates": section["gates"]}


def loadgen_section(source: Source) -> dict[str, Any]:
    d = source.data
    lg = {k: v for k, v in (d.get("loadgen") or {}).items() if not isinstance(v, (dict, list)) and k != "text"}
    ours = {k: v for k, v in (d.get("vampy") or {}).items() if not isinstance(v, (dict, list))}
    theirs = (d.get("loadgen") or {}).get("percentiles_us") or {}
    mine = ((d.get("vampy") or {}).get("e2e") or {}).get("percentiles_us") or {}
    gaps = (d.get("comparison") or {}).get("relative_gap") or {}
    # LoadGen's and vampy's percentiles of the same samples, side by side (what `vampy loadgen` prints)
    percentiles = [(key, theirs[key], mine.get(key), gaps.get(key)) for key in theirs]
    return {"label": source.label, "config": d.get("config") or {}, "engine": d.get("engine") or {}, "loadgen": lg, "vampy": ours,
            "comparison": d.get("comparison") or {}, "percentiles": percentiles}


# --- precision table (`vampy table`) and environment ---


def precision_table(sources: Sequence[Source]) -> dict[str, Any] | None:
    """vampy table's rows, when model folders are known: compile mod.json files given, or the
    folders of the run reports' models that hold a mod.json."""
    folders: dict[Path, ModelFolder] = {}
    notes: list[str] = []
    candidates = [s.path.parent for s in sources if s.kind == "compile" and s.path is not None]
    candidates += [Path(str(m)).parent for s in sources if s.kind == "run" and (m := _get(s.data, "model", "path"))]
    for folder in candidates:
        if (folder / METADATA_FILE).is_file() and folder.resolve() not in folders:
            try:
                folders[folder.resolve()] = load_model_folder(folder)
            except VampyError as exc:
                notes.append(str(exc))
    runs = [Report(s.path or Path("-"), s.data) for s in sources if s.kind == "run"]
    evals = [Report(s.path or Path("-"), s.data) for s in sources if s.kind == "eval"]
    if not folders or not (runs or evals):
        return None
    try:
        table = build_table(list(folders.values()), runs, evals)
        columns = columns_for(table.rows)
        return {"headers": [h for h, _, _ in columns], "rows": [_cells(row, columns) for row in table.rows],
                "notes": [*notes, *table.notes], "legend": _legend(table.rows)}
    except TABLE_ERRORS as exc:  # an edited report's odd value leaves the table out, not the page
        return {"headers": [], "rows": [], "notes": [*notes, f"precision table left out: {exc}"], "legend": []}


def _environments(sources: Sequence[Source]) -> list[tuple[str, dict[str, Any]]]:
    """One table per distinct environment (most pages come from one machine)."""
    seen: list[tuple[str, dict[str, Any]]] = []
    for s in sources:
        env = s.data.get("environment") or s.data.get("versions")
        if isinstance(env, dict) and env:
            comparable = {k: v for k, v in env.items() if k != "created_utc"}
            if not any({k: v for k, v in e.items() if k != "created_utc"} == comparable for _, e in seen):
                seen.append((s.label, env))
    return seen


BUILDERS = {"run": run_section, "sweep": sweep_section, "compare": compare_section, "eval": eval_section,
            "infer": infer_section, "compile": compile_section, "loadgen": loadgen_section, "diff": diff_section}
SECTION_LISTS = {"run": "runs", "sweep": "sweeps", "compare": "compares", "eval": "evals", "infer": "infers",
                 "compile": "compiles", "loadgen": "loadgens", "diff": "diffs"}
