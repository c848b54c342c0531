"""imdb (NLP-4), mrpc (NLP-3), ner_people_daily (NLP-1): vampy against the vendor scripts written out again here."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from seqeval.metrics import accuracy_score, f1_score

import vampy
from vampy.errors import PartialResult, UsageError
from vampy.quality.families import FAMILY_PRESETS
from vampy.quality.family_eval import vendor_line


def _save(folder: Path, i: int, value: np.ndarray) -> None:
    np.savez(folder / f"output_{i:06d}.npz", output_0=value.astype(np.float32))


# --- NLP-4 imdb ---


def _vendor_imdb(labels_path: Path, result_dir: Path) -> float:
    """imdb_eval.py: output_{i:06d} for i in range(len(listdir)), argmax(-1)[0] == int(label)."""
    labels = labels_path.read_text().splitlines(keepends=True)
    pos_num = 0.0
    for i in range(len(os.listdir(result_dir))):
        output = np.load(result_dir / ("output_" + str(i).zfill(6) + ".npz"))
        pos_num += 1 if np.argmax(output["output_0"], axis=-1)[0] == int(labels[i]) else 0
    return pos_num / (i + 1)


def _imdb_case(tmp_path: Path) -> dict[str, str]:
    out = tmp_path / "result"
    out.mkdir()
    scores = [[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
    for i, row in enumerate(scores):
        _save(out, i, np.array([row]))
    labels = tmp_path / "labels.txt"
    labels.write_text("1\n1\n1\n0\n")
    return dict(labels_path=str(labels), result_dir=str(out))


def test_imdb_acc_equals_the_script(tmp_path: Path) -> None:
    flags = _imdb_case(tmp_path)
    expected = _vendor_imdb(Path(flags["labels_path"]), Path(flags["result_dir"]))
    report = vampy.evaluate(preset="imdb", **flags)
    assert report.metrics == {"acc": expected} and expected == 0.75
    assert [row.metrics["acc"] for row in report.images] == [1.0, 0.0, 1.0, 1.0]
    assert vendor_line(FAMILY_PRESETS["imdb"], report.metrics) == "acc:  0.75"
    assert report.deviations and not report.failures


def test_imdb_stray_file_and_missing_label(tmp_path: Path) -> None:
    flags = _imdb_case(tmp_path)
    (Path(flags["result_dir"]) / "failures.json").write_text("[]")  # the script would look for output_000004.npz and crash
    _save(Path(flags["result_dir"]), 4, np.array([[0.0, 1.0]]))  # no fifth label line
    with pytest.raises(PartialResult) as caught:
        vampy.evaluate(preset="imdb", **flags)
    report = caught.value.report  # type: ignore[attr-defined]
    assert report.metrics == {"acc": 0.75}
    assert len(report.failures) == 1 and "output_000004.npz" in report.failures[0].path


def test_imdb_needs_its_flags() -> None:
    with pytest.raises(UsageError, match="--labels_path"):
        vampy.evaluate(preset="imdb", result_dir="x")


# --- NLP-3 mrpc ---


def _vendor_mrpc(result_dir: Path, eval_path: Path) -> tuple[float, float]:
    """mrpc_eval.py: sorted listdir, squeeze(0), p[0] < p[1], the 1e-6 epsilons."""
    predicts = {i: np.load(result_dir / name)["output_0"].squeeze(0) for i, name in enumerate(sorted(os.listdir(result_dir)))}
    contents = eval_path.read_text().splitlines(keepends=True)[1:]
    label_dict = {index: int(line.strip().split("\t")[0]) for index, line in enumerate(contents)}
    tpfn = [0.0, 0.0, 0.0, 0.0]
    for key, predict in predicts.items():
        result = 1 if predict[0] < predict[1] else 0
        label = label_dict[key]
        tpfn[0 if (result, label) == (1, 1) else 1 if (result, label) == (1, 0) else 2 if (result, label) == (0, 1) else 3] += 1
    precision = tpfn[0] / (tpfn[0] + tpfn[1] + 1e-6)
    recall = tpfn[0] / (tpfn[0] + tpfn[2] + 1e-6)
    f1 = 2.0 * precision * recall / (precision + recall + 1e-6)
    return f1, (tpfn[0] + tpfn[3]) / sum(tpfn)


def test_mrpc_f1_accuracy_and_a_tie_equal_the_script(tmp_path: Path) -> None:
    out = tmp_path / "result"
    out.mkdir()
    rows = [[0.2, 0.8], [0.5, 0.5], [0.9, 0.1], [0.4, 0.6], [0.3, 0.7]]  # row 1 is an exact tie: predicted 0
    for i, row in enumerate(rows):
        _save(out, i, np.array([row]))
    dev = tmp_path / "dev.tsv"
    dev.write_text("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n" + "".join(f"{y}\t1\t2\ta\tb\n" for y in (1, 1, 0, 0, 1)))
    f1, accuracy = _vendor_mrpc(out, dev)
    report = vampy.evaluate(preset="mrpc", result_dir=str(out), eval_path=str(dev))
    assert report.metrics == {"f1": f1, "accuracy": accuracy}
    assert accuracy == 0.6 and round(f1, 4) == 0.6667
    assert vendor_line(FAMILY_PRESETS["mrpc"], report.metrics) == f"F1:  {round(f1, 4)} Accuracy: {round(accuracy, 4)}"


def test_mrpc_wrong_shape_is_listed(tmp_path: Path) -> None:
    out = tmp_path / "result"
    out.mkdir()
    _save(out, 0, np.array([[0.2, 0.8]]))
    _save(out, 1, np.zeros((2, 2)))
    dev = tmp_path / "dev.tsv"
    dev.write_text("header\n1\tx\n0\tx\n")
    with pytest.raises(PartialResult) as caught:
        vampy.evaluate(preset="mrpc", result_dir=str(out), eval_path=str(dev))
    report = caught.value.report  # type: ignore[attr-defined]
    assert len(report.images) == 1 and "mrpc needs (1, 2)" in report.failures[0].reason
    assert report.metrics["accuracy"] == 1.0


# --- NLP-1 ner_people_daily ---


CATEGORIES = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER", "B-ORG", "I-ORG"]


def _vendor_ner(result_dir: Path, label_path: Path) -> tuple[float, float]:
    """people_daily_eval.py: sorted listdir, reshape (256, 7), skip position 0, stop at id 6, drop lines without it."""
    eval_list = [np.array([int(x) for x in line.strip("\n").lstrip("[").rstrip("]").split(",")])
                 for line in label_path.read_text().splitlines(keepends=True)]
    predict_list = [np.argmax(np.load(result_dir / n)["output_0"].reshape(256, 7), axis=1) for n in sorted(os.listdir(result_dir))]
    y_true, y_pred = [], []
    for index, label in enumerate(eval_list):
        t1, t2 = [], []
        for j in range(label.shape[0]):
            if j == 0:
                continue
            if label[j] == 6:
                y_true.append(t1)
                y_pred.append(t2)
                break
            t1.append(CATEGORIES[label[j]])
            t2.append(CATEGORIES[predict_list[index][j]])
    return f1_score(y_true, y_pred, average="micro"), accuracy_score(y_true, y_pred)


def _ner_output(tags: list[int]) -> np.ndarray:
    logits = np.zeros((1, 256, 7), dtype=np.float32)
    for j, tag in enumerate(tags):
        logits[0, j, tag] = 1.0
    return logits


def test_ner_zoo_eval_case(tmp_path: Path) -> None:
    """ZOO-EVAL section 4's case: one line with a 6, one without (dropped) -> F1 0.0, accuracy 0.6667."""
    out = tmp_path / "result"
    out.mkdir()
    _save(out, 0, _ner_output([0, 3, 0, 0]))  # predicts B-PER where the truth is B-LOC
    _save(out, 1, _ner_output([0, 1, 2, 0]))
    labels = tmp_path / "instance.txt"
    labels.write_text("[0,1,0,0,6,0]\n[0,1,2,0,0]\n")
    f1, accuracy = _vendor_ner(out, labels)
    report = vampy.evaluate(preset="ner_people_daily", result_dir=str(out), label_path=str(labels))
    assert report.metrics == {"f1": f1, "accuracy": accuracy}
    assert f1 == 0.0 and round(accuracy, 4) == 0.6667
    assert len(report.images) == 1 and not report.failures  # the line without a 6 is dropped, as the script drops it


