"""`vampy report`: vampy's JSON reports -> one self-contained HTML page (vampy/report/templates/).

Every file is data: its JSON is read with the bounded reader, recognised by `kind` and
`schema_version`, and everything it holds reaches the page through Jinja2's autoescaping. Figures
come from report/plots.py as SVG and are inlined as data: URIs (so their ids cannot collide and no
script inside them could run), eval crops as PNG data: URIs: the page opens with no network.

A file with the right kind and version can still be truncated or edited: the keys the page needs
are checked per kind (checks.py), and each file's section is built and rendered on its own, so a
file whose data still breaks it is listed among the bad with one line (render_page).

Exit codes (docs/report.md): every file bad -> InputError (3), one line per file; some bad -> the
page is written with the good ones and lists the bad, then PartialResult (6).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vampy import __version__
from vampy.errors import InputError, OutputError, PartialResult, UsageError
from vampy.formats.files import parse_json, read_input_bytes
from vampy.report.html.checks import missing_key, unshowable, without_line
from vampy.report.html.types import Loaded, Source, data_uri
from vampy.results.schema import (
    MAX_REPORT_BYTES,
    REPORT_NEEDS,
    SCHEMA_VERSION,
    check_writable,
    schema_versions,
    upgrade,
    versions_text,
    write_text,
)

KINDS = ("run", "sweep", "compare", "eval", "infer", "compile", "loadgen", "diff")
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
        raw = read_input_bytes(path, "give a vampy JSON report", MAX_REPORT_BYTES)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc}); check the path and its permissions") from None
    data = parse_json(raw, str(path), REPORT_NEEDS)  # bounded above, nesting checked here: one line, never a RecursionError
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind not in KINDS:
        what = f"a JSON of kind '{kind}'" if kind else "JSON but not a vampy report (no 'kind')"
        raise InputError(f"{path}: {what}; give the --json of vampy run/sweep/compare/eval/infer/loadgen/diff or a compile mod.json")
    # compare reports carry no schema_version (measure/compare.py): their absence means version 1.
    version = data.get("schema_version", SCHEMA_VERSION if kind == "compare" else None)
    if version not in schema_versions(kind):
        newer = isinstance(version, int) and version > max(schema_versions(kind))
        fix = "upgrade vampy to read it" if newer else "rewrite it with this vampy"
        raise InputError(f"{path}: a '{kind}' report of schema_version {version}; this vampy reads {versions_text(kind)} ({fix})")
    missing = missing_key(data)  # on the file as written: the key named is one its version has
    if missing is not None:
        raise InputError(without_line(str(path), kind, missing))
    return upgrade(data)


def load_all(paths: Sequence[str | Path]) -> Loaded:
    loaded = Loaded()
    for word in paths:
        try:
            loaded.sources.append(Source(Path(word), load_report(Path(word))))
        except InputError as exc:
            loaded.bad.append(str(exc))
    return loaded


def render(loaded: Loaded) -> str:
    """The page as text; a file whose data cannot be shown is listed among the bad (render_page)."""
    return render_page(loaded)[0]


def render_page(loaded: Loaded) -> tuple[str, Loaded]:
    """The page, and what it was built from: each file's section is built and rendered on its own
    first, so one truncated or edited file goes to the bad list with one line instead of taking
    the page down (sections.py builds each part; templates/report.html.j2 lays it out)."""
    import jinja2

    from vampy.report.html.sections import DATA_ERRORS, build_section, page_context

    errors: tuple[type[Exception], ...] = (jinja2.TemplateError, *DATA_ERRORS)
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("vampy.report", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,  # a missing key is an error, never a blank
    )
    env.filters["num"] = format_number
    env.filters["ms"] = lambda us: "-" if us is None else format_number(float(us) / 1e3)
    env.filters["pct"] = lambda v: "-" if v is None else f"{float(v):.1%}"
    template = env.get_template("report.html.j2")
    built: list[tuple[Source, dict[str, Any]]] = []
    bad = list(loaded.bad)
    for source in loaded.sources:
        try:
            one = [(source, build_section(source))]
            template.render(**page_context(one, []), version=__version__)  # this file alone: its own errors are its own
        except errors as exc:
            bad.append(unshowable(source.label, source.kind, exc))
            continue
        built += one
    page = template.render(**page_context(built, bad), version=__version__)
    return page, Loaded([s for s, _ in built], bad)


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
    page, loaded = render_page(load_all(paths))
    if not loaded.sources:
        raise InputError("no report to show:\n" + "\n".join(loaded.bad))
    write_text(target, page, "-o")
    if loaded.bad:
        raise PartialResult(f"wrote {target} from {len(loaded.sources)} of {len(paths)} files; left out:\n" + "\n".join(loaded.bad))
    return loaded


def write_page(reports: Sequence[dict[str, Any]], output: str | Path, flag: str = "--html") -> None:
    """The --html shortcut of run, sweep, eval, infer, compare and diff: the same page from dicts in hand."""
    try:
        write_text(output, render(Loaded([Source(None, r) for r in reports])), flag)
    except OSError as exc:
        raise OutputError(f"{flag} {output}: cannot write ({exc})") from None


__all__ = ["KINDS", "data_uri", "Loaded", "Source", "check_html_path", "load_all", "load_report", "render", "render_page", "write_page",
           "write_report"]
