"""NLP-1/3/4: the zoo's NER, MRPC and sentence-classification scripts (ZOO-EVAL.md 2.12, section 5 items 53-56).

- NLP-4 `imdb` (imdb_eval.py = sst2_telecom_eval.py = cib_electra_eval.py): output_NNNNNN.npz i goes
  with label line i; `argmax(output_0, -1)[0]` against `int(line)`; `acc` = correct / outputs.
- NLP-3 `mrpc` (mrpc_eval.py): the i-th sorted output with dev.tsv row i (header skipped, label in
  column 0); predicted 1 when `p[0] < p[1]` of `output_0.squeeze(0)` (a tie is 0); precision, recall
  and F1 with the script's 1e-6 epsilons, accuracy = (tp + tn) / n.
- NLP-1 `ner_people_daily` (people_daily_eval.py): the i-th sorted output, reshaped (256, 7) and
  argmaxed, with label line i `[id, id, ...]`; position 0 is skipped and the sentence ends at the
  first id 6 (`I-ORG`, the script's end marker), a sentence without a 6 is dropped; seqeval's micro
  F1 and accuracy over the kept sentences (the [zoo-eval] extra).

The arithmetic is the scripts' own, in Python floats, so `metrics` equal what they print unrounded.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vampy.errors import InputError
from vampy.quality.zoo_io import need, output_0

NER_LABELS = ("O", "B-LOC", "I-LOC", "B-PER", "I-PER", "B-ORG", "I-ORG")
NER_END_ID = len(NER_LABELS) - 1  # the script's `len(label_map) - 1`: I-ORG doubles as the end of a sentence
NER_SEQ_LEN = 256
MAX_CLASS_VALUES = 1_000_000  # a classifier's output_0 larger than this is not a classifier's (bounds the load)
_EPS = 1e-6  # mrpc_eval.py's epsilons in precision, recall and F1


def vendor_lines(text: str) -> list[str]:
    """The lines as the scripts' readlines() gives them in text mode (universal newlines), without the newline."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


# --- NLP-4: argmax accuracy ---


def argmax_class(path: Path) -> int:
    """imdb_eval.py's `np.argmax(output_0, axis=-1)[0]`: the first row's class."""
    value = output_0(path, MAX_CLASS_VALUES)
    if value.ndim < 2 or value.shape[-1] == 0 or np.prod(value.shape[1:-1]) != 1:
        raise InputError(f"{path}: output_0 has shape {value.shape}; imdb needs (1, classes) scores")
    return int(np.argmax(value, axis=-1).reshape(value.shape[0])[0])


def int_label(line: str, where: str) -> int:
    """`int(line)` as the scripts convert a label line (surrounding whitespace allowed)."""
    try:
        return int(line)
    except ValueError:
        raise InputError(f"{where}: label {line.strip()!r} is not an integer") from None


# --- NLP-3: MRPC ---


@dataclass
class Confusion:
    """mrpc_eval.py's tpfn list: true positives, false positives, false negatives, true negatives."""

    tp: float = 0.0
    fp: float = 0.0
    fn: float = 0.0
    tn: float = 0.0

    def add(self, predicted: int, label: int) -> None:
        if predicted == 1 and label == 1:
            self.tp += 1
        elif predicted == 1 and label == 0:
            self.fp += 1
        elif predicted == 0 and label == 1:
            self.fn += 1
        else:  # the script counts every other pair (a label other than 0/1 included) as a true negative
            self.tn += 1

    def metrics(self) -> dict[str, float]:
        """F1 and accuracy, operation for operation as get_f1 computes them."""
        precision = self.tp / (self.tp + self.fp + _EPS)
        recall = self.tp / (self.tp + self.fn + _EPS)
        f1 = 2.0 * precision * recall / (precision + recall + _EPS)
        accuracy = (self.tp + self.tn) / (self.tp + self.fp + self.fn + self.tn)
        return {"f1": f1, "accuracy": accuracy}


def mrpc_prediction(path: Path) -> int:
    """1 when `p[0] < p[1]` of output_0.squeeze(0), else 0 (a tie, or NaN, is 0 as in the script)."""
    value = output_0(path, MAX_CLASS_VALUES)
    if value.ndim != 2 or value.shape[0] != 1 or value.shape[1] < 2:  # what squeeze(0) and p[0] < p[1] accept
        raise InputError(f"{path}: output_0 has shape {value.shape}; mrpc needs (1, 2) scores")
    scores = value.squeeze(0)
    return 1 if scores[0] < scores[1] else 0


def mrpc_labels(text: str) -> list[str]:
    """dev.tsv's rows after the header line, each row's column 0 (converted per pair, so a bad row fails only its pair)."""
    return [line.strip().split("\t")[0] for line in vendor_lines(text)[1:]]


def vendor_line_mrpc(metrics: dict[str, float]) -> str:
    return f"F1:  {round(metrics['f1'], 4)} Accuracy: {round(metrics['accuracy'], 4)}"


# --- NLP-1: People's Daily NER ---


def ner_label_ids(line: str, where: str) -> list[int]:
    """One label line `[id,id,...]` as the script parses it (strip '[' and ']', split on commas, int each)."""
    inner = line.lstrip("[").rstrip("]")
    try:
        ids = [int(part) for part in inner.split(",")]
    except ValueError:
        raise InputError(f"{where}: not a list of integer label ids ({line[:60]!r})") from None
    if any(not 0 <= i < len(NER_LABELS) for i in ids):
        raise InputError(f"{where}: a label id outside 0..{len(NER_LABELS) - 1} ({', '.join(NER_LABELS)})")
    return ids


def ner_predicted_ids(path: Path) -> np.ndarray:
    """argmax over the 7 labels of output_0 reshaped (256, 7), as the script does."""
    value = output_0(path, NER_SEQ_LEN * len(NER_LABELS))
    if value.size != NER_SEQ_LEN * len(NER_LABELS):
        raise InputError(f"{path}: output_0 has shape {value.shape}; ner_people_daily reshapes it to ({NER_SEQ_LEN}, {len(NER_LABELS)})")
    return np.argmax(value.reshape(NER_SEQ_LEN, len(NER_LABELS)), axis=1)


def ner_sentence(ids: list[int], predicted: np.ndarray, where: str) -> tuple[list[str], list[str]] | None:
    """(true tags, predicted tags) from position 1 to before the first end id; None where the line has none (dropped)."""
    true_tags: list[str] = []
    pred_tags: list[str] = []
    for j in range(1, len(ids)):
        if ids[j] == NER_END_ID:
            return true_tags, pred_tags
        if j >= len(predicted):
            raise InputError(f"{where}: the sentence runs past the output's {len(predicted)} positions before its end id {NER_END_ID}")
        true_tags.append(NER_LABELS[ids[j]])
        pred_tags.append(NER_LABELS[int(predicted[j])])
    return None


def ner_metrics(y_true: list[list[str]], y_pred: list[list[str]], preset: str) -> dict[str, float]:
    """seqeval's micro F1 (default mode) and accuracy, as the script calls them."""
    metrics = need("seqeval.metrics", preset)
    with warnings.catch_warnings():  # seqeval warns when no entity is predicted; the script's F1 is then 0.0 all the same
        warnings.simplefilter("ignore")
        f1 = metrics.f1_score(y_true, y_pred, average="micro")
        accuracy = metrics.accuracy_score(y_true, y_pred)
    return {"f1": float(f1), "accuracy": float(accuracy)}