def test_ner_entities_score(tmp_path: Path) -> None:
    out = tmp_path / "result"
    out.mkdir()
    truths = ["[0,1,2,0,3,4,6]", "[0,5,0,3,6]", "[0,0,1,6]"]
    preds = [[0, 1, 2, 0, 3, 3], [0, 5, 0, 3], [0, 1, 1]]
    for i, tags in enumerate(preds):
        _save(out, i, _ner_output(tags))
    labels = tmp_path / "instance.txt"
    labels.write_text("\n".join(truths) + "\n")
    f1, accuracy = _vendor_ner(out, labels)
    report = vampy.evaluate(preset="ner_people_daily", result_dir=str(out), label_path=str(labels))
    assert report.metrics == {"f1": f1, "accuracy": accuracy}
    assert 0 < f1 < 1 and 0 < accuracy < 1


def test_ner_refuses_without_seqeval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "seqeval.metrics", None)  # as if the [zoo-eval] extra were absent
    with pytest.raises(UsageError, match=r"vampy\[zoo-eval\]"):
        vampy.evaluate(preset="ner_people_daily", result_dir=str(tmp_path), label_path=str(tmp_path / "x.txt"))


def _cli(args: list[str]) -> int:
    from vampy.cli import main

    with pytest.raises(SystemExit) as info:
        main(args)
    code = info.value.code
    return code if isinstance(code, int) else 0


def test_cli_prints_the_script_line_last_and_exits_6_on_a_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flags = _imdb_case(tmp_path)
    args = ["eval", "--preset", "imdb", "--labels_path", flags["labels_path"], "--result_dir", flags["result_dir"], "-q"]
    assert _cli(args) == 0
    assert capsys.readouterr().out.rstrip().splitlines()[-1] == "acc:  0.75"
    _save(Path(flags["result_dir"]), 7, np.array([[0.0, 1.0]]))  # no label line 8
    assert _cli(args) == 6
    assert "no --labels_path line 8" in capsys.readouterr().err


def test_cli_refuses_ner_without_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "seqeval.metrics", None)
    args = ["eval", "--preset", "ner_people_daily", "--result_dir", str(tmp_path), "--label_path", str(tmp_path / "x.txt")]
    assert _cli(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'vampy[zoo-eval]'" in err[0]
