"""Token models as the zoo's NLP READMEs run them: npz keyed by input name or input_0..input_2, int32
arrays of [1, L] or [L], the vendor's six-shape -s, and performance mode on synthetic ids the model takes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from tests.models import TOKEN_INPUT_NAMES, bert_like_model

pytestmark = pytest.mark.slow

SEQ_LEN = 128
VOCAB = 50
SIX_SHAPES = "[[1,128],[1,128],[1,128],[1,128],[1,128],[1,128]]"  # the vendor's BERT lines: six inputs


def vampy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vampy", *args], capture_output=True, text=True, timeout=120)


def token_sample(seed: int) -> dict[str, np.ndarray]:
    """One sentence as int32 [L] arrays: ids within the vocabulary, a mask ending in padding, two segments."""
    rng = np.random.default_rng(seed)
    length = int(rng.integers(10, SEQ_LEN))
    mask = (np.arange(SEQ_LEN) < length).astype(np.int32)
    types = (np.arange(SEQ_LEN) >= length // 2).astype(np.int32) * mask
    ids = rng.integers(1, VOCAB, SEQ_LEN).astype(np.int32) * mask
    return dict(zip(TOKEN_INPUT_NAMES, (ids, mask, types)))


def write_named(folder: Path, n: int) -> list[Path]:
    """nlp/text2vec's gen_vamp_data.py style: members by input name, int32 [1, L], extra attention_mask1..3,
    written in another order than the model's."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        s = token_sample(i)
        path = folder / f"sentence_{i}.npz"
        np.savez(path, token_type_ids=s["token_type_ids"][None], attention_mask1=s["attention_mask"][None],
                 input_ids=s["input_ids"][None], attention_mask=s["attention_mask"][None],
                 attention_mask2=s["attention_mask"][None], attention_mask3=s["attention_mask"][None])
        paths.append(path)
    return paths


def write_positional(folder: Path, n: int) -> list[Path]:
    """sequence2npz.py style: 1-D int32 input_0..input_2 in the model's input order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        s = token_sample(i)
        path = folder / f"{i}.npz"
        np.savez(path, **{f"input_{k}": s[name] for k, name in enumerate(TOKEN_INPUT_NAMES)})
        paths.append(path)
    return paths


def datalist(folder: Path, paths: list[Path]) -> Path:
    listing = folder / "datalist.txt"
    listing.write_text("".join(f"{p}\n" for p in paths))
    return listing


def ort_outputs(model: Path, seed: int) -> list[np.ndarray]:
    """ONNX Runtime's own run on the correctly mapped inputs: by name, [1, L], int64."""
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    feed = {name: array.reshape(1, SEQ_LEN).astype(np.int64) for name, array in token_sample(seed).items()}
    return list(session.run(None, feed))


def run_report(tmp_path: Path, *args: str) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    report = tmp_path / "report.json"
    proc = vampy("run", *args, "--json", str(report), "-q")
    assert proc.returncode == 0, proc.stderr
    return json.loads(report.read_text()), proc


@pytest.mark.parametrize(("style", "batch"), [("named", "1"), ("named", "2"), ("positional", "1"), ("positional", "3")])
def test_both_npz_styles_give_ort_outputs(tmp_path: Path, style: str, batch: str) -> None:
    model = bert_like_model(tmp_path / "bert.onnx", vocab=VOCAB)
    n = 5
    paths = (write_named if style == "named" else write_positional)(tmp_path / "in", n)
    out = tmp_path / "out"
    report, proc = run_report(tmp_path, "-m", str(model), "-s", SIX_SHAPES, "-b", batch, "-i", "2",
                              "--datalist", str(datalist(tmp_path, paths)), "--path_output", str(out))
    assert report["datalist"]["written"] == n and report["datalist"]["failures"] == []
    for i in range(n):
        got = np.load(out / f"output_{i:06d}.npz")
        expected = ort_outputs(model, i)
        assert got.files == ["output_0", "output_1"]
        for k, want in enumerate(expected):
            assert got[f"output_{k}"].shape == want.shape
            if batch == "1":
                np.testing.assert_array_equal(got[f"output_{k}"], want)
            else:  # a batch of several sums in another order than ORT's one-sample run: the last bits may differ
                np.testing.assert_allclose(got[f"output_{k}"], want, rtol=1e-6, atol=1e-6)
    notes = report["notes"]
    assert sum("-s gives 6 shapes" in note for note in notes) == 1
    ignored = [note for note in notes if "ignored: " in note]
    if style == "named":
        assert len(ignored) == 1 and "attention_mask1, attention_mask2, attention_mask3" in ignored[0]
        assert [s["fed"] for s in report["inputs"]["inputs"]] == [f"npz member '{n}'" for n in TOKEN_INPUT_NAMES]
    else:
        assert ignored == []
        assert any("input_0 -> input_ids, input_1 -> attention_mask, input_2 -> token_type_ids" in note for note in notes)
    assert "[E:onnxruntime" not in proc.stderr


