"""`vampy diff REF_DIR TEST_DIR --datalist DL`: the table, JSON, HTML, exit codes 0, 3, 6 and 8 (each gate crossed and not)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.models import conv_model
from tests.support.cli import exit_code as _vampy
from tests.support.files import make_inputs, vdsp_file

LINES = 5
NOISE = (0.001, 0.002, 0.03, 0.004, 0.005)  # line 2 is the worst by far


def _outputs(tmp_path: Path, scores: bool = False) -> tuple[Path, Path, Path]:
    """ref/ and test/ with output_00000N.npz per line (an image tensor, and a [1, 10] score tensor when asked), and the datalist."""
    rng = np.random.default_rng(0)
    ref, test = tmp_path / "ref", tmp_path / "test"
    ref.mkdir()
    test.mkdir()
    for line, noise in enumerate(NOISE):
        image = rng.random((1, 1, 16, 16)).astype(np.float32)
        arrays_ref = {"output_0": image}
        arrays_test = {"output_0": (image + rng.normal(0, noise, image.shape)).astype(np.float32)}
        if scores:
            logits = (rng.random((1, 10)) * 0.5).astype(np.float32)
            logits[0, 4], logits[0, 7] = 0.90, 0.89  # class 4 wins, class 7 a close second
            arrays_ref["output_1"] = logits
            flipped = logits.copy()
            if line == 3:
                flipped[0, 7] = 0.91  # the top-1 class changes on line 3 only, by a small step (SNR about 37 dB)
            arrays_test["output_1"] = flipped
        np.savez(ref / f"output_{line:06d}.npz", **arrays_ref)
        np.savez(test / f"output_{line:06d}.npz", **arrays_test)
    datalist = tmp_path / "dl.txt"
    datalist.write_text("".join(f"inputs/img{line}.npz\n" for line in range(LINES)))
    return ref, test, datalist


def test_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref, test, datalist = _outputs(tmp_path, scores=True)
    report = tmp_path / "d.json"
    assert _vampy(["diff", str(ref), str(test), "--datalist", str(datalist), "--worst", "2", "--json", str(report), "-q"]) == 0
    out = capsys.readouterr().out
    assert "5 of 5 datalist lines compared" in out and "SNR (dB)" in out and "the 2 lowest-SNR lines" in out
    data = json.loads(report.read_text())
    assert data["kind"] == "diff" and data["schema_version"] == 1 and (data["lines"], data["compared"]) == (5, 5)
    assert len(data["records"]) == 10 and data["missing"] == [] and data["gates"] == []
    first = data["records"][0]
    assert {"line", "path", "tensor", "shape", "max_abs", "mean_abs", "rel_l2", "cosine", "snr_db", "top1_agree", "psnr_db"} <= set(first)
    assert (first["line"], first["path"], first["tensor"]) == (0, "inputs/img0.npz", "output_0")
    assert [(w["line"], w["tensor"]) for w in data["worst"]] == [(2, "output_0"), (3, "output_1")]
    assert data["summary"]["output_1"]["top1_agree"]["mean"] == 0.8 and data["summary"]["output_1"]["snr_db"]["max"] == "inf"
    # the figures in the file are the float64 definitions of the arrays on disk
    r = np.load(ref / "output_000002.npz")["output_0"].astype(np.float64)
    t = np.load(test / "output_000002.npz")["output_0"].astype(np.float64)
    record = next(x for x in data["records"] if x["line"] == 2 and x["tensor"] == "output_0")
    assert record["snr_db"] == pytest.approx(10 * math.log10(np.sum(r * r) / np.sum((r - t) ** 2)), rel=1e-12)
    assert record["max_abs"] == pytest.approx(float(np.abs(r - t).max()), rel=1e-12)
    assert record["cosine"] == pytest.approx(float(np.sum(r * t) / np.sqrt(np.sum(r * r) * np.sum(t * t))), rel=1e-12)


GATES = [
    # flag, value that line 2 (or line 3 for top-1) crosses, value nothing crosses
    ("--min_snr_db", "30", "10"),
    ("--min_cosine", "0.999", "0.9"),
    ("--min_top1_agree", "0.9", "0.8"),
]


@pytest.mark.parametrize(("flag", "crossed", "held"), GATES, ids=[g[0] for g in GATES])
def test_each_gate_exits_8_when_crossed_and_0_when_not(tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, crossed: str,
                                                         held: str) -> None:
    ref, test, datalist = _outputs(tmp_path, scores=True)
    report = tmp_path / "d.json"
    assert _vampy(["diff", str(ref), str(test), "--datalist", str(datalist), flag, held, "-q"]) == 0
    assert "passed" in capsys.readouterr().out
    assert _vampy(["diff", str(ref), str(test), "--datalist", str(datalist), flag, crossed, "--json", str(report), "-q"]) == 8
    err = capsys.readouterr().err
    line = "line 3 (inputs/img3.npz, output_1" if flag == "--min_top1_agree" else "line 2 (inputs/img2.npz, output_0"
    assert f"{flag} {crossed}: FAILED" in err and line in err and len(err.strip().splitlines()) == 1
    gate = json.loads(report.read_text())["gates"][0]  # written before the exit
    assert gate["gate"] == flag[2:] and gate["passed"] is False


def test_missing_line_is_named_and_exits_6(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref, test, datalist = _outputs(tmp_path)
    (test / "output_000003.npz").unlink()
    report = tmp_path / "d.json"
    assert _vampy(["diff", str(ref), str(test), "--datalist", str(datalist), "--json", str(report), "-q"]) == 6
    err = capsys.readouterr().err
    assert "4 of 5 datalist lines compared" in err and "line 3 inputs/img3.npz (output_000003.npz not in the test folder)" in err
    data = json.loads(report.read_text())
    assert data["missing"] == [{"line": 3, "path": "inputs/img3.npz", "file": "output_000003.npz", "missing_in": "test"}]
    assert data["compared"] == 4 and {r["line"] for r in data["records"]} == {0, 1, 2, 4}
    # a crossed gate wins over the missing line: 8, and the message names both
    assert _vampy(["diff", str(ref), str(test), "--datalist", str(datalist), "--min_snr_db", "30", "-q"]) == 8
    assert "1 line(s) missing on a side" in capsys.readouterr().err


@pytest.mark.parametrize("fault", ["corrupt", "keys", "shape"])
def test_unreadable_or_mismatched_files_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str], fault: str) -> None:
    ref, test, datalist = _outputs(tmp_path)
    target = test / "output_000001.npz"
    if fault == "corrupt":
        target.write_bytes(b"not a zip")
    elif fault == "keys":
        np.savez(target, output_0=np.zeros((1, 1, 16, 16), np.float32), output_1=np.zeros(3, np.float32))
    else:
        np.savez(target, output_0=np.zeros((1, 1, 8, 8), np.float32))
    assert _vampy(["diff", str(ref), str(test), "--datalist", str(datalist), "-q"]) == 3
    err = capsys.readouterr().err
    expected = {"corrupt": "not an npz file", "keys": "holds output_0 but", "shape": "shape [1, 1, 16, 16] in the reference"}[fault]
    assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_flags_and_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref, test, datalist = _outputs(tmp_path)
    assert _vampy(["diff", str(ref), str(tmp_path / "absent"), "--datalist", str(datalist)]) == 3
    assert "TEST_DIR" in capsys.readouterr().err
    assert _vampy(["diff", str(ref), str(test), "--datalist", str(tmp_path / "absent.txt")]) == 3
    for flag, value in (("--worst", "-1"), ("--data_range", "0"), ("--min_top1_agree", "2"), ("--min_snr_db", "nan")):
        assert _vampy(["diff", str(ref), str(test), "--datalist", str(datalist), flag, value]) == 2, flag
        assert flag in capsys.readouterr().err
    assert _vampy(["diff", str(ref), str(test)]) == 2  # --datalist is required


def test_html_shows_the_worst_lines_side_by_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref, test, datalist = _outputs(tmp_path)
    page, report = tmp_path / "d.html", tmp_path / "d.json"
    assert _vampy(["diff", str(ref), str(test), "--datalist", str(datalist), "--worst", "3", "--html", str(page), "--json", str(report),
                   "-q"]) == 0
    html = page.read_text()
    assert "Output drift" in html and "The 3 lowest-SNR lines" in html
    assert f"vampy diff {ref} {test} --datalist {datalist} --worst 3" in html  # to reproduce
    assert html.count('alt="reference"') == 3 and html.count('alt="test"') == 3 and html.count('alt="|difference|') == 3
    # `vampy report` reads the JSON back and draws the same pictures from the npz files
    assert _vampy(["report", str(report), "-o", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").read_text().count('alt="reference"') == 3


def test_help_documents_exit_8() -> None:
    proc = subprocess.run([sys.executable, "-m", "vampy", "--help"], capture_output=True, text=True, timeout=60)
    assert "8 gate failed" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "vampy", "diff", "--help"], capture_output=True, text=True, timeout=60)
    assert "REF_DIR" in proc.stdout and "exit 8" in proc.stdout and "--min_top1_agree" in proc.stdout


@pytest.mark.slow
def test_two_real_runs_of_one_build_are_identical(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The whole flow: `vampy run --datalist` twice with the same model, then diff: every line identical, SNR inf."""
    model = conv_model(tmp_path / "m" / "mod.onnx", in_ch=1, hw=(16, 16), dynamic=True)
    inputs = make_inputs(tmp_path / "in", 3, sizes=((16, 16),))
    datalist = tmp_path / "dl.txt"
    datalist.write_text("".join(f"{p}\n" for p in inputs))
    vdsp = vdsp_file(tmp_path)
    for side in ("a", "b"):
        assert _vampy(["run", "-m", str(model), "--vdsp_params", str(vdsp), "--datalist", str(datalist), "--path_output",
                       str(tmp_path / side), "--threads", "1", "-q"]) == 0
    report = tmp_path / "d.json"
    assert _vampy(["diff", str(tmp_path / "a"), str(tmp_path / "b"), "--datalist", str(datalist), "--min_snr_db", "100",
                   "--json", str(report), "-q"]) == 0
    data = json.loads(report.read_text())
    assert data["compared"] == 3 and all(r["snr_db"] == "inf" and r["max_abs"] == 0 for r in data["records"])
    assert any("every compared line is identical" in n for n in data["notes"])


