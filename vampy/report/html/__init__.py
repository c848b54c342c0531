"""`vampy report`: vampy's JSON reports -> one self-contained HTML page (vampy/report/templates/).

Every file is data: its JSON is read with the bounded reader, recognised by `kind` and
`schema_version`, and everything it holds reaches the page through Jinja2's autoescaping. Figures
come from report/plots.py as SVG and are inlined as data: URIs (so their ids cannot collide and no
script inside them could run), eval crops as PNG data: URIs: the page opens with no network.

Exit codes (docs/report.md): every file bad -> InputError (3), one line per file; some bad -> the
page is written with the good ones and lists the bad, then PartialResult (6).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from vampy import __version__
from vampy.errors import InputError, OutputError, PartialResult, UsageError
from vampy.formats.files import read_input_bytes
from vampy.report.html.types import Loaded, Source, data_uri
from vampy.report.schema import SCHEMA_VERSION, check_writable, write_text

KINDS = ("run", "sweep", "compare", "eval", "infer", "compile", "loadgen")
HTML_SUFFIXES = (".html", ".htm")


def check_html_path(path: str | Path, flag: str) -> Path:
    """Fail before any work: an .html name in a folder that exists."""
    target = Path(path)
    if target.suffix.lower() not in HTML_SUFFIXES:
        raise UsageError(f"{flag} {target}: the report is an HTML page; give a file name ending in .html")
    check_writable(target, flag)
    return target


def load_report(path: Path) -> dict[str, Any]:
    """One file -> a report dict, or InputError naming the file, what is wrong and the fix."""
    try:
        raw = read_input_bytes(path, "give a vampy JSON report")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc}); check the path and its permissions") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not JSON ({exc}); give the --json file of a vampy command") from None
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind not in KINDS:
        what = f"a JSON of kind '{kind}'" if kind else "JSON but not a vampy report (no 'kind')"
        raise InputError(f"{path}: {what}; give the --json of vampy run/sweep/compare/eval/infer/loadgen or a compile mod.json")
    # compare reports carry no schema_version (measure/compare.py): their absence means version 1.
    version = data.get("schema_version", SCHEMA_VERSION if kind == "compare" else None)
    if version != SCHEMA_VERSION:
        newer = isinstance(version, int) and version > SCHEMA_VERSION
        fix = "upgrade vampy to read it" if newer else "rewrite it with this vampy"
        raise InputError(f"{path}: a '{kind}' report of schema_version {version}; this vampy reads {SCHEMA_VERSION} ({fix})")
    return data


def load_all(paths: Sequence[str | Path]) -> Loaded:
    loaded = Loaded()
    for word in paths:
        try:
            loaded.sources.append(Source(Path(word), load_report(Path(word))))
        except InputError as exc:
            loaded.bad.append(str(exc))
    return loaded


def render(loaded: Loaded) -> str:
    """The page as text (sections.py builds each part; templates/report.html.j2 lays it out)."""
    import jinja2

    from vampy.report.html.sections import page_context

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("vampy.report", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    env.filters["ms"] = lambda us: "-" if us is None else format_number(float(us) / 1e3)
    env.filters["pct"] = lambda v: "-" if v is None else f"{float(v):.1%}"
    return env.get_template("report.html.j2").render(**page_context(loaded.sources, loaded.bad), version=__version__)


def format_number(value: Any) -> str:
    """Plain numbers: 37861, 18.8, 0.00838; '-' for missing."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def write_report(paths: Sequence[str | Path], output: str | Path) -> Loaded:
    """`vampy report`: read, render, write; raises as the module docstring says."""
    target = check_html_path(output, "-o")
    loaded = load_all(paths)
    if not loaded.sources:
        raise InputError("no report to show:\n" + "\n".join(loaded.bad))
    write_text(target, render(loaded), "-o")
    if loaded.bad:
        raise PartialResult(f"wrote {target} from {len(loaded.sources)} of {len(paths)} files; left out:\n" + "\n".join(loaded.bad))
    return loaded


def write_page(reports: Sequence[dict[str, Any]], output: str | Path, flag: str = "--html") -> None:
    """The --html shortcut of run, sweep, eval, infer and compare: the same page from dicts in hand."""
    try:
        write_text(output, render(Loaded([Source(None, r) for r in reports])), flag)
    except OSError as exc:
        raise OutputError(f"{flag} {output}: cannot write ({exc})") from None


__all__ = ["KINDS", "data_uri", "Loaded", "Source", "check_html_path", "load_all", "load_report", "render", "write_page", "write_report"]
