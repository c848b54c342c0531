"""vampy.results.table: reports saved here (built from the real report dataclasses) -> Markdown and CSV."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.support.reports import compile_json, eval_json, run_json
from vampy.errors import InputError, ModelError, UsageError
from vampy.report.table_render import CSV_FIELDS, render_csv, render_markdown
from vampy.results.schema import SCHEMA_VERSION
from vampy.results.table import FLOPS_PER_MAC, collect

# --- saved reports, made with the dataclasses vampy itself writes ---


def zoo_json(folder: Path, random_weights: bool, onnx_bytes: int = 1000) -> Path:
    """folder/mod.onnx + the metadata `vampy zoo vdsr` writes (no kind, no schema_version)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mod.onnx").write_bytes(b"\0" * onnx_bytes)
    source = ({"weights": "random", "seed": 0, "accuracy_meaningful": False} if random_weights
              else {"weights": "file", "accuracy_meaningful": True})
    metadata = {"model": "vdsr", "input": {"name": "input", "shape": [1, 1, 256, 256]}, **source, "params": 664_704,
                "macs": 43_567_000_000, "macs_input_shape": [1, 1, 256, 256], "flops_per_mac": 2, "vampy_version": "0"}
    (folder / "mod.json").write_text(json.dumps(metadata))
    return folder


KL = {"method": "kl_divergence", "per_channel": True, "samples": 5, "percentile": None}


@pytest.fixture()
def two_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """fp32 (a run), int8 (a synthetic run, a datalist run over out_int8 and an eval of out_int8)."""
    monkeypatch.chdir(tmp_path)
    compile_json(tmp_path / "deploy" / "vdsr_fp32", "fp32")
    compile_json(tmp_path / "deploy" / "vdsr_int8", "int8", calibration=KL, onnx_bytes=690_000)
    run_json(tmp_path / "run_fp32.json", "deploy/vdsr_fp32/mod.onnx", 5.5123, 181_400.0, 190_250.0)
    run_json(tmp_path / "run_int8.json", str(tmp_path / "deploy/vdsr_int8/mod.onnx"), 18.914, 52_870.0, 60_004.0)
    run_json(tmp_path / "run_int8_set5.json", "deploy/vdsr_int8/mod.onnx", 3.0, 1.0, 2.0, datalist={"path_output": "out_int8"})
    eval_json(tmp_path / "eval_int8.json", "out_int8", 30.84249, 0.861234)
    return tmp_path


TWO_MODELS_MARKDOWN = (
    "| model | engine | precision | calibration | input | GFLOPs | params (M) | PSNR (dB) | SSIM | throughput (qps) "
    "| e2e p50 (ms) | e2e p99 (ms) | size (MB) |\n"
    "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    "| vdsr_fp32 | onnxruntime | fp32 | - | 1x1x256x256 | 4.000 | 0.664 | - | - | 5.51 | 181.40 | 190.25 | 2.500 |\n"
    "| vdsr_int8 | onnxruntime | int8 | kl_divergence, per-channel, 5 samples | 1x1x256x256 | 4.000 | 0.664 | 30.842 | 0.8612 "
    "| 18.91 | 52.87 | 60.00 | 0.690 |\n"
    "\n"
    "- GFLOPs: 1 MAC = 2 FLOPs, counting the multiply-accumulates of Conv, ConvTranspose, Gemm and MatMul in one forward pass "
    "at the input shape shown. params (M): weights, in millions.\n"
    "- throughput: samples per second over the measured window; e2e p50/p99: request latency, from `vampy run --json`. "
    "size: mod.onnx in MB (10^6 bytes). -: no figure. engine and precision: what the run's sessions reported they ran "
    "(precision from the model folder when there is no run).\n"
    "- runs: 1 process x 1 instance, batch 1, 2 intra-op threads.\n"
    "- PSNR/SSIM: Y (opencv), 256x256, 4 px border shaved.\n"
)


