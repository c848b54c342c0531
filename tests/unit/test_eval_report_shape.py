"""One eval report (schema_version 2): every eval and infer report, plain or --preset, carries `metrics`
and per-image rows of one shape; version 1's keys are written beside them as aliases and version-1
files are read into the new shape (docs/eval.md, "The report's shape")."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from vampy.errors import InputError
from vampy.quality.evaluate import mean_metrics
from vampy.quality.preset_eval import preset_metrics
from vampy.results.schema import (
    EVAL_SCHEMA_VERSION,
    SCHEMA_VERSION,
    EvalPresetReport,
    EvalReport,
    EvalScores,
    InferPresetReport,
    InferReport,
    InferTiming,
    ScoredImage,
    read_json,
    schema_versions,
    upgrade,
)

ROW_KEYS = ["index", "name", "output_path", "source_path", "gt_path", "height_px", "width_px", "metrics"]
PLAIN = ({"psnr_db": 31.5, "ssim": 0.75, "bicubic_psnr_db": 28.25, "bicubic_ssim": 0.5},
         {"psnr_db": 30.0, "ssim": 0.25, "bicubic_psnr_db": 27.75, "bicubic_ssim": 0.125})
TIMING = InferTiming(2, 1, 0.5, 4.0, 0.1, 0.2, 0.15, 0.05, 0.01, 0.02)


def rows(metrics: tuple[dict[str, float], ...]) -> tuple[ScoredImage, ...]:
    return tuple(ScoredImage(i, f"im{i}", f"o{i}", f"s{i}", f"g{i}", 8, 12, m) for i, m in enumerate(metrics))


def plain_eval() -> EvalReport:
    images = rows(PLAIN)
    return EvalReport({"draw_dir": None}, images, mean_metrics(images), (), 0)


def preset_eval(ssim: tuple[float | None, ...]) -> EvalPresetReport:
    images = rows(tuple(preset_metrics(30.0 + i, s) for i, s in enumerate(ssim)))
    return EvalPresetReport(config={}, preset="edsr", scoring={"metric": "vendor"}, images=images, metrics=mean_metrics(images),
                            failures=(), drawn=0, deviations=())


def infer_reports() -> tuple[InferReport, InferPresetReport]:
    plain, preset = rows(PLAIN), preset_eval((0.5, 0.25)).images
    return (InferReport({}, {}, "y3", None, 1, plain, mean_metrics(plain), (), TIMING, 0),
            InferPresetReport(config={}, model={}, mode="rgb", intra_threads=1, preset="edsr", scoring={}, images=preset,
                              metrics=mean_metrics(preset), failures=(), timing=TIMING, saved=0, deviations=()))


def test_mean_metrics_is_the_mean_of_each_name_over_the_images_that_have_it() -> None:
    assert mean_metrics(rows(PLAIN)) == {"psnr_db": 30.75, "ssim": 0.5, "bicubic_psnr_db": 28.0, "bicubic_ssim": 0.3125}
    assert list(mean_metrics(rows(PLAIN))) == ["psnr_db", "ssim", "bicubic_psnr_db", "bicubic_ssim"]
    assert mean_metrics(rows(({"psnr_db": 30.0}, {"psnr_db": 31.0}))) == {"psnr_db": 30.5}  # no SSIM in the convention: none in the mean
    assert preset_metrics(30.0, None) == {"psnr_db": 30.0} and preset_metrics(30.0, 0.5) == {"psnr_db": 30.0, "ssim": 0.5}


def test_every_eval_and_infer_report_has_metrics_and_one_row_shape() -> None:
    reports = [plain_eval(), preset_eval((0.5, 0.25)), *infer_reports()]
    for report in reports:
        data = json.loads(json.dumps(report.to_dict()))
        assert data["schema_version"] == EVAL_SCHEMA_VERSION == 2
        assert data["metrics"] == report.metrics and all(isinstance(v, float) for v in data["metrics"].values())
        for row, image in zip(data["images"], report.images):
            assert [k for k in row if k in ROW_KEYS] == ROW_KEYS and row["metrics"] == image.metrics
    assert reports[0].to_dict()["metrics"] == {"psnr_db": 30.75, "ssim": 0.5, "bicubic_psnr_db": 28.0, "bicubic_ssim": 0.3125}
    assert reports[1].to_dict()["metrics"] == {"psnr_db": 30.5, "ssim": 0.375}


def test_plain_reports_keep_version_1s_mean_and_scores() -> None:
    for report in (plain_eval(), infer_reports()[0]):
        data = report.to_dict()
        assert data["mean"] == data["metrics"] and report.mean == EvalScores(30.75, 0.5, 28.0, 0.3125)
        assert [row["scores"] for row in data["images"]] == [row["metrics"] for row in data["images"]] == list(PLAIN)
        assert report.images[1].scores == EvalScores(**PLAIN[1]) and report.images[1].psnr_db == 30.0
        assert "mean_psnr_db" not in data and "psnr_db" not in data["images"][0]


def test_preset_reports_keep_version_1s_flat_keys_with_null_for_no_ssim() -> None:
    data = preset_eval((None, None)).to_dict()
    assert data["metrics"] == {"psnr_db": 30.5} and (data["mean_psnr_db"], data["mean_ssim"]) == (30.5, None)
    flat = [(r["psnr_db"], r["ssim"], r["metrics"]) for r in data["images"]]
    assert flat == [(30.0, None, {"psnr_db": 30.0}), (31.0, None, {"psnr_db": 31.0})]
    assert "mean" not in data and "scores" not in data["images"][0]
    report = infer_reports()[1]
    assert (report.mean_psnr_db, report.mean_ssim, report.images[0].ssim) == (30.5, 0.375, 0.5)
    assert report.to_dict()["mean_ssim"] == 0.375
    with pytest.raises(KeyError):
        report.images[0].scores  # noqa: B018 - a preset row has no bicubic scores


def test_version_1_reports_are_upgraded_and_others_left_alone() -> None:
    plain_v1 = {"kind": "eval", "schema_version": 1, "mean": dict(PLAIN[0]), "images": [{"name": "a", "scores": dict(PLAIN[0])}, 7]}
    up = upgrade(plain_v1)
    assert up["metrics"] == PLAIN[0] and up["images"][0]["metrics"] == PLAIN[0] and up["images"][1] == 7
    assert "metrics" not in plain_v1 and "metrics" not in plain_v1["images"][0]  # the caller's dict is not changed
    preset_v1 = {"kind": "infer", "schema_version": 1, "mean_psnr_db": 30.5, "mean_ssim": None, "scoring": {},
                 "images": [{"psnr_db": 30.5, "ssim": None}]}
    up = upgrade(preset_v1)
    assert up["metrics"] == {"psnr_db": 30.5} and up["images"][0]["metrics"] == {"psnr_db": 30.5}
    v2 = plain_eval().to_dict()
    del v2["metrics"]
    assert upgrade(v2) is v2  # version 2 without metrics is a broken file, not an old one: not rebuilt from the aliases
    run = {"kind": "run", "schema_version": 1, "mean": 1}
    assert upgrade(run) is run


def test_read_json_takes_each_kinds_versions(tmp_path: Path) -> None:
    assert schema_versions("eval") == schema_versions("infer") == (1, 2) and schema_versions("run") == (SCHEMA_VERSION,) == (1,)
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"kind": "eval", "schema_version": 1, "mean_psnr_db": 30.0, "mean_ssim": 0.5, "scoring": {}, "images": []}))
    assert read_json(path, "eval")["metrics"] == {"psnr_db": 30.0, "ssim": 0.5}
    path.write_text(json.dumps(plain_eval().to_dict()))
    assert read_json(path, "eval")["metrics"] == plain_eval().metrics
    path.write_text(json.dumps({"kind": "run", "schema_version": 2}))
    with pytest.raises(InputError, match=r"r.json: not a vampy report of schema_version 1$"):
        read_json(path)
    path.write_text(json.dumps({"kind": "infer", "schema_version": 3}))
    with pytest.raises(InputError, match=r"r.json: not a vampy report of schema_version 1 or 2$"):
        read_json(path)
