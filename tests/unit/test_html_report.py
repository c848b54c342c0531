"""The HTML report from report dicts: recognition of each file, escaping, self-containment, commands."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.unit.test_compare import make_report
from tests.unit.test_sweep import GRID, Fake
from vampy.config import RunConfig
from vampy.errors import InputError, PartialResult, UsageError
from vampy.report.html import check_html_path, load_all, load_report, render, write_report
from vampy.report.html.commands import command_line
from vampy.workflows.sweep import SweepConfig, search
from vampy.workflows.sweep_run import sweep_dict

EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", re.IGNORECASE)


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def sweep_data() -> dict:
    cfg = SweepConfig(RunConfig(model="deploy_weights/vdsr/mod", duration_s=1.0), max_p99_ms=300.0)
    return sweep_dict(search(GRID, True, Fake(), max_p99_ms=300.0), cfg)


def test_run_and_sweep_page_is_self_contained(tmp_path: Path) -> None:
    run = make_report(1)
    run["notes"] = ["<script>alert(1)</script> note"]
    page = render(load_all([write(tmp_path / "r.json", run), write(tmp_path / "s.json", sweep_data())]))
    assert not EXTERNAL.search(page)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; note" in page
    assert f"{run['throughput_qps']:.4g}"[:3] in page
    assert page.count('src="data:image/svg+xml;base64,') == 4  # histogram, breakdown, stability, sweep
    sweep = sweep_data()
    for p in sweep["points"]:
        assert f"<td class=\"n\" data-v=\"{p['index']}\">{p['index']}</td>" in page
    assert sweep["winner_command"] in page.replace("&#39;", "'")
    assert "vampy sweep -m deploy_weights/vdsr/mod" in page
    assert 'table class="sortable"' in page


@pytest.mark.parametrize(("data", "message"), [
    ({"hello": 1}, "not a vampy report"),
    ([1, 2], "not a vampy report"),
    ({"kind": "run", "schema_version": 2}, "schema_version 2; this vampy reads 1 (upgrade vampy"),
    ({"kind": "image2npz", "schema_version": 1}, "of kind 'image2npz'"),
])
def test_bad_reports_are_named(tmp_path: Path, data: object, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        load_report(write(tmp_path / "x.json", data))


def test_unreadable_and_not_json(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_report(tmp_path / "absent.json")
    (tmp_path / "t.json").write_text("{not json")
    with pytest.raises(InputError, match="not JSON"):
        load_report(tmp_path / "t.json")
    with pytest.raises(InputError, match="cannot read"):
        load_report(tmp_path)  # a folder


def test_compare_without_schema_version_is_read(tmp_path: Path) -> None:
    data = {"kind": "compare", "names": ["a", "b"], "metrics": [{"label": "throughput (qps)", "values": [100.0, 110.0]}],
            "verdicts": ["b vs a: no significant difference"], "notes": []}
    page = render(load_all([write(tmp_path / "c.json", data)]))
    assert "+10.0%" in page and "b vs a: no significant difference" in page


def test_partial_and_all_bad_exit_codes(tmp_path: Path) -> None:
    good, bad = write(tmp_path / "r.json", make_report(1)), write(tmp_path / "b.json", {"x": 1})
    out = tmp_path / "page.html"
    with pytest.raises(PartialResult, match="1 of 2 files") as info:
        write_report([good, bad], out)
    assert info.value.exit_code == 6 and "b.json" in out.read_text()
    with pytest.raises(InputError) as info:
        write_report([bad, tmp_path / "absent.json"], tmp_path / "none.html")
    assert len(str(info.value).splitlines()) == 3 and not (tmp_path / "none.html").exists()


def test_html_path_checks(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="ending in .html"):
        check_html_path(tmp_path / "a.png", "-o")
    with pytest.raises(Exception, match="does not exist"):
        check_html_path(tmp_path / "no" / "a.html", "-o")


def test_command_lines_from_configs() -> None:
    run = {"kind": "run", "config": RunConfig(model="m/mod", instances=2, batch_size=4, shapes=((3, 16, 16),), threads=1,
                                              vdsp_params="v x.json", iterations=300).to_dict()}
    assert command_line(json.loads(json.dumps(run))) == "vampy run -m m/mod --vdsp_params 'v x.json' -i 2 -b 4 -s '[3,16,16]' --iterations 300 --threads 1"
    ev = {"kind": "eval", "config": {"src_dir": "s", "gt_dir": "g", "datalist": "l.txt", "outputs_dir": "o", "input_hw": None,
                                     "pair_by_order": True, "shave_px": 4, "ycbcr": "opencv", "gt_pattern": "{base}.*", "draw_dir": "d"}}
    assert command_line(ev) == "vampy eval --src_dir s --gt_dir g --input_npz_path l.txt --out_npz_dir o --draw_dir d --native --vamp_flag"
    assert command_line({"kind": "compare"}) is None