def test_performance_mode_feeds_ids_the_model_takes(tmp_path: Path) -> None:
    model = bert_like_model(tmp_path / "bert.onnx", vocab=VOCAB)
    report, proc = run_report(tmp_path, "-m", str(model), "-s", SIX_SHAPES, "-b", "2", "--iterations", "8")
    assert report["samples"] == 8
    fed = {s["name"]: s["fed"] for s in report["inputs"]["inputs"]}
    assert fed == {
        "input_ids": f"synthetic: random ids in [0, {VOCAB}) (the rows of the table it indexes)",
        "attention_mask": "synthetic: ones (a mask)",
        "token_type_ids": "synthetic: zeros (type ids)",
    }
    assert any(note.startswith("synthetic token inputs: input_ids random ids in [0, 50)") for note in report["notes"])
    assert "note: -s gives 6 shapes and the model has 3 inputs: the first 3 are used" in vampy(
        "run", "-m", str(model), "-s", SIX_SHAPES, "--iterations", "2").stdout
    assert "[E:onnxruntime" not in proc.stderr


def test_a_mismatch_fails_in_one_line_before_any_process(tmp_path: Path) -> None:
    model = bert_like_model(tmp_path / "bert.onnx", vocab=VOCAB)
    bad = tmp_path / "bad.npz"
    np.savez(bad, input_ids=np.zeros((1, SEQ_LEN), np.int32), mask=np.ones((1, SEQ_LEN), np.int32))
    out = tmp_path / "out"
    proc = vampy("run", "-m", str(model), "-s", SIX_SHAPES, "--datalist", str(datalist(tmp_path, [bad])), "--path_output", str(out))
    assert proc.returncode == 3
    assert proc.stderr.strip().count("\n") == 0 and "missing attention_mask, token_type_ids" in proc.stderr
    assert not list(out.glob("*.npz"))


def test_float_members_and_ids_outside_the_table_are_refused_up_front(tmp_path: Path) -> None:
    model = bert_like_model(tmp_path / "bert.onnx", vocab=VOCAB)
    floats = tmp_path / "f.npz"
    np.savez(floats, **{f"input_{k}": np.zeros(SEQ_LEN, np.float32) for k in range(3)})
    proc = vampy("run", "-m", str(model), "--datalist", str(datalist(tmp_path, [floats])), "--path_output", str(tmp_path / "o1"))
    assert proc.returncode == 3 and "member 'input_0' holds float32 values, but model input 'input_ids' takes int64 ids" in proc.stderr
    big = tmp_path / "big.npz"
    sample = token_sample(0)
    sample["token_type_ids"][:] = 7
    np.savez(big, **sample)
    proc = vampy("run", "-m", str(model), "--datalist", str(datalist(tmp_path, [big])), "--path_output", str(tmp_path / "o2"))
    assert proc.returncode == 3 and "indexes a table of 2 rows" in proc.stderr
    assert "[E:onnxruntime" not in proc.stderr


def test_runtime_log_lines_only_with_debug(tmp_path: Path) -> None:
    """A later line with an id outside the table fails alone; ONNX Runtime's own log line of that
    failure reaches the terminal only with --debug."""
    model = bert_like_model(tmp_path / "bert.onnx", vocab=VOCAB)
    good, bad = write_named(tmp_path / "in", 2)
    sample = token_sample(1)
    sample["token_type_ids"][:] = 7
    np.savez(bad, **{k: v[None] for k, v in sample.items()})
    listing = datalist(tmp_path, [good, bad])
    quiet = vampy("run", "-m", str(model), "--datalist", str(listing), "--path_output", str(tmp_path / "o1"))
    assert quiet.returncode == 6 and "[E:onnxruntime" not in quiet.stderr + quiet.stdout
    failures = json.loads((tmp_path / "o1" / "failures.json").read_text())["failures"]
    assert [f["index"] for f in failures] == [1] and "Gather" in failures[0]["reason"]
    loud = vampy("run", "-m", str(model), "--datalist", str(listing), "--path_output", str(tmp_path / "o2"), "--debug")
    assert loud.returncode == 6 and "[E:onnxruntime" in loud.stderr + loud.stdout


def test_fewer_shapes_than_inputs_stays_an_error(tmp_path: Path) -> None:
    model = bert_like_model(tmp_path / "bert.onnx", vocab=VOCAB)
    proc = vampy("run", "-m", str(model), "-s", "[[1,128],[1,128]]", "--iterations", "2")
    assert proc.returncode == 2 and "-s gives 2 input shape(s) but the model has 3 input(s)" in proc.stderr