def test_markdown_exact(two_models: Path) -> None:
    table = collect(["deploy/vdsr_fp32/", "deploy/vdsr_int8"], ["run_*.json"], ["eval_int8.json"])
    assert render_markdown(table) == TWO_MODELS_MARKDOWN
    assert table.notes == ()
    # the synthetic-input run gives the speed; the datalist run only ties the eval to the model
    assert table.rows[1].run_report == "run_int8.json" and table.rows[1].eval_report == "eval_int8.json"


def test_csv_round_trip(two_models: Path) -> None:
    table = collect(["deploy/vdsr_fp32", "deploy/vdsr_int8"], ["run_fp32.json", "run_int8.json", "run_int8_set5.json"], ["eval_int8.json"])
    rows = list(csv.DictReader(io.StringIO(render_csv(table))))
    assert tuple(rows[0]) == CSV_FIELDS and len(rows) == 2
    fp32, int8 = rows
    assert float(int8["psnr_db"]) == 30.84249 and float(int8["ssim"]) == 0.861234
    assert float(int8["throughput_qps"]) == 18.914 and float(int8["e2e_p99_ms"]) == 60.004
    assert float(int8["gflops"]) == 4.0 and float(int8["params_m"]) == 0.664 and float(int8["size_mb"]) == 0.69
    assert int8["calibration"] == "kl_divergence, per-channel, 5 samples" and int8["input_shape"] == "1x1x256x256"
    assert (int8["eval_images_scored"], int8["eval_images_total"], int8["run_complete"]) == ("2", "2", "true")
    assert fp32["psnr_db"] == fp32["ssim"] == fp32["eval_report"] == fp32["calibration"] == ""  # missing: empty
    assert fp32["accuracy_meaningful"] == ""  # source model's mod.json not found: unknown, not false


def test_missing_figures_render_as_dash(tmp_path: Path) -> None:
    folder = tmp_path / "bare"
    folder.mkdir()
    (folder / "mod.onnx").write_bytes(b"\0" * 1500)
    table = collect([str(folder)])
    assert render_markdown(table).splitlines()[2] == "| bare | - | - | - | - | - | - | - | - | - | - | - | 0.002 |"
    assert "runs:" not in render_markdown(table) and "PSNR/SSIM:" not in render_markdown(table)


def test_counter_fills_gflops_when_mod_json_has_none(tmp_path: Path) -> None:
    compile_json(tmp_path / "m", "fp16", macs=None, params=None)
    table = collect([str(tmp_path / "m")], count=lambda path: (3_000_000, 1_500, [[1, 3, 8, 8]]))
    row = table.rows[0]
    assert (row.gflops, row.params_m, row.input_shape) == (0.006, 0.0015, "1x3x8x8")

    def refuse(path: Path) -> tuple[int, int, list[list[int]]]:
        raise ModelError("cannot count MACs: symbolic dims")

    table = collect([str(tmp_path / "m")], count=refuse)
    assert (table.rows[0].gflops is None
            and table.notes == (f"{tmp_path / 'm'}: GFLOPs and params not counted: cannot count MACs: symbolic dims",))


def test_random_weights_are_marked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    zoo_json(tmp_path / "vdsr", random_weights=True)
    compile_json(tmp_path / "vdsr_int8", "int8", calibration=KL, checkpoint="vdsr/mod.onnx")  # compiled from it
    zoo_json(tmp_path / "real", random_weights=False)
    evals = [f"{name}={eval_json(tmp_path / f'e_{name}.json', 'o', 12.5, 0.25)}" for name in ("vdsr", "vdsr_int8", "real")]
    table = collect(["vdsr", "vdsr_int8", "real"], eval_args=evals)
    lines = render_markdown(table).splitlines()
    assert "| 12.500 (random weights) | 0.2500 (random weights) |" in lines[2]
    assert "| 12.500 (random weights) | 0.2500 (random weights) |" in lines[3]
    assert "| 12.500 | 0.2500 |" in lines[4]
    assert lines[2].startswith("| vdsr | - | fp32 | - | 1x1x256x256 | 87.134 | 0.665 |")
    assert any(line.startswith("- (random weights): the model has seeded random weights") for line in lines)
    assert [r.accuracy_meaningful for r in table.rows] == [False, False, True]


