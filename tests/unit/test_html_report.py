"""The HTML report from report dicts: recognition of each file, escaping, self-containment, commands."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.reports import make_report
from tests.support.sweep import GRID, Fake
from vampy.config import RunConfig
from vampy.errors import InputError, PartialResult, UsageError
from vampy.report.html import check_html_path, load_all, load_report, render, render_page, write_report
from vampy.report.html.commands import command_line
from vampy.workflows.sweep import SweepConfig, search
from vampy.workflows.sweep_run import sweep_dict

EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", re.IGNORECASE)


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def sweep_data() -> dict:
    cfg = SweepConfig(RunConfig.flat("deploy_weights/vdsr/mod", duration_s=1.0), max_p99_ms=300.0)
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
    ({"kind": "eval", "schema_version": 3}, "a 'eval' report of schema_version 3; this vampy reads 1 or 2 (upgrade vampy"),
    ({"kind": "infer", "schema_version": 0}, "schema_version 0; this vampy reads 1 or 2 (rewrite it"),
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
    run = {"kind": "run", "config": RunConfig.flat("m/mod", instances=2, batch_size=4, shapes=((3, 16, 16),), threads=1,
                                              vdsp_params="v x.json", iterations=300).to_dict()}
    assert (command_line(json.loads(json.dumps(run)))
            == "vampy run -m m/mod --vdsp_params 'v x.json' -i 2 -b 4 -s '[3,16,16]' --iterations 300 --threads 1")
    ev = {"kind": "eval", "config": {"src_dir": "s", "gt_dir": "g", "datalist": "l.txt", "outputs_dir": "o", "input_hw": None,
                                     "pair_by_order": True, "shave_px": 4, "ycbcr": "opencv", "gt_pattern": "{base}.*", "draw_dir": "d"}}
    assert command_line(ev) == "vampy eval --src_dir s --gt_dir g --input_npz_path l.txt --out_npz_dir o --draw_dir d --native --vamp_flag"
    assert command_line({"kind": "compare"}) is None


def _parsed(line: str) -> dict[str, object]:
    """eval's flags in a rebuilt line as API keywords (each flag's declared field), through the CLI's own table."""
    import shlex

    from vampy.config.flags import EVAL_FLAGS

    by_name = {spelling: flag for flag in EVAL_FLAGS for spelling in flag.spellings}
    words, kwargs = shlex.split(line)[2:], {}
    while words:
        flag = by_name[words.pop(0)]
        count = 2 if flag.kind == "hw" else 1
        values, words = words[:count], words[count:]
        kwargs[flag.name] = tuple(int(v) for v in values) if flag.kind == "hw" else values[0]
    return kwargs


def test_command_lines_of_a_family_eval_and_a_box_diff() -> None:
    from vampy.api import eval_config
    from vampy.config.diff import DiffConfig

    det = eval_config(preset="coco_det_yolox", input_image_dir="imgs", vamp_datalist_path="dl.txt", vamp_output_dir="out",
                      txt="txt dir", gt="gt.json", model_size=(608, 640))
    line = command_line({"kind": "eval", "config": json.loads(json.dumps(det.to_dict()))})
    assert line == ("vampy eval --vamp_datalist_path dl.txt --vamp_output_dir out --preset coco_det_yolox --input_image_dir imgs "
                    "--txt 'txt dir' --gt gt.json --model_size 608 640")
    assert eval_config(**_parsed(line)) == det  # the line gives back the same config
    ner = eval_config(preset="ner_people_daily", result_dir="out", label_path="labels.txt")
    ner_line = command_line({"kind": "eval", "config": ner.to_dict()})
    assert "--label_path labels.txt" in ner_line and eval_config(**_parsed(ner_line)) == ner
    diff = DiffConfig(ref_dir="a", test_dir="b", datalist="dl.txt", boxes="on", box_iou=0.7, min_box_recall=1.0)
    assert command_line({"kind": "diff", "config": diff.to_dict()}) == (
        "vampy diff a b --datalist dl.txt --boxes on --box_iou 0.7 --min_box_recall 1")


# --- truncated or edited reports: right kind and version, keys missing ---

