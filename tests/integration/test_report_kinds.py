"""The HTML page of each report kind from real small runs: `vampy report` over an infer and a
loadgen report, and `--html` on sweep, eval, infer and compare; each page holds that report's
values (as the page prints them: 4 significant digits) and no external URL, and a bad --html path
is refused with one line and docs/report.md's exit code (2: not .html; 7: no such folder).
Each test takes about a second here; the sweep and the LoadGen runs (a few seconds) are marked slow."""
from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.models import conv_model
from tests.support.files import add_sr_pair, normalizing_vdsp, vdsp_file
from vampy.cli import main

# An attribute that makes a browser fetch something: http(s):// or protocol-relative //.
EXTERNAL = re.compile(r"""\b(src|href|srcset|action)\s*=\s*["']?\s*(https?:)?//""", re.IGNORECASE)
INFER_NAMES = ("delta", "alpha", "charlie")
INFER_HW = (20, 28)  # the vdsp resize of normalizing_vdsp: every image is fed and scored at this size
EVAL_NAMES = ("alpha_scale_4", "beta_scale_4")
EVAL_OFFSETS = (2, 4)  # output = ground truth + offset grey levels: PSNR 20 log10(255 / offset)
HAS_LOADGEN = importlib.util.find_spec("mlperf_loadgen") is not None


def shown(value: Any) -> str:
    """A number as the page prints it (docs/report.md: plain numbers, 4 significant digits)."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}"


class _Rows(HTMLParser):
    """Every table row of a page as the texts of its cells (th and td), tags and attributes dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def rows_of(page: str) -> list[list[str]]:
    parser = _Rows()
    parser.feed(page)
    return parser.rows


def text_of(page: str) -> str:
    """The page's words, tags dropped (they are inline where these tests look) and whitespace squeezed, entities decoded."""
    import html

    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())


def self_contained(page: str) -> None:
    assert page.lstrip().lower().startswith("<!doctype html") and page.rstrip().endswith("</html>")
    assert not EXTERNAL.search(page), EXTERNAL.search(page)


def vampy_in(args: list[str]) -> int:
    """The CLI in this process (fast: no interpreter start); its exit code."""
    with pytest.raises(SystemExit) as info:
        main(args)
    code = info.value.code
    return code if isinstance(code, int) else 0