def test_partial_eval_and_incomplete_run_are_marked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    compile_json(tmp_path / "m", "fp32")
    run_json(tmp_path / "r.json", "m/mod.onnx", 2.0, 1000.0, 2000.0, complete=False)
    eval_json(tmp_path / "e.json", "o", 30.0, 0.9, failures=1, images=4)
    markdown = render_markdown(collect(["m"], ["r.json"], ["m=e.json"]))
    assert "| 30.000 (4/5 images) | 0.9000 (4/5 images) | 2.00 (INCOMPLETE) | 1.00 (INCOMPLETE) | 2.00 (INCOMPLETE) |" in markdown
    assert "- (INCOMPLETE): the run report says" in markdown and "- (k/n images): the eval report" in markdown


def test_run_matched_by_sha256_when_path_differs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    compile_json(tmp_path / "a", "fp32", sha256="aaa")
    compile_json(tmp_path / "b", "fp16", sha256="bbb")
    run_json(tmp_path / "r.json", "/elsewhere/b/mod.onnx", 7.0, 1.0, 2.0, metadata={"kind": "compile", "output": {"sha256": "bbb"}})
    table = collect(["a", "b"], ["r.json"])
    assert [r.throughput_qps for r in table.rows] == [None, 7.0]


def test_unmatched_reports_become_notes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    compile_json(tmp_path / "m", "fp32")
    run_json(tmp_path / "r.json", "other/mod.onnx", 1.0, 1.0, 1.0)
    eval_json(tmp_path / "e.json", "nowhere", 30.0, 0.9)
    table = collect(["m"], ["r.json"], ["e.json"])
    assert table.notes == (
        "--run r.json: left out, its model other/mod.onnx is in none of the model folders given; pair it with --run MODELDIR=r.json",
        "--eval e.json: left out, its --out_npz_dir nowhere is the --path_output of no matched run report; "
        "pair it with --eval MODELDIR=e.json",
    )
    assert table.rows[0].throughput_qps is None and table.rows[0].psnr_db is None


def test_two_runs_for_one_model_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    compile_json(tmp_path / "m", "fp32")
    run_json(tmp_path / "r1.json", "m/mod.onnx", 1.0, 1.0, 1.0)
    run_json(tmp_path / "r2.json", "m/mod.onnx", 2.0, 1.0, 1.0)
    with pytest.raises(InputError, match=r"^--run: 2 reports for model m \(r1.json, r2.json\); pass one"):
        collect(["m"], ["r1.json", "r2.json"])
    # an explicit pair wins over the automatic match
    assert collect(["m"], ["r1.json", "m=r2.json"]).rows[0].throughput_qps == 2.0


def test_pair_with_unlisted_folder_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    compile_json(tmp_path / "m", "fp32")
    eval_json(tmp_path / "e.json", "o", 30.0, 0.9)
    with pytest.raises(UsageError, match=r"^--eval other=e.json: other is not one of the model folders given \(m\)"):
        collect(["m"], eval_args=["other=e.json"])