# --- detectors after NMS: --boxes, --box_score_min, --box_iou, --min_box_recall ---

PLANTED = [(0, 0.9, (64, 160, 192, 480)), (2, 0.8, (256, 256, 448, 384)), (16, 0.7, (480, 192, 608, 320)),
           (56, 0.6, (224, 416, 352, 512))]
# line -> the test side: (a) rows 1 and 2 swapped, (b) an extra box at 0.3, (c) the first box 2 px right, (d) the last box gone
DETECTION_LINES = [
    [PLANTED[0], PLANTED[2], PLANTED[1], PLANTED[3]],
    [*PLANTED, (3, 0.3, (10, 10, 50, 50))],
    [(0, 0.9, (66, 160, 194, 480)), *PLANTED[1:]],
    PLANTED[:3],
]


def _detection_npz(path: Path, rows: list, n: int = 300) -> None:
    """output_0 class ids [1,n,1], output_1 scores [1,n,1], output_2 boxes [1,n,4] padded with -1, as the NMS extra op writes."""
    ids, scores, boxes = (np.full((1, n, width), -1.0, np.float32) for width in (1, 1, 4))
    for i, (cls, score, box) in enumerate(rows):
        ids[0, i, 0], scores[0, i, 0], boxes[0, i] = cls, score, box
    np.savez(path, output_0=ids, output_1=scores, output_2=boxes)