ENGINE = {"engine": "onnxruntime", "version": "1.20", "device": "cpu", "precision": "fp32", "intra_threads": 1,
          "providers": ["CPUExecutionProvider"]}


def eval_data() -> dict:
    from vampy.results.schema import EvalReport, ScoredImage

    metrics = {"psnr_db": 31.5, "ssim": 0.91, "bicubic_psnr_db": 28.25, "bicubic_ssim": 0.85}
    image = ScoredImage(0, "alpha", "out/output_000000.npz", "set/alpha_scale_4.png", "set/alpha.png", 32, 40, metrics)
    return EvalReport({"draw_dir": None}, (image,), metrics, (), 0).to_dict()


def infer_data() -> dict:
    from vampy.results.schema import InferReport, InferTiming, ScoredImage

    metrics = {"psnr_db": 30.5, "ssim": 0.9, "bicubic_psnr_db": 27.75, "bicubic_ssim": 0.8}
    image = ScoredImage(0, "beta", None, "lr/beta.png", "hr/beta.png", 32, 40, metrics)
    timing = InferTiming(1, 1, 0.5, 2.0, 0.1, 0.2, 0.15, 0.05, 0.01, 0.02)
    return InferReport({"model": "m/mod"}, {"path": "m/mod.onnx"}, "y3", None, 1, (image,), metrics, (), timing, 0,
                       engine=ENGINE).to_dict()


def loadgen_data() -> dict:
    from dataclasses import asdict

    from vampy.workflows.loadgen import LoadgenConfig, LoadgenReport

    return LoadgenReport(asdict(LoadgenConfig(model="m/mod", scenario="Offline")), {"result": "VALID", "samples_per_second": 812.5},
                         {"throughput_qps": 800.25}, {}, 0, "mlperf_logs", ENGINE).to_dict()


def _drop(data: dict, dotted: str) -> dict:
    node = data
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[key]
    del node[last]
    return data


GOOD = {"run": (lambda: make_report(1), 'class="run"'), "eval": (eval_data, 'class="eval"'),
        "infer": (infer_data, 'class="infer"'), "loadgen": (loadgen_data, 'class="loadgen"')}
TRUNCATED = [("run", "e2e.percentiles_us.p50"), ("run", "model_latency.percentiles_us.p99"), ("run", "engine.precision"),
             ("eval", "metrics.psnr_db"), ("eval", "metrics.bicubic_ssim"), ("infer", "metrics.ssim"), ("infer", "timing.pipeline_s"),
             ("infer", "engine.version"),
             ("loadgen", "config.scenario"), ("loadgen", "config.mode")]


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_each_kind_renders_whole(tmp_path: Path, kind: str) -> None:
    build, marker = GOOD[kind]
    data = build()
    if kind == "run":
        data["engine"] = dict(ENGINE)
    page, loaded = render_page(load_all([write(tmp_path / "ok.json", data)]))
    assert marker in page and not loaded.bad and len(loaded.sources) == 1


@pytest.mark.parametrize(("kind", "key"), TRUNCATED)
def test_truncated_report_is_one_bad_line_and_the_good_one_renders(tmp_path: Path, kind: str, key: str) -> None:
    build, marker = GOOD[kind]
    broken = build()
    if key.startswith("engine.") and not broken.get("engine"):
        broken["engine"] = dict(ENGINE)
    _drop(broken, key)
    good = write(tmp_path / "good.json", make_report(2))
    bad = write(tmp_path / "bad.json", broken)
    out = tmp_path / "page.html"
    with pytest.raises(PartialResult) as info:
        write_report([good, bad], out)
    assert info.value.exit_code == 6
    lines = str(info.value).splitlines()[1:]
    article = "an" if kind[0] in "aeiou" else "a"
    assert lines == [f"{bad}: {article} {kind} report without {key} (truncated or edited?); regenerate it with vampy {kind} --json"]
    page = out.read_text()
    assert page.count('<section class="run">') == 1  # the good file
    assert kind == "run" or page.count(f"<section {marker}>") == 0
    assert f"{bad}: {article} {kind} report without {key}" in page
    assert 'id="bad-files"' in page


