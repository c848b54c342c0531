"""`vampy infer` on a tiny model and made-up images: order, per-image failures, bounded overlap,
equality with the npz route (image2npz + run --datalist + eval, the real commands), exit codes.
The Set5 test (pretrained VDSR, 256x256) skips without ../shared/data."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.models import conv_model
from tests.support.cli import exit_code as _vampy
from tests.support.files import SR_HEIGHT, SR_WIDTH, add_sr_pair, normalizing_vdsp, sr_ground_truth
from vampy.cli import main
from vampy.config import InferConfig
from vampy.data.imaging import read_image
from vampy.errors import InputError, ModelError, OutputError, UsageError
from vampy.workflows.infer import QUEUE_BATCHES, _Pipeline, infer

HEIGHT, WIDTH = SR_HEIGHT, SR_WIDTH  # add_sr_pair's ground truth size
MODEL_HW = (20, 28)  # the vdsp resize: every image is fed at this size and scored at it
# Created in this order on purpose: the results must come back sorted by name, not by creation.
NAMES = ("delta", "alpha", "charlie", "bravo", "echo")


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    """lr/NAME_scale_4.png, hr/NAME.png, a dynamic 1-channel conv model, a vdsp file resizing to MODEL_HW."""
    (tmp_path / "lr").mkdir()
    (tmp_path / "hr").mkdir()
    for seed, name in enumerate(NAMES):
        add_sr_pair(tmp_path, name, seed)
    conv_model(tmp_path / "model" / "mod.onnx", dynamic=True)
    normalizing_vdsp(tmp_path / "vdsp.json", MODEL_HW)
    return tmp_path


def _cfg(root: Path, **overrides: Any) -> InferConfig:
    values: dict[str, Any] = dict(
        lr_dir=str(root / "lr"), model=str(root / "model" / "mod"), gt_dir=str(root / "hr"),
        vdsp_params=str(root / "vdsp.json"), save_dir=str(root / "sr"),
    )
    values.update(overrides)
    return InferConfig(**values)


def _cli(root: Path, *extra: str) -> list[str]:
    return [
        "infer", "--lr_image_dir", str(root / "lr"), "--model_prefix_path", str(root / "model" / "mod"),
        "--vdsp_params_info", str(root / "vdsp.json"), "--hr_image_dir", str(root / "hr"), "-q", *extra,
    ]


def test_results_in_input_order_batch_invariant_and_pngs_written(data: Path) -> None:
    one = infer(_cfg(data))
    three = infer(_cfg(data, batch_size=3, save_dir=None))  # 5 images: a full batch and a partial one
    expected = [f"{n}_scale_4" for n in sorted(NAMES)]
    assert [i.name for i in one.images] == expected and [i.index for i in one.images] == list(range(5))
    assert [i.scores for i in three.images] == [i.scores for i in one.images]
    assert three.timing.batches == 2 and one.timing.batches == 5 and one.timing.images == 5
    assert one.compare_hw == list(MODEL_HW) and one.mode == "y3" and not one.failures
    assert {(i.height_px, i.width_px) for i in one.images} == {MODEL_HW}
    assert one.mean.psnr_db == pytest.approx(np.mean([i.scores.psnr_db for i in one.images]), abs=1e-12)
    assert one.saved == 5 and three.saved == 0
    assert read_image(data / "sr" / "alpha_scale_4.png").shape == (*MODEL_HW, 3)
    assert one.timing.throughput_ips == pytest.approx(5 / one.timing.pipeline_s)


def test_per_image_failures_are_listed_and_the_rest_scored(data: Path) -> None:
    (data / "lr" / "broken_scale_4.png").write_bytes(b"not a png at all")
    (data / "hr" / "broken.png").write_bytes(b"")
    cv2.imwrite(str(data / "lr" / "orphan_scale_4.png"), sr_ground_truth(9))  # no hr/orphan.*
    (data / "lr" / "notes.txt").write_text("not an image: not listed at all")
    report = infer(_cfg(data, pattern="*"))
    assert [(f.index, f.stage) for f in report.failures] == [(2, "read"), (6, "ground truth")]
    assert "broken_scale_4.png: not an image OpenCV can decode" in report.failures[0].reason
    assert "no ground truth for orphan_scale_4.png" in report.failures[1].reason
    assert [i.index for i in report.images] == [0, 1, 3, 4, 5] and report.saved == 5
    assert not report.complete and report.timing.images == 5


def test_a_shape_the_model_rejects_fails_that_image_only(data: Path) -> None:
    conv_model(data / "fixed" / "mod.onnx", hw=(HEIGHT, WIDTH))  # batch 1, 24x32 only
    add_sr_pair(data, "small", 7, 16, 16)
    report = infer(_cfg(data, model=str(data / "fixed" / "mod"), native=True))
    assert [(f.stage, Path(f.path).name) for f in report.failures] == [("preprocess", "small_scale_4.png")]
    assert (f"the image is 16x16 (H x W) after preprocessing and the model takes {HEIGHT}x{WIDTH}: give --vdsp_params with a resize"
            in report.failures[0].reason)
    assert len(report.images) == 5 and report.compare_hw is None
    assert {(i.height_px, i.width_px) for i in report.images} == {(HEIGHT, WIDTH)}


def test_stages_overlap_through_bounded_queues(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for seed in range(10, 22):
        add_sr_pair(data, f"extra{seed}", seed)
    events: list[tuple[str, int]] = []
    lock = threading.Lock()
    decode, finish = _Pipeline._decode, _Pipeline._finish

    def logged_decode(self: _Pipeline, index: int, path: Path) -> Any:
        with lock:
            events.append(("decode", index))
        return decode(self, index, path)

    def slow_finish(self: _Pipeline, item: Any) -> Any:
        time.sleep(0.01)  # a slow writer: the decoder must wait for it, not read everything ahead
        result = finish(self, item)
        with lock:
            events.append(("written", item.index))
        return result

    monkeypatch.setattr(_Pipeline, "_decode", logged_decode)
    monkeypatch.setattr(_Pipeline, "_finish", slow_finish)
    report = infer(_cfg(data, batch_size=2))
    assert [i.index for i in report.images] == list(range(17))
    written = 0
    # In flight at most: each queue full, a batch in the model, one item in each thread.
    bound = 2 * QUEUE_BATCHES * 2 + 2 + 2
    for kind, index in events:
        if kind == "written":
            written += 1
        else:
            assert index - written <= bound, f"decoded image {index} with only {written} written"
    first_write = events.index(next(e for e in events if e[0] == "written"))
    assert any(kind == "decode" for kind, _ in events[first_write:]), "decoding must go on while the writer works"


def test_a_failing_stage_stops_the_pipeline(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(folder: Path, name: str, payload: bytes) -> Path:
        raise OutputError(f"cannot write {folder / name}: disk full")

    monkeypatch.setattr("vampy.workflows.infer.write_bytes_atomic", refuse)
    with pytest.raises(OutputError, match="disk full"):
        infer(_cfg(data))
    assert not [t for t in threading.enumerate() if t.name.startswith("vampy-infer")]


def test_the_clock_starts_once_every_stage_has_warmed_up(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each stage warms up in its own thread; none may start timed work before all three are ready,
    and the warm-ups' time is not in the pipeline's (a tick clock: no wall-time assertion)."""
    import vampy.workflows.infer as infer_module

    ticks = iter(range(1, 10**9))
    lock = threading.Lock()

    def tick() -> int:
        with lock:
            return next(ticks)

    seen: dict[str, list[Any]] = {"warm": [], "timed": []}
    warm_decode, warm_write, decode = infer_module._warm_decode, infer_module._warm_write, _Pipeline._decode

    def logged_warm_decode(*args: Any) -> None:
        warm_decode(*args)
        seen["warm"].append(("decode", tick(), threading.current_thread().name))

    def logged_warm_write(prep: Any, output: Any) -> None:
        assert output is not None and output.shape[0] == 1  # the model's warm-up output, one sample
        warm_write(prep, output)
        seen["warm"].append(("write", tick(), threading.current_thread().name))

    def logged_decode(self: _Pipeline, index: int, path: Path) -> Any:
        seen["timed"].append(tick())
        return decode(self, index, path)

    run = _Pipeline.run

    def logged_run(self: _Pipeline) -> Any:
        busy = run(self)
        seen["start"] = [busy.start_ns]
        return busy

    monkeypatch.setattr(infer_module, "_warm_decode", logged_warm_decode)
    monkeypatch.setattr(infer_module, "_warm_write", logged_warm_write)
    monkeypatch.setattr(_Pipeline, "_decode", logged_decode)
    monkeypatch.setattr(_Pipeline, "run", logged_run)
    report = infer_module.execute(infer_module.prepare(_cfg(data)), clock=tick)
    assert sorted(kind for kind, _, _ in seen["warm"]) == ["decode", "write"]
    assert {name for _, _, name in seen["warm"]} == {"vampy-infer-decode", "vampy-infer-write"}
    # warm-ups, then the clock, then the first image: the read of image 0 is inside the window
    assert max(t for _, t, _ in seen["warm"]) < seen["start"][0] < min(seen["timed"])
    assert len(report.images) == 5 and report.timing.pipeline_s > 0