def _detections(tmp_path: Path) -> tuple[Path, Path, Path]:
    ref, test = tmp_path / "ref", tmp_path / "test"
    ref.mkdir()
    test.mkdir()
    for line, rows in enumerate(DETECTION_LINES):
        _detection_npz(ref / f"output_{line:06d}.npz", PLANTED)
        _detection_npz(test / f"output_{line:06d}.npz", rows)
    datalist = tmp_path / "dl.txt"
    datalist.write_text("".join(f"inputs/img{line}.npz\n" for line in range(len(DETECTION_LINES))))
    return ref, test, datalist


def test_detections_are_compared_as_boxes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref, test, datalist = _detections(tmp_path)
    report = tmp_path / "d.json"
    assert _vampy(["diff", str(ref), str(test), "--datalist", str(datalist), "--json", str(report), "-q"]) == 0
    out = capsys.readouterr().out
    assert "boxes (output_0, output_1, output_2): score >= 0.25, match at IoU >= 0.5; 15 of 16 reference" in out
    assert "the 4 lines with the lowest box recall" in out and "rows may be reordered" in out
    boxes = json.loads(report.read_text())["boxes"]
    assert [(r["line"], r["ref_count"], r["test_count"], r["matched"]) for r in boxes["records"]] == [
        (0, 4, 4, 4), (1, 4, 5, 4), (2, 4, 4, 4), (3, 4, 3, 3)]
    assert [r["precision"] for r in boxes["records"]] == [1.0, 0.8, 1.0, 1.0]
    assert boxes["records"][2]["min_iou"] == pytest.approx(126 / 130, rel=1e-12) and boxes["records"][2]["max_shift_px"] == 2.0
    assert [w["line"] for w in boxes["worst"]] == [3, 2, 1, 0]
    assert _vampy(["report", str(report), "-o", str(tmp_path / "d.html")]) == 0  # the page shows the same block
    html = (tmp_path / "d.html").read_text()
    assert "Detections compared as boxes" in html and "15 of\n16 reference" in html and "The 4 lines with the lowest box recall" in html
    # tighter settings: the 0.3 box and the 0.6 box fall under --box_score_min 0.65; IoU 126/130 is under --box_iou 0.97
    assert _vampy(["diff", str(ref), str(test), "--datalist", str(datalist), "--box_score_min", "0.65", "--box_iou", "0.97",
                   "--json", str(report), "-q"]) == 0
    records = json.loads(report.read_text())["boxes"]["records"]
    assert [(r["ref_count"], r["test_count"], r["matched"]) for r in records] == [(3, 3, 3), (3, 3, 3), (3, 3, 2), (3, 3, 3)]