def test_odd_values_the_checks_miss_are_caught_per_file(tmp_path: Path) -> None:
    """Keys present but of the wrong type: the guard around each file's section names it; the rest renders."""
    run = make_report(3)
    run["notes"] = 5  # list(5): TypeError in the section builder
    compare = {"kind": "compare", "names": ["a"], "metrics": [7], "verdicts": [], "notes": []}  # 7.get: AttributeError
    sweep = sweep_data()
    sweep["points"][0].pop("e2e_p99_ms")  # the sweep figure reads it: KeyError
    paths = [write(tmp_path / f"{n}.json", d) for n, d in (("run", run), ("compare", compare), ("sweep", sweep), ("good", make_report(4)))]
    page, loaded = render_page(load_all(paths))
    assert [s.path for s in loaded.sources] == [paths[3]]
    assert len(loaded.bad) == 3
    for path, error in zip(paths, ("TypeError", "AttributeError", "KeyError")):
        line = next(b for b in loaded.bad if b.startswith(f"{path}:"))
        assert "report that cannot be shown (" + error in line and "regenerate it with vampy" in line and "\n" not in line
    assert page.count('<section class="run">') == 1 and page.count('<section class="sweep">') == 0


def test_preset_eval_report_renders(tmp_path: Path) -> None:
    """eval --preset reports have mean_psnr_db and per-image psnr_db, no bicubic scores."""
    data = {"kind": "eval", "schema_version": 1, "config": {}, "preset": "drrn", "scoring": {"y": "matlab"},
            "images": [{"index": 0, "name": "gamma", "height_px": 8, "width_px": 8, "psnr_db": 33.25, "ssim": None}],
            "mean_psnr_db": 33.25, "mean_ssim": None, "failures": [], "drawn": 0, "deviations": []}
    page, loaded = render_page(load_all([write(tmp_path / "p.json", data)]))
    assert not loaded.bad and "33.25 dB" in page and "gamma" in page
    del data["mean_psnr_db"]
    with pytest.raises(InputError, match="an eval report without mean_psnr_db"):
        load_report(write(tmp_path / "p.json", data))


def test_schema_2_preset_report_renders_from_metrics(tmp_path: Path) -> None:
    """Version 2: the page reads `metrics` only (the v1 aliases dropped here), a convention without SSIM shows '-'."""
    data = {"kind": "eval", "schema_version": 2, "config": {}, "preset": "edsr", "scoring": {"metric": "vendor"},
            "images": [{"index": 0, "name": "gamma", "height_px": 8, "width_px": 8, "metrics": {"psnr_db": 33.25}}],
            "metrics": {"psnr_db": 33.25}, "failures": [], "drawn": 0, "deviations": []}
    page, loaded = render_page(load_all([write(tmp_path / "p.json", data)]))
    assert not loaded.bad and "PSNR <b>33.25 dB</b>, SSIM <b>-</b>" in page
    assert '<td>gamma</td><td>8x8</td><td class="n" data-v="33.25">33.25</td><td class="n" data-v="">-</td>' in page
    del data["metrics"]
    with pytest.raises(InputError, match="an eval report without metrics.psnr_db"):
        load_report(write(tmp_path / "p.json", data))


def _eval_section(page: str) -> str:
    return page[page.index('<section class="eval">'):page.index("</section>", page.index('<section class="eval">'))]


def test_schema_1_plain_eval_report_is_read_as_schema_2(tmp_path: Path) -> None:
    """A version-1 plain report (`mean`, per-image `scores`) gets `metrics` when read; its own missing keys keep their v1 names."""
    v1 = eval_data()
    for row in v1["images"]:
        del row["metrics"]
    del v1["metrics"]
    v1["schema_version"] = 1
    data = load_report(write(tmp_path / "e.json", v1))
    assert data["metrics"] == v1["mean"] == {"psnr_db": 31.5, "ssim": 0.91, "bicubic_psnr_db": 28.25, "bicubic_ssim": 0.85}
    assert data["images"][0]["metrics"] == v1["images"][0]["scores"]
    page, loaded = render_page(load_all([tmp_path / "e.json"]))
    assert not loaded.bad and "PSNR <b>31.5 dB</b>, SSIM <b>0.91</b>" in page and "(bicubic 28.25 dB, 0.85)" in page
    v2_page = render(load_all([write(tmp_path / "e2.json", eval_data())]))
    assert _eval_section(page).replace("e.json", "e2.json") == _eval_section(v2_page)  # one page whatever the version
    del v1["mean"]["bicubic_ssim"]
    with pytest.raises(InputError, match="an eval report without mean.bicubic_ssim"):
        load_report(write(tmp_path / "e.json", v1))


