"""`vampy table` and `vampy report` with the zoo family presets' eval reports (families.py `headline`, the report's own metrics)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import vampy
from tests.support.reports import compile_json
from vampy.errors import PartialResult
from vampy.report.html import load_all, render
from vampy.report.table_render import render_csv, render_markdown
from vampy.results.schema import write_json
from vampy.results.table import collect

RNG = np.random.default_rng(5)


def _lowlight_report(tmp_path: Path) -> Path:
    """A real lowlight_usuir eval of 2 images (one without ground truth: 1 of 2 scored), saved with --json."""
    (tmp_path / "gt").mkdir()
    (tmp_path / "out").mkdir()
    cv2.imwrite(str(tmp_path / "gt" / "a.png"), (RNG.random((12, 14, 3)) * 255).astype(np.uint8))
    (tmp_path / "gt" / "a.jpg").write_bytes((tmp_path / "gt" / "a.png").read_bytes())  # PNG bytes under the script's .jpg name
    for i in range(2):
        np.savez(tmp_path / "out" / f"output_{i:06d}.npz", output_0=RNG.random((1, 3, 12, 14)).astype(np.float32))
    (tmp_path / "dl.txt").write_text("/n/a.npz\n/n/missing.npz\n")
    with pytest.raises(PartialResult) as caught:
        vampy.evaluate(preset="lowlight_usuir", gt_dir=str(tmp_path / "gt"), input_npz_path=str(tmp_path / "dl.txt"),
                       out_npz_dir=str(tmp_path / "out"))
    path = tmp_path / "eval_lle.json"
    write_json(path, caught.value.report.to_dict())  # type: ignore[attr-defined]
    return path


def test_table_shows_the_family_headline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    report = _lowlight_report(tmp_path)
    mean_psnr = json.loads(report.read_text())["metrics"]["mean_psnr"]
    compile_json(tmp_path / "deploy" / "usuir_fp16", "fp16")
    table = collect(["deploy/usuir_fp16"], [], [f"deploy/usuir_fp16={report.name}"])
    markdown = render_markdown(table)
    header, _, row = markdown.splitlines()[:3]
    cells = dict(zip([c.strip() for c in header.split("|")], [c.strip() for c in row.split("|")]))
    assert cells["eval metric"] == f"mean_psnr {mean_psnr:.4f} (1/2 images)" and cells["PSNR (dB)"] == "-"
    assert "eval metric: the headline metric of a zoo family preset" in markdown
    rows = list(csv.DictReader(io.StringIO(render_csv(table))))
    assert rows[0]["metric_name"] == "mean_psnr" and float(rows[0]["metric_value"]) == mean_psnr


def test_table_without_family_evals_keeps_its_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    compile_json(tmp_path / "deploy" / "m", "fp32")
    table = collect(["deploy/m"], [], [])
    assert "eval metric" not in render_markdown(table) and "metric_name" not in render_csv(table)


def test_report_renders_a_family_eval(tmp_path: Path) -> None:
    report = _lowlight_report(tmp_path)
    data = json.loads(report.read_text())
    page = render(load_all([report]))
    section = page[page.index('<section class="eval">'):page.index("</section>", page.index('<section class="eval">'))]
    assert "preset <code>lowlight_usuir</code> (LLE-1)" in section
    assert "<th>mean_psnr</th><th>mean_ssim</th>" in section and f"<b>{data['metrics']['mean_psnr']:.4g}</b>" in section
    assert "<th>psnr</th><th>ssim</th>" in section and "missing.jpg" in section  # the row's own metrics; the failure listed
    assert "Where vampy differs from the script" in section and "PSNR/SSIM on Y" not in section


def test_report_refuses_a_family_eval_without_its_headline(tmp_path: Path) -> None:
    data = json.loads(_lowlight_report(tmp_path).read_text())
    del data["metrics"]["mean_psnr"]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    loaded = load_all([tmp_path / "bad.json"])
    assert not loaded.sources and "without metrics.mean_psnr" in loaded.bad[0]
