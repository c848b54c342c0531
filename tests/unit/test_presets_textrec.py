"""ctc_crnn and ctc_ppocr_v4_rec (TR-1): vampy against the vendor vamp_eval.py written out again here."""
from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import pytest

import vampy
from vampy.errors import PartialResult
from vampy.quality.families import FAMILY_PRESETS
from vampy.quality.family_eval import vendor_line

CHARS = ["blank", *"0123456789abcdefghijklmnopqrstuvwxyz"]


def _norm(text: str) -> str:
    return "".join(c for c in text if c in string.digits + string.ascii_letters).lower()


def _vendor(label_file: Path, pred_dir: Path, datalist: Path, ppocr: bool) -> tuple[list[tuple[str, float]], int, int, float]:
    """vamp_eval.py: read_label, output_{index:06d}, the reshape, greedy CTC, the case-folded compare."""
    labels = {}
    for line in label_file.read_text().splitlines(keepends=True):
        fields = line.replace("\n", "").split(" ")
        labels[fields[0].split("/")[-1]] = fields[1]
    lines = datalist.read_text().splitlines(keepends=True)
    decoded, right = [], 0
    for index in range(len(labels)):
        name = lines[index].replace("\n", "").split("/")[-1].split(".")[0]
        value = np.load(pred_dir / f"output_{index:06d}.npz")["output_0"]
        preds = value.reshape(1, 25, 37) if ppocr else value.reshape(1, 32, 48)[:, :25, :37]
        idx, prob = preds.argmax(axis=2)[0], preds.max(axis=2)[0]
        keep = np.ones(len(idx), dtype=bool)
        keep[1:] = idx[1:] != idx[:-1]
        keep &= idx != 0
        conf = prob[keep] if keep.any() else [0]
        text = "".join(CHARS[i] for i in idx[keep])
        decoded.append((text, np.mean(conf).tolist()))
        right += _norm(text) == _norm(labels[name])
    return decoded, right, len(labels), right / len(labels)


def _sequence(text: str, steps: int, classes: int, rng: np.random.Generator) -> np.ndarray:
    """Per-step probabilities whose argmax spells `text` with a repeated character and blanks between."""
    ids: list[int] = []
    for c in text:
        ids += [CHARS.index(c), CHARS.index(c), 0]  # a repeat (merged) then a blank (dropped)
    ids += [0] * (steps - len(ids))
    probs = rng.uniform(0, 0.3, size=(steps, classes)).astype(np.float32)
    for step, i in enumerate(ids[:steps]):
        probs[step, i] = 0.5 + 0.01 * step
    return probs


def _case(tmp_path: Path, ppocr: bool) -> dict[str, str]:
    rng = np.random.default_rng(7)
    out = tmp_path / "npz_out"
    out.mkdir()
    words = ["hello", "w0rld", "abc"]
    truths = ["Hello", "world", "ab-c"]  # case and punctuation fold away; w0rld vs world does not match
    rows = []
    for i, word in enumerate(words):
        if ppocr:
            value = _sequence(word, 25, 37, rng).reshape(1, 25, 37)
        else:
            value = rng.uniform(0, 0.3, size=(1, 32, 48)).astype(np.float32)
            value[0, :25, :37] = _sequence(word, 25, 37, rng)
            value[0, 25:, :] = 0.9  # past the slice: must not count
        np.savez(out / f"output_{i:06d}.npz", output_0=value)
        rows.append(f"/data/npz/word_{3 - i}.npz")  # decoy: the names sort opposite to the datalist
    datalist = tmp_path / "datalist.txt"
    datalist.write_text("\n".join(rows) + "\n")
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"test/word_{3 - i} {t}\n" for i, t in enumerate(truths)))
    return dict(label_file=str(labels), pred_npz_dir=str(out), npz_datalist=str(datalist))


@pytest.mark.parametrize("preset", ["ctc_crnn", "ctc_ppocr_v4_rec"])
def test_acc_equals_the_script(tmp_path: Path, preset: str) -> None:
    flags = _case(tmp_path, ppocr=preset == "ctc_ppocr_v4_rec")
    decoded, right, total, acc = _vendor(Path(flags["label_file"]), Path(flags["pred_npz_dir"]), Path(flags["npz_datalist"]),
                                         ppocr=preset == "ctc_ppocr_v4_rec")
    assert [d[0] for d in decoded] == ["hello", "w0rld", "abc"]
    report = vampy.evaluate(preset=preset, datasets_name="IIIT5k_3000", **flags)
    assert report.metrics == {"right_num": right, "all_num": total, "acc": acc} and right == 2
    assert [row.metrics["conf"] for row in report.images] == [d[1] for d in decoded]
    line = vendor_line(FAMILY_PRESETS[preset], report.metrics, dataset="IIIT5k_3000")
    assert line == f"IIIT5k_3000 right_num, all_num, acc =  {right} {total} {acc}"


def test_label_keys_with_extensions_and_a_missing_output(tmp_path: Path) -> None:
    flags = _case(tmp_path, ppocr=False)
    labels = Path(flags["label_file"])
    labels.write_text(labels.read_text().replace("word_1 ", "word_1.png "))  # the script raised KeyError here
    (Path(flags["pred_npz_dir"]) / "output_000001.npz").unlink()
    with pytest.raises(PartialResult) as caught:
        vampy.evaluate(preset="ctc_crnn", **flags)
    report = caught.value.report  # type: ignore[attr-defined]
    assert report.metrics == {"right_num": 2.0, "all_num": 2.0, "acc": 1.0}
    assert "output_000001.npz" in report.failures[0].reason