def test_all_truncated_exits_3_through_the_cli(tmp_path: Path) -> None:
    run = _drop(make_report(5), "e2e.percentiles_us.p50")
    ev = _drop(eval_data(), "metrics.ssim")
    files = [str(write(tmp_path / "r.json", run)), str(write(tmp_path / "e.json", ev))]
    proc = subprocess.run([sys.executable, "-m", "vampy", "report", *files, "-o", str(tmp_path / "page.html")],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert (f"{files[0]}: a run report without e2e.percentiles_us.p50 (truncated or edited?); regenerate it with vampy run --json"
            in proc.stderr)
    assert f"{files[1]}: an eval report without metrics.ssim" in proc.stderr
    assert not (tmp_path / "page.html").exists()


def test_report_renderers_read_images_through_the_data_layer(tmp_path: Path) -> None:
    """No module under vampy/report imports OpenCV or Pillow; the crops are vampy.data.imaging's read, resize and PNG."""
    import ast
    import base64

    import cv2
    import numpy as np

    from vampy.data.imaging import decode_image_bytes, encode_png, resize_image
    from vampy.report.html.sections import CROP_PX, _tiles

    for path in (Path(__file__).resolve().parents[2] / "vampy" / "report").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        tops = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        tops |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not tops & {"cv2", "PIL"}, path
    rng = np.random.default_rng(0)
    output, gt = rng.integers(0, 256, (200, 160, 3), dtype=np.uint8), rng.integers(0, 256, (100, 80, 3), dtype=np.uint8)
    (tmp_path / "out.png").write_bytes(encode_png(output))
    (tmp_path / "gt.png").write_bytes(encode_png(gt))
    tiles = _tiles({"output": tmp_path / "out.png", "ground truth": tmp_path / "gt.png"}, None)
    assert [caption for caption, _ in tiles] == ["output", "ground truth"] and CROP_PX == 96
    decoded = [decode_image_bytes(np.frombuffer(base64.b64decode(uri.split(",", 1)[1]), np.uint8)) for _, uri in tiles]
    assert np.array_equal(decoded[0], output[52:148, 32:128])  # the middle 96 px of the output, at its own size
    resized = cv2.resize(gt, (160, 200), interpolation=cv2.INTER_CUBIC)  # the ground truth brought to the output's size
    assert np.array_equal(resize_image(gt, 200, 160), resized) and np.array_equal(decoded[1], resized[52:148, 32:128])
    assert resize_image(gt, 100, 80) is gt
    (tmp_path / "bad.png").write_bytes(b"junk")
    assert _tiles({"output": tmp_path / "out.png", "ground truth": tmp_path / "bad.png"}, None) == []
    assert _tiles({"output": tmp_path / "absent.png"}, None) == []


def _family_names() -> list[str]:
    from vampy.quality.families import FAMILY_PRESETS

    return sorted(FAMILY_PRESETS)


@pytest.mark.parametrize("name", _family_names())
def test_every_family_eval_command_line_gives_back_its_config(name: str) -> None:
    from vampy.api import eval_config
    from vampy.config.flags import EVAL_FLAGS
    from vampy.quality.families import family_preset

    preset = family_preset(name)
    assert preset is not None
    kinds = {flag.name: flag.kind for flag in EVAL_FLAGS}
    given = {need: (6, 4) if kinds[need] == "hw" else f"{need} value" for need in preset.needs}
    cfg = eval_config(preset=name, **given)
    assert eval_config(**_parsed(str(command_line({"kind": "eval", "config": json.loads(json.dumps(cfg.to_dict()))})))) == cfg