def test_box_recall_gate_exits_8_on_the_missing_box_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref, test, datalist = _detections(tmp_path)
    assert _vampy(["diff", str(ref), str(test), "--datalist", str(datalist), "--min_box_recall", "0.75", "-q"]) == 0
    assert "--min_box_recall 0.75: passed" in capsys.readouterr().out
    assert _vampy(["diff", str(ref), str(test), "--datalist", str(datalist), "--min_box_recall", "1", "-q"]) == 8
    err = capsys.readouterr().err
    assert "--min_box_recall 1: FAILED (lowest 0.75); below: line 3 (inputs/img3.npz, boxes: 0.75)" in err
    assert "line 0" not in err and "line 1" not in err and "line 2" not in err
    (test / "output_000003.npz").unlink()  # without the line with the missing box: every line passes, the missing file exits 6
    assert _vampy(["diff", str(ref), str(test), "--datalist", str(datalist), "--min_box_recall", "1", "-q"]) == 6


def test_boxes_off_on_and_bad_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref, test, datalist = _detections(tmp_path)
    report = tmp_path / "d.json"
    assert _vampy(["diff", str(ref), str(test), "--datalist", str(datalist), "--boxes", "off", "--json", str(report), "-q"]) == 0
    assert json.loads(report.read_text())["boxes"] is None and "boxes (" not in capsys.readouterr().out
    (tmp_path / "sr").mkdir()
    sr_ref, sr_test, sr_datalist = _outputs(tmp_path / "sr")  # a one-output image model: auto leaves it alone, on refuses it
    assert _vampy(["diff", str(sr_ref), str(sr_test), "--datalist", str(sr_datalist), "--json", str(report), "-q"]) == 0
    assert json.loads(report.read_text())["boxes"] is None
    assert _vampy(["diff", str(sr_ref), str(sr_test), "--datalist", str(sr_datalist), "--boxes", "on", "-q"]) == 2
    assert "--boxes on: line 0" in capsys.readouterr().err
    for flag, value in (("--boxes", "maybe"), ("--box_score_min", "1.5"), ("--box_iou", "0"), ("--min_box_recall", "2")):
        assert _vampy(["diff", str(ref), str(test), "--datalist", str(datalist), flag, value]) == 2, flag
        assert flag in capsys.readouterr().err
    assert _vampy(["diff", str(ref), str(test), "--datalist", str(datalist), "--boxes", "off", "--min_box_recall", "1"]) == 2


def test_box_gate_with_every_line_missing_is_a_partial_result_not_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref, test, datalist = _detections(tmp_path)
    for npz in test.glob("*.npz"):
        npz.unlink()
    assert _vampy(["diff", str(ref), str(test), "--datalist", str(datalist), "--min_box_recall", "1", "-q"]) == 6
    assert "no line's outputs are detections" not in capsys.readouterr().err