def test_wrong_kind_reports_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    compile_json(tmp_path / "m", "fp32")
    eval_json(tmp_path / "e.json", "o", 30.0, 0.9)
    run_json(tmp_path / "r.json", "m/mod.onnx", 1.0, 1.0, 1.0)
    with pytest.raises(InputError, match=r"^--run e.json: is a 'eval' report, expected 'run'$"):
        collect(["m"], ["e.json"])
    with pytest.raises(InputError, match=r"^--eval r.json: is a 'run' report, expected 'eval'$"):
        collect(["m"], eval_args=["r.json"])
    (tmp_path / "old.json").write_text(json.dumps({"kind": "run", "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(InputError, match=rf"^--run old.json: not a vampy report of schema_version {SCHEMA_VERSION}$"):
        collect(["m"], ["old.json"])


def test_mod_json_of_another_kind_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    run_json(folder / "mod.json", "x", 1.0, 1.0, 1.0)
    with pytest.raises(InputError, match=r"mod.json: is a 'run' report; a model folder's mod.json must come from"):
        collect([str(folder)])
    (folder / "mod.json").write_text(json.dumps({"vendor": "vamp", "layers": []}))
    with pytest.raises(InputError, match=r"mod.json: is not a mod.json of `vampy compile` or `vampy zoo`"):
        collect([str(folder)])


def test_loose_report_files_are_sorted_by_kind(two_models: Path) -> None:
    # `--eval work/eval_*.json` unquoted: the shell hands the second match over as a positional word
    table = collect(["deploy/vdsr_fp32", "deploy/vdsr_int8", "run_int8_set5.json", "eval_int8.json", "run_int8.json"])
    assert table.rows[1].psnr_db == 30.84249 and table.rows[1].throughput_qps == 18.914
    compile_copy = two_models / "copy.json"
    compile_copy.write_text((two_models / "deploy/vdsr_int8/mod.json").read_text())
    with pytest.raises(InputError, match=r"^copy.json: is a 'compile' report; give model folders"):
        collect(["deploy/vdsr_int8", "copy.json"])


def test_bad_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"^empty: holds neither mod.onnx nor mod.json"):
        collect(["empty"])
    with pytest.raises(InputError, match=r"^deploy/\*/: matches no model folder$"):
        collect(["deploy/*/"])
    with pytest.raises(InputError, match=r"^nothing: no such folder or file"):
        collect(["nothing"])
    with pytest.raises(UsageError, match=r"give at least one model folder"):
        collect([str(run_json(tmp_path / "r.json", "m", 1.0, 1.0, 1.0))])


def test_quoted_globs_expand_and_folders_dedupe(two_models: Path) -> None:
    table = collect(["deploy/*/", "deploy/vdsr_fp32/mod.json"], ["run_*.json"], ["eval_*.json"])
    assert [r.model for r in table.rows] == ["vdsr_fp32", "vdsr_int8"]


def test_flops_convention_matches_the_counter() -> None:
    from vampy.models.info import FLOPS_PER_MAC as COUNTER_FLOPS_PER_MAC

    assert FLOPS_PER_MAC == COUNTER_FLOPS_PER_MAC == 2


def test_markdown_cells_escape_pipes(tmp_path: Path) -> None:
    compile_json(tmp_path / "a|b", "fp32")
    assert render_markdown(collect([str(tmp_path / "a|b")])).splitlines()[2].startswith("| a\\|b | - | fp32 |")


def test_one_row_per_engine_with_each_engines_own_eval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    compile_json(tmp_path / "fp32", "fp32")
    model = str(tmp_path / "fp32" / "mod.onnx")
    ov = {"engine": "openvino", "version": "2026.4", "device": "cpu", "precision": "bf16", "intra_threads": 2, "providers": ["CPU"]}
    ort = dict(ov, engine="onnxruntime", version="1.32", precision="fp32", providers=["CPUExecutionProvider"])
    run_json(tmp_path / "run_ort.json", model, 5.0, 180e3, 190e3, datalist={"path_output": "out_ort"}, engine=ort)
    run_json(tmp_path / "run_ov.json", model, 9.8, 100e3, 110e3, datalist={"path_output": "out_ov"}, engine=ov)
    eval_json(tmp_path / "eval_ort.json", "out_ort", 30.930, 0.898)
    eval_json(tmp_path / "eval_ov.json", "out_ov", 30.906, 0.897)
    table = collect(["fp32/"], ["run_ort.json", "run_ov.json"], ["eval_*.json"])
    assert [(r.engine, r.precision, r.psnr_db, r.throughput_qps) for r in table.rows] == [
        ("onnxruntime", "fp32", 30.930, 5.0), ("openvino", "bf16", 30.906, 9.8)]
    lines = render_markdown(table).splitlines()
    assert lines[2].startswith("| fp32 | onnxruntime | fp32 |") and lines[3].startswith("| fp32 | openvino | bf16 |")
    assert "engine" in render_csv(table).splitlines()[0].split(",")


def test_preset_eval_reports_fill_the_accuracy_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    compile_json(tmp_path / "edsr", "fp32")
    run_json(tmp_path / "run.json", str(tmp_path / "edsr" / "mod.onnx"), 7.5, 130e3, 140e3, datalist={"path_output": "out"})
    preset = {"kind": "eval", "schema_version": 1, "preset": "edsr", "config": {"outputs_dir": "out"}, "scoring": {},
              "images": [], "mean_psnr_db": 34.5, "mean_ssim": 0.93, "failures": [], "drawn": 0, "deviations": []}
    (tmp_path / "eval.json").write_text(json.dumps(preset))
    table = collect(["edsr/"], ["run.json"], ["eval.json"])
    assert (table.rows[0].psnr_db, table.rows[0].ssim) == (34.5, 0.93)
    assert "- PSNR/SSIM: the edsr family's own scoring" in render_markdown(table)


def test_eval_reports_of_both_schema_versions_fill_the_accuracy_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Version 2's `metrics` is read whatever the kind of eval; a version-1 plain report (`mean` only) still reads."""
    monkeypatch.chdir(tmp_path)
    compile_json(tmp_path / "edsr", "fp32")
    run_json(tmp_path / "run.json", str(tmp_path / "edsr" / "mod.onnx"), 7.5, 130e3, 140e3, datalist={"path_output": "out"})
    preset_v2 = {"kind": "eval", "schema_version": 2, "preset": "edsr", "config": {"outputs_dir": "out"}, "scoring": {},
                 "images": [], "metrics": {"psnr_db": 33.5}, "failures": [], "drawn": 0, "deviations": []}
    (tmp_path / "eval.json").write_text(json.dumps(preset_v2))
    row = collect(["edsr/"], ["run.json"], ["eval.json"]).rows[0]
    assert (row.psnr_db, row.ssim) == (33.5, None)  # a convention without SSIM has none in metrics
    plain_v1 = {"kind": "eval", "schema_version": 1, "config": {"outputs_dir": "out", "ycbcr": "opencv", "input_hw": None, "shave_px": 4},
                "images": [], "mean": {"psnr_db": 30.25, "ssim": 0.875, "bicubic_psnr_db": 28.0, "bicubic_ssim": 0.8},
                "failures": [], "drawn": 0}
    (tmp_path / "eval.json").write_text(json.dumps(plain_v1))
    table = collect(["edsr/"], ["run.json"], ["eval.json"])
    assert (table.rows[0].psnr_db, table.rows[0].ssim) == (30.25, 0.875)
    assert "- PSNR/SSIM: Y (opencv), native size, 4 px border shaved" in render_markdown(table)
    (tmp_path / "eval.json").write_text(json.dumps(dict(plain_v1, schema_version=3)))
    with pytest.raises(InputError, match=r"^--eval eval.json: not a vampy report of schema_version 1 or 2$"):
        collect(["edsr/"], ["run.json"], ["eval.json"])


def test_two_precisions_of_one_engine_are_two_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    compile_json(tmp_path / "fp32", "fp32")
    model = str(tmp_path / "fp32" / "mod.onnx")
    bf16 = {"engine": "openvino", "version": "2026.4", "device": "cpu", "precision": "bf16", "intra_threads": 2, "providers": ["CPU"]}
    run_json(tmp_path / "run_bf16.json", model, 9.8, 100e3, 110e3, engine=bf16)
    run_json(tmp_path / "run_f32.json", model, 5.1, 190e3, 200e3, engine=dict(bf16, precision="fp32"))
    table = collect(["fp32/"], ["run_bf16.json", "run_f32.json"])
    assert [(r.engine, r.precision, r.throughput_qps) for r in table.rows] == [("openvino", "bf16", 9.8), ("openvino", "fp32", 5.1)]