def vampy_sub(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process, for the commands that start workers or install signal handlers."""
    return subprocess.run([sys.executable, "-m", "vampy", *args], check=False, capture_output=True, text=True, timeout=240, cwd=cwd)


def _image_row(image: dict[str, Any]) -> list[str]:
    s = image["scores"]
    return [image["name"], f"{image['height_px']}x{image['width_px']}", shown(s["psnr_db"]), shown(s["ssim"]),
            shown(s["bicubic_psnr_db"]), shown(s["bicubic_ssim"]), shown(s["psnr_db"] - s["bicubic_psnr_db"])]


# --- data ---


@pytest.fixture(scope="module")
def infer_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """lr/NAME_scale_4.png, hr/NAME.png (24x32), a dynamic 1-channel conv model, a vdsp file resizing to 20x28."""
    root = tmp_path_factory.mktemp("infer")
    (root / "lr").mkdir()
    (root / "hr").mkdir()
    for seed, name in enumerate(INFER_NAMES):
        add_sr_pair(root, name, seed)
    conv_model(root / "model" / "mod.onnx", dynamic=True)
    normalizing_vdsp(root / "vdsp.json", INFER_HW)
    return root


def _infer_args(root: Path, *extra: str) -> list[str]:
    return ["infer", "--lr_image_dir", str(root / "lr"), "--model_prefix_path", str(root / "model" / "mod"),
            "--vdsp_params_info", str(root / "vdsp.json"), "--hr_image_dir", str(root / "hr"), "--threads", "1", "-q", *extra]


@pytest.fixture(scope="module")
def eval_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """set/NAME.png (ground truth), set/NAME_scale_4.png (blurred source), list.txt, out/NAME.npz = ground truth's Y + offset."""
    from vampy.data.imaging import read_image, to_y

    root = tmp_path_factory.mktemp("eval")
    (root / "set").mkdir()
    (root / "out").mkdir()
    for seed, (name, offset) in enumerate(zip(EVAL_NAMES, EVAL_OFFSETS)):
        noise = np.random.default_rng(seed).integers(0, 256, (32, 40, 3)).astype(np.uint8)
        smooth = cv2.GaussianBlur(noise, (7, 7), 2).astype(np.float64)
        gt = (30 + (smooth - smooth.min()) * 190 / (smooth.max() - smooth.min())).round().astype(np.uint8)
        cv2.imwrite(str(root / "set" / f"{name.removesuffix('_scale_4')}.png"), gt)
        cv2.imwrite(str(root / "set" / f"{name}.png"), cv2.GaussianBlur(gt, (5, 5), 1.5))
        y = to_y(read_image(root / "set" / f"{name.removesuffix('_scale_4')}.png"), "opencv").astype(np.float32)
        np.savez(root / "out" / f"{name}.npz", output_0=((y + offset) / 255.0)[None, None].astype(np.float32))
    (root / "list.txt").write_text("".join(f"npz/{name}.npz\n" for name in EVAL_NAMES))
    return root


def _eval_args(root: Path, *extra: str) -> list[str]:
    return ["eval", "--src_dir", str(root / "set"), "--gt_dir", str(root / "set"), "--input_npz_path", str(root / "list.txt"),
            "--out_npz_dir", str(root / "out"), "--native", "-q", *extra]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """m/mod.onnx (dynamic conv), v.json, and two real run reports of it: a.json (batch 1) and b.json (batch 2)."""
    root = tmp_path_factory.mktemp("runs")
    conv_model(root / "m" / "mod.onnx", in_ch=1, dynamic=True)
    vdsp_file(root)
    for name, batch in (("a", "1"), ("b", "2")):
        proc = vampy_sub("run", "-m", "m/mod", "--vdsp_params", "v.json", "-s", "[3,16,16]", "-b", batch, "--iterations", "150",
                         "--threads", "1", "-q", "--json", f"{name}.json", cwd=root)
        assert proc.returncode == 0, proc.stderr
    return root


# --- vampy report over an infer and a loadgen report ---


def test_report_of_a_real_infer_run(infer_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = infer_data
    assert vampy_in(_infer_args(root, "--json", str(root / "infer.json"))) == 0
    stdout = capsys.readouterr().out
    assert vampy_in(["report", str(root / "infer.json"), "-o", str(root / "infer.html")]) == 0
    page = (root / "infer.html").read_text(encoding="utf-8")
    self_contained(page)
    report = json.loads((root / "infer.json").read_text())
    assert [i["name"] for i in report["images"]] == [f"{n}_scale_4" for n in sorted(INFER_NAMES)]
    rows = rows_of(page)
    for image in report["images"]:
        assert _image_row(image) in rows, (image["name"], [r for r in rows if r and r[0] == image["name"]])
        # the same PSNR as the command's own table, to the digits both print
        assert f"{image['scores']['psnr_db']:.3f}" in stdout and f"{image['scores']['psnr_db']:.4g}" in page
    words = text_of(page)
    mean, timing, engine = report["mean"], report["timing"], report["engine"]
    assert f"Mean PSNR {shown(mean['psnr_db'])} dB, SSIM {shown(mean['ssim'])}" in words
    assert f"{timing['images']} images in {shown(timing['pipeline_s'])} s ({shown(timing['throughput_ips'])} images/s)" in words
    assert timing["images"] == len(INFER_NAMES) and timing["throughput_ips"] > 0
    assert f"{engine['engine']} {engine['version']} {engine['precision']}" in words and engine["engine"] == "onnxruntime"
    assert f"Infer: {report['model']['path']}" in words and report["model"]["path"].startswith(str(root / "model"))


@pytest.mark.slow
@pytest.mark.skipif(not HAS_LOADGEN, reason="mlperf_loadgen is not importable (pip install mlcommons-loadgen; it is in the test extras)")
def test_report_of_a_real_loadgen_run(tmp_path: Path) -> None:
    conv_model(tmp_path / "m.onnx", in_ch=1, hw=(32, 32))
    proc = vampy_sub("loadgen", "-m", "m.onnx", "-s", "1,32,32", "--scenario", "SingleStream", "--min_queries", "64",
                     "--min_duration", "0.2", "--samples", "16", "--log_dir", "logs", "--json", "lg.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = vampy_sub("report", "lg.json", "-o", "lg.html", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "lg.html").read_text(encoding="utf-8")
    self_contained(page)
    data = json.loads((tmp_path / "lg.json").read_text())
    words, rows = text_of(page), rows_of(page)
    assert "MLPerf LoadGen: SingleStream (performance)" in words
    assert data["loadgen"]["result"] in ("VALID", "INVALID") and ["result", data["loadgen"]["result"]] in rows
    assert ["mean_us", shown(data["loadgen"]["mean_us"])] in rows
    assert ["samples", str(data["vampy"]["samples"])] in rows and data["vampy"]["samples"] >= 64
    assert ["throughput_qps", shown(data["vampy"]["throughput_qps"])] in rows


@pytest.mark.slow
@pytest.mark.skipif(not HAS_LOADGEN, reason="mlperf_loadgen is not importable (pip install mlcommons-loadgen; it is in the test extras)")
def test_loadgen_page_shows_both_percentiles(tmp_path: Path) -> None:
    conv_model(tmp_path / "m.onnx", in_ch=1, hw=(32, 32))
    proc = vampy_sub("loadgen", "-m", "m.onnx", "-s", "1,32,32", "--min_queries", "64", "--min_duration", "0.2", "--samples", "16",
                     "--log_dir", "logs", "--json", "lg.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert vampy_sub("report", "lg.json", "-o", "lg.html", cwd=tmp_path).returncode == 0
    words = text_of((tmp_path / "lg.html").read_text(encoding="utf-8"))
    data = json.loads((tmp_path / "lg.json").read_text())
    for figures in (data["loadgen"]["percentiles_us"], data["vampy"]["e2e"]["percentiles_us"]):
        assert shown(figures["p50"]) in words and shown(figures["p99"]) in words


# --- --html on sweep, eval, infer and compare ---


@pytest.mark.slow
def test_sweep_html(runs: Path) -> None:
    proc = vampy_sub("sweep", "-m", "m/mod", "--vdsp_params", "v.json", "-s", "[3,16,16]", "-i", "1", "-p", "1", "-b", "1,2",
                     "--threads", "1", "--point_iterations", "100", "-q",
                     "--json", "sweep.json", "--html", "sweep.html", cwd=runs)
    assert proc.returncode == 0, proc.stderr
    page = (runs / "sweep.html").read_text(encoding="utf-8")
    self_contained(page)
    data = json.loads((runs / "sweep.json").read_text())
    assert data["kind"] == "sweep" and len(data["points"]) == 2
    rows, words = rows_of(page), text_of(page)
    for point in data["points"]:
        row = [r for r in rows if r and r[0] == str(point["index"])]
        assert len(row) == 1, rows
        assert shown(point["throughput_qps"]) in row[0] and shown(point["e2e_p99_ms"]) in row[0] and str(point["batch"]) in row[0]
    win = data["winner"]
    assert f"Winner: #{win['index']}" in words and f"{shown(win['throughput_qps'])} qps at p99 {shown(win['e2e_p99_ms'])} ms" in words
    assert data["winner_command"] in words


def test_eval_html(eval_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = eval_data
    assert vampy_in(_eval_args(root, "--json", str(root / "eval.json"), "--html", str(root / "eval.html"))) == 0
    capsys.readouterr()
    page = (root / "eval.html").read_text(encoding="utf-8")
    self_contained(page)
    report = json.loads((root / "eval.json").read_text())
    psnrs = [i["scores"]["psnr_db"] for i in report["images"]]
    assert psnrs == pytest.approx([20 * math.log10(255 / k) for k in EVAL_OFFSETS], abs=1e-9)  # the outputs are what we wrote
    rows = rows_of(page)
    for image in report["images"]:
        assert _image_row(image) in rows, image["name"]
    mean = report["mean"]
    assert f"Mean of 2: PSNR {shown(mean['psnr_db'])} dB, SSIM {shown(mean['ssim'])}" in text_of(page)
    assert shown(mean["psnr_db"]) == shown(sum(psnrs) / 2)
    assert report["metrics"] == mean and [i["metrics"] for i in report["images"]] == [i["scores"] for i in report["images"]]
    # the same report as schema_version 1 wrote it (no `metrics`): `vampy report` shows the same rows and means
    v1_images = [{k: v for k, v in i.items() if k != "metrics"} for i in report["images"]]
    v1 = {**{k: v for k, v in report.items() if k != "metrics"}, "schema_version": 1, "images": v1_images}
    (root / "eval_v1.json").write_text(json.dumps(v1))
    assert vampy_in(["report", str(root / "eval_v1.json"), "-o", str(root / "eval_v1.html")]) == 0
    v1_page = (root / "eval_v1.html").read_text(encoding="utf-8")
    assert all(_image_row(image) in rows_of(v1_page) for image in report["images"])
    assert f"Mean of 2: PSNR {shown(mean['psnr_db'])} dB, SSIM {shown(mean['ssim'])}" in text_of(v1_page)


def test_infer_html(infer_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = infer_data
    assert vampy_in(_infer_args(root, "--batch", "2", "--json", str(root / "i2.json"), "--html", str(root / "i2.html"))) == 0
    capsys.readouterr()
    page = (root / "i2.html").read_text(encoding="utf-8")
    self_contained(page)
    report = json.loads((root / "i2.json").read_text())
    rows = rows_of(page)
    assert len(report["images"]) == len(INFER_NAMES)
    for image in report["images"]:
        assert _image_row(image) in rows, image["name"]
    timing = report["timing"]
    assert (f"({shown(timing['throughput_ips'])} images/s)" in text_of(page)
            and f"Mean PSNR {shown(report['mean']['psnr_db'])} dB" in text_of(page))


def test_compare_html(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = str(runs / "a.json"), str(runs / "b.json")
    assert vampy_in(["compare", a, b, "--resamples", "200", "--json", str(runs / "c.json"), "--html", str(runs / "c.html")]) == 0
    capsys.readouterr()
    page = (runs / "c.html").read_text(encoding="utf-8")
    self_contained(page)
    result = json.loads((runs / "c.json").read_text())
    rows, words = rows_of(page), text_of(page)
    assert len(result["names"]) == 2 and ["metric", *result["names"]] in rows
    metrics = {m["label"]: m["values"] for m in result["metrics"]}
    assert "throughput (qps)" in metrics or any("throughput" in label for label in metrics)
    for label, values in metrics.items():
        row = [r for r in rows if r and r[0] == label]
        assert len(row) == 1, label
        base, other = values
        assert row[0][1] == shown(base) and row[0][2].startswith(shown(other))
        if base and other is not None:
            assert row[0][2] == f"{shown(other)} ({(other / base - 1) * 100:+.1f}%)"
    for verdict in result["verdicts"]:
        assert " ".join(verdict.split()) in words
    # both runs' own sections come with the comparison
    runs_data = [json.loads(Path(p).read_text()) for p in (a, b)]
    for run in runs_data:
        assert f"{shown(run['throughput_qps'])} qps" in words


# --- a bad --html path: refused with one line and the documented code ---

BAD_HTML_COMMANDS = ("run", "sweep", "eval", "infer", "compare")


def _command(kind: str, root: Path, runs: Path, eval_data: Path, infer_data: Path, html: str) -> tuple[list[str], list[Path]]:
    """The command line with --html HTML, and the files that command writes once it has worked."""
    json_out = root / f"{kind}.json"
    model = ["-m", str(runs / "m" / "mod"), "--vdsp_params", str(runs / "v.json"), "-s", "[3,16,16]", "--threads", "1"]
    if kind == "run":
        args = ["run", *model, "--iterations", "50", "-q"]
    elif kind == "sweep":
        args = ["sweep", *model, "-i", "1", "-p", "1", "-b", "1,2", "--point_iterations", "50", "-q"]
    elif kind == "eval":
        args = _eval_args(eval_data, "--draw_dir", str(root / "draw"))
        (root / "draw").mkdir(exist_ok=True)
    elif kind == "infer":
        args = _infer_args(infer_data, "--save_dir", str(root / "sr"))
    else:
        args = ["compare", str(runs / "a.json"), str(runs / "b.json"), "--resamples", "100"]
    outputs = [json_out] + ([root / "draw"] if kind == "eval" else []) + ([root / "sr"] if kind == "infer" else [])
    return [*args, "--json", str(json_out), "--html", html], outputs


def _no_work(outputs: list[Path]) -> bool:
    return all(not p.exists() or (p.is_dir() and not any(p.iterdir())) for p in outputs)


@pytest.mark.parametrize("kind", BAD_HTML_COMMANDS)
def test_missing_html_folder_is_refused_before_any_work(kind: str, tmp_path: Path, runs: Path, eval_data: Path, infer_data: Path) -> None:
    html = str(tmp_path / "no" / "such" / "page.html")
    args, outputs = _command(kind, tmp_path, runs, eval_data, infer_data, html)
    proc = vampy_sub(*args, cwd=tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vampy: error: --html") and "does not exist" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.returncode == 7
    assert _no_work(outputs), [p for p in outputs if p.exists()]


@pytest.mark.parametrize("kind", BAD_HTML_COMMANDS)
def test_html_name_not_ending_in_html_is_exit_2(kind: str, tmp_path: Path, runs: Path, eval_data: Path, infer_data: Path) -> None:
    args, outputs = _command(kind, tmp_path, runs, eval_data, infer_data, str(tmp_path / "page.pdf"))
    proc = vampy_sub(*args, cwd=tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "ending in .html" in lines[0], proc.stderr
    assert not (tmp_path / "page.pdf").exists() and _no_work(outputs)
