"""TR-1 `ctc_crnn` / `ctc_ppocr_v4_rec`: the zoo's text-recognition vamp_eval.py (ZOO-EVAL.md 2.11, section 5 items 50-51).

Datalist line i goes with `output_{i:06d}.npz` (P2); its name is the line's basename up to the first
'.'. output_0 is reshaped as the model's script does (crnn: (1, 32, 48) then [:, :25, :37]; ppocr_v4_rec:
(1, 25, 37)), decoded greedily (argmax per step, repeats merged, blank 0 dropped) over
`blank + 0-9a-z`, and compared with the label after both are case-folded to their letters and digits.
The label file's lines are `path label` (space-separated; the key is the path's basename).
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vampy.errors import InputError
from vampy.quality.nlp import vendor_lines
from vampy.quality.zoo_io import output_0

CHARSET = "0123456789abcdefghijklmnopqrstuvwxyz"
CHARACTERS = ("blank", *CHARSET)  # CTCLabelDecode: index 0 is the CTC blank
_ALNUM = frozenset(string.digits + string.ascii_letters)


@dataclass(frozen=True)
class Recognised:
    """One image's greedy CTC decode: the text and the script's confidence (the mean of the kept steps' maxima)."""

    text: str
    confidence: float


def normalize_text(text: str) -> str:
    """The script's normalize_text: ASCII letters and digits only, lower-cased."""
    return "".join(c for c in text if c in _ALNUM).lower()


def read_labels(text: str, where: str) -> dict[str, str]:
    """read_label: each line split on ' ', key = basename of field 0, label = field 1; blank lines skipped."""
    labels: dict[str, str] = {}
    for line_no, line in enumerate(vendor_lines(text), 1):
        if not line.strip():
            continue
        fields = line.split(" ")
        if len(fields) < 2:
            raise InputError(f"{where} line {line_no}: expected 'path label' separated by a space, got {line[:60]!r}")
        labels[fields[0].split("/")[-1]] = fields[1]
    if not labels:
        raise InputError(f"{where}: no 'path label' lines")
    return labels


def lookup_key(datalist_line: str) -> str:
    """The script's key for a datalist line: its basename up to the first '.'."""
    return datalist_line.split("/")[-1].split(".")[0]


def label_for(key: str, labels: dict[str, str], stripped: dict[str, str]) -> str | None:
    """The label by the script's key; else by the label file's key without its extension (where the script raised KeyError)."""
    return labels.get(key, stripped.get(key))


def stripped_keys(labels: dict[str, str]) -> dict[str, str]:
    """The label file's keys up to their first '.' (the first such key wins, as a dict lookup of the script would)."""
    out: dict[str, str] = {}
    for key, value in labels.items():
        out.setdefault(key.split(".")[0], value)
    return out


def step_scores(path: Path, reshape: tuple[int, int], keep: tuple[int, int] | None) -> np.ndarray:
    """output_0 as (1, steps, classes): reshaped, then cut to `keep` where the script slices."""
    steps, classes = reshape
    value = output_0(path, steps * classes)
    if value.size != steps * classes:
        raise InputError(f"{path}: output_0 has shape {value.shape} ({value.size} values); the script reshapes it to "
                         f"(1, {steps}, {classes})")
    scores = value.reshape(1, steps, classes)
    return scores[:, :keep[0], :keep[1]] if keep else scores


def ctc_greedy(scores: np.ndarray, where: str) -> Recognised:
    """CTCLabelDecode: argmax and max per step, repeats merged, blanks dropped; confidence np.mean(...).tolist()."""
    index = scores.argmax(axis=2)[0]
    prob = scores.max(axis=2)[0]
    if int(index.max(initial=0)) >= len(CHARACTERS):
        raise InputError(f"{where}: class {int(index.max())} is past the {len(CHARACTERS)} characters (blank + {CHARSET})")
    selection = np.ones(len(index), dtype=bool)
    selection[1:] = index[1:] != index[:-1]
    selection &= index != 0
    kept = prob[selection]
    confidence = np.mean(kept).tolist() if len(kept) else np.mean([0]).tolist()
    return Recognised("".join(CHARACTERS[i] for i in index[selection]), float(confidence))


def vendor_line(dataset: str, metrics: dict[str, float]) -> str:
    """The script's last line: `{datasets_name} right_num, all_num, acc =  {right} {all} {acc}`."""
    return f"{dataset} right_num, all_num, acc =  {int(metrics['right_num'])} {int(metrics['all_num'])} {metrics['acc']}"