def test_whole_run_problems_raise(data: Path) -> None:
    with pytest.raises(InputError, match="--lr_image_dir"):
        infer(_cfg(data, lr_dir=str(data / "nowhere")))
    with pytest.raises(InputError, match="no image file"):
        infer(_cfg(data, pattern="*.bmp"))
    with pytest.raises(ModelError, match="fixed batch"):
        conv_model(data / "fixed" / "mod.onnx", hw=MODEL_HW)
        infer(_cfg(data, model=str(data / "fixed" / "mod"), batch_size=2))
    with pytest.raises(UsageError, match="--native"):
        _cfg(data, native=True, input_hw=(8, 8))
    with pytest.raises(UsageError, match="--vdsp_params"):
        _cfg(data, vdsp_params=None, input_hw=(8, 8))


def test_cli_table_json_and_exit_codes(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report_path = data / "r.json"
    assert _vampy(_cli(data, "--input_shape", "20", "24", "--save_dir", str(data / "sr"), "--json", str(report_path))) == 0
    out = capsys.readouterr().out
    assert "mean of 5" in out and "20x24" in out and "mean psnr: " in out and "throughput (images/s): " in out
    report = json.loads(report_path.read_text())
    assert report["kind"] == "infer" and report["schema_version"] == 2 and report["compare_hw"] == [20, 24]
    assert f"mean psnr: {report['mean']['psnr_db']!r}" in out and report["metrics"] == report["mean"]
    assert report["saved"] == 5 and report["timing"]["images"] == 5

    (data / "lr" / "broken_scale_4.png").write_bytes(b"junk")
    assert _vampy(["infer", "-m", str(data / "model" / "mod"), "--vdsp_params", str(data / "vdsp.json"),
                   "--lr_image_dir", str(data / "lr"), "--hr_image_dir", str(data / "hr"), "-q"]) == 6
    err = capsys.readouterr().err
    assert "not processed (read):" in err and "1 of 6 image(s) failed" in err

    assert _vampy(_cli(data, "--pattern", "broken*")) == 3
    assert "no image could be processed (1 failed)" in capsys.readouterr().err
    assert _vampy(_cli(data, "--native", "--input_shape", "8", "8")) == 2
    assert _vampy(_cli(data, "--batch", "0")) == 2
    assert _vampy(_cli(data, "--mode", "cmyk")) == 2
    assert _vampy(_cli(data, "--hr_image_dir", str(data / "nowhere"))) == 3


def _subprocess_vampy(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "vampy", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_mean_psnr_equals_the_npz_route(data: Path) -> None:
    """image2npz --mode y3 + run --datalist + eval, the real commands, against infer: same numbers."""
    model, vdsp, work = str(data / "model" / "mod"), str(data / "vdsp.json"), data / "npz_route"
    _subprocess_vampy("image2npz", "--dataset_path", str(data / "lr"), "--pattern", "*_scale_4.png", "--mode", "y3",
                      "--target_path", str(work / "npz"), "--text_path", str(work / "list.txt"), "-q")
    _subprocess_vampy("run", "-m", model, "--vdsp_params", vdsp, "-i", "1", "p", "1", "-b", "1", "-s", "[3,24,32]",
                      "--datalist", str(work / "list.txt"), "--path_output", str(work / "out"), "-q")
    _subprocess_vampy("eval", "--src_dir", str(data / "lr"), "--gt_dir", str(data / "hr"), "--input_npz_path", str(work / "list.txt"),
                      "--out_npz_dir", str(work / "out"), "--input_shape", str(MODEL_HW[0]), str(MODEL_HW[1]), "--vamp_flag",
                      "--json", str(work / "eval.json"), "-q")
    assert _vampy(_cli(data, "--pattern", "*_scale_4.png", "--json", str(data / "infer.json"))) == 0
    npz_route = json.loads((work / "eval.json").read_text())
    streamed = json.loads((data / "infer.json").read_text())
    assert streamed["mean"]["psnr_db"] == pytest.approx(npz_route["mean"]["psnr_db"], abs=1e-6)
    assert [i["scores"] for i in streamed["images"]] == [i["scores"] for i in npz_route["images"]]


@pytest.mark.slow
@pytest.mark.shared_data
def test_set5_pretrained_vdsr_equals_the_npz_route(shared_data: Path, tmp_path: Path) -> None:
    set5, model, vdsp = shared_data / "Set5", str(tmp_path / "vdsr" / "mod"), "vdsp_params/official-vdsr-vdsp_params.json"
    repo = Path(__file__).resolve().parents[2]
    vdsp = str(repo / vdsp)
    assert _vampy(["zoo", "vdsr", "-o", str(tmp_path / "vdsr"), "--weights", str(shared_data / "vdsr" / "vdsr_x234_weights.npz")]) == 0
    assert _vampy(["image2npz", "--dataset_path", str(set5), "--pattern", "*_scale_4.bmp", "--mode", "y3",
                   "--target_path", str(tmp_path / "npz"), "--text_path", str(tmp_path / "list.txt"), "-q"]) == 0
    assert _vampy(["run", "-m", model, "--vdsp_params", vdsp, "-s", "[3,256,256]", "--datalist", str(tmp_path / "list.txt"),
                   "--path_output", str(tmp_path / "out"), "-q"]) == 0
    assert _vampy(["eval", "--src_dir", str(set5), "--gt_dir", str(set5), "--input_npz_path", str(tmp_path / "list.txt"),
                   "--out_npz_dir", str(tmp_path / "out"), "--input_shape", "256", "256", "--vamp_flag",
                   "--json", str(tmp_path / "eval.json"), "-q"]) == 0
    assert _vampy(["infer", "--lr_image_dir", str(set5), "--pattern", "*_scale_4.bmp", "-m", model, "--vdsp_params_info", vdsp,
                   "--hr_image_dir", str(set5), "--save_dir", str(tmp_path / "sr"), "--json", str(tmp_path / "infer.json"), "-q"]) == 0
    npz_route = json.loads((tmp_path / "eval.json").read_text())["mean"]["psnr_db"]
    streamed = json.loads((tmp_path / "infer.json").read_text())
    assert streamed["mean"]["psnr_db"] == pytest.approx(npz_route, abs=1e-6)
    assert abs(streamed["mean"]["psnr_db"] - 30.958) < 0.05  # the vendor's table, as eval reproduces it
    assert streamed["saved"] == 5 and len(list((tmp_path / "sr").glob("*.png"))) == 5


def test_ctrl_c_keeps_the_images_scored_so_far_in_a_report_marked_incomplete(
    data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """The stream's Ctrl-C, made deterministic: it lands once every image is scored, before the pipeline returns."""
    finish = _Pipeline.run

    def run_then_ctrl_c(self: _Pipeline) -> Any:
        finish(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(_Pipeline, "run", run_then_ctrl_c)
    report_path = data / "r.json"
    with pytest.raises(SystemExit) as info:
        main(_cli(data, "--json", str(report_path)))
    assert info.value.code == 130
    err = capsys.readouterr().err
    assert "vampy: infer INCOMPLETE: interrupted (Ctrl-C)" in err and f"after {len(NAMES)} of {len(NAMES)} images" in err
    saved = json.loads(report_path.read_text())
    assert saved["incomplete_reason"] == "interrupted (Ctrl-C)" and len(saved["images"]) == len(NAMES)
