"""`vampy report` and --html from real small runs (run, sweep, image2npz -> run --datalist -> eval
with --draw_dir), and the page in a real headless browser (Debian's chromium; skipped without it)."""
from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.models import conv_model
from tests.support.files import vdsp_file

CHROMIUM = Path("/usr/bin/chromium")
EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", re.IGNORECASE)
NAMES = ("alpha", "beta", "gamma")


def vampy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vampy", *args], capture_output=True, text=True, timeout=240, cwd=cwd)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """run.json (+ run.html via --html), sweep.json, drun.json and eval.json with its drawn images, in one folder."""
    root = tmp_path_factory.mktemp("report")
    conv_model(root / "m" / "mod.onnx", in_ch=1, dynamic=True)
    conv_model(root / "m3" / "mod.onnx", in_ch=3, out_ch=1, dynamic=True)
    vdsp_file(root)
    (root / "set").mkdir()
    for seed, name in enumerate(NAMES):
        noise = np.random.default_rng(seed).integers(0, 256, (32, 40, 3)).astype(np.uint8)
        gt = cv2.GaussianBlur(noise, (7, 7), 2 * (seed + 1))
        cv2.imwrite(str(root / "set" / f"{name}.png"), gt)
        cv2.imwrite(str(root / "set" / f"{name}_scale_4.png"), cv2.GaussianBlur(gt, (5, 5), 1.5))
    steps = [
        ("run", "-m", "m/mod", "--vdsp_params", "v.json", "-s", "[3,16,16]", "--iterations", "200", "--threads", "1", "-q",
         "--json", "run.json", "--html", "run.html"),
        ("sweep", "-m", "m/mod", "--vdsp_params", "v.json", "-s", "[3,16,16]", "--instances", "1,2", "-p", "1", "-b", "1,2",
         "--threads", "1", "--point_iterations", "100", "-q", "--json", "sweep.json"),
        ("image2npz", "--dataset_path", "set", "--pattern", "*_scale_4.png", "--mode", "y3", "--target_path", "npz",
         "--text_path", "list.txt", "-q"),
        ("run", "-m", "m3/mod", "--datalist", "list.txt", "--path_output", "out", "--threads", "1", "-q", "--json", "drun.json"),
        ("eval", "--src_dir", "set", "--gt_dir", "set", "--input_npz_path", "list.txt", "--out_npz_dir", "out", "--native",
         "--vamp_flag", "--draw_dir", "draw", "-q", "--json", "eval.json"),
    ]
    (root / "draw").mkdir()
    for step in steps:
        proc = vampy(*step, cwd=root)
        assert proc.returncode == 0, (step, proc.stderr)
    return root


def _page(root: Path, *files: str, out: str = "page.html") -> str:
    proc = vampy("report", *files, "-o", out, cwd=root)
    assert proc.returncode == 0, proc.stderr
    return (root / out).read_text()


@pytest.mark.slow
def test_page_holds_every_kind(reports: Path) -> None:
    page = _page(reports, "run.json", "sweep.json", "drun.json", "eval.json")
    assert not EXTERNAL.search(page)
    run, sweep, ev = (json.loads((reports / f).read_text()) for f in ("run.json", "sweep.json", "eval.json"))
    assert f"{run['throughput_qps']:.0f} qps" in page and "m/mod (onnxruntime fp32)" in page
    assert f"{run['e2e']['percentiles_us']['p99'] / 1e3:.4g}" in page
    assert "vampy run -m m/mod --vdsp_params v.json -s &#39;[3,16,16]&#39; --iterations 200 --threads 1" in page
    assert len(sweep["points"]) >= 2 and page.count("<tr><td class=\"n\" data-v=") >= len(sweep["points"])
    for image in ev["images"]:
        assert image["name"] in page and f"{image['scores']['psnr_db']:.4g}" in page
    assert "best image" in page and "worst image" in page  # the crops from --draw_dir
    crops = re.findall(r'<img alt="(output|ground truth|bicubic)" src="data:image/png;base64,([^"]+)"', page)
    assert len(crops) == 6
    tile = cv2.imdecode(np.frombuffer(base64.b64decode(crops[0][1]), np.uint8), cv2.IMREAD_COLOR)
    assert tile.shape == (32, 40, 3)  # smaller than the crop: the whole image
    assert "Environment" in page and run["environment"]["processor"] in page


@pytest.mark.slow
def test_html_shortcut_is_the_same_page(reports: Path) -> None:
    page = (reports / "run.html").read_text()
    assert "Run: m/mod (onnxruntime fp32)" in page and not EXTERNAL.search(page)


@pytest.mark.slow
def test_bad_files_exit_codes(reports: Path) -> None:
    (reports / "junk.json").write_text('{"kind": "sweep", "schema_version": 9}')
    proc = vampy("report", "junk.json", "-o", "bad.html", cwd=reports)
    assert proc.returncode == 3 and "schema_version 9" in proc.stderr and "Traceback" not in proc.stderr
    assert not (reports / "bad.html").exists()
    proc = vampy("report", "run.json", "junk.json", "absent.json", "-o", "part.html", cwd=reports)
    assert proc.returncode == 6, proc.stderr
    page = (reports / "part.html").read_text()
    assert "junk.json" in page and "absent.json: no such file" in page and "Run: m/mod" in page
    proc = vampy("report", "run.json", "-o", "page.pdf", cwd=reports)
    assert proc.returncode == 2 and "ending in .html" in proc.stderr
    proc = vampy("run", "-m", "m/mod", "-s", "[1,8,8]", "--html", "no/dir/r.html", cwd=reports)
    assert proc.returncode == 7 and "--html" in proc.stderr


@pytest.mark.slow
def test_page_renders_in_a_real_browser(reports: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (apt-get install chromium; .ci/run does it as root)")
    page = reports / "browser.html"
    _page(reports, "run.json", "sweep.json", "drun.json", "eval.json", out="browser.html")
    base = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run([*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    # The page's script sets the marker after wiring every sortable table: 2 here (sweep points, eval images).
    assert 'data-vampy-ready="2"' in dom.stdout, dom.stderr[-2000:]
    assert "Uncaught" not in dom.stderr and "SyntaxError" not in dom.stderr
    shot = tmp_path / "shot.png"
    proc = subprocess.run([*base, "--window-size=1200,1800", f"--screenshot={shot}", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert "Uncaught" not in proc.stderr
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (1800, 1200) and image.std() > 10  # drawn, not blank


def test_broken_script_is_detected(tmp_path: Path) -> None:
    """The check above can fail: a page whose script throws sets no marker and logs 'Uncaught'."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (apt-get install chromium; .ci/run does it as root)")
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>undefinedFunction(); document.body.setAttribute('data-vampy-ready', '1');</script></body></html>")
    proc = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'p'}", "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert 'data-vampy-ready="1"' not in proc.stdout and "Uncaught ReferenceError" in proc.stderr
