"""CLS-1 `imagenet_topk`: the zoo's two ImageNet scripts in one step (ZOO-EVAL.md 2.1, section 5 items 1-2).

Stage 1 (vamp_npz_decode.py): each output's `output_0`, squeezed, top 5 by numpy's own argsort
(`argsort()[-5:][::-1]`, so ties fall as the script's do), written as 5 lines
`{datalist line}: Relay top-{k} id: {id}, prob: {score:.8f}, class name: {label_txt line}`.
Stage 2 (eval_topk.py) reads those lines back: the ground truth is the synset folder
`line.split('/')[-2]` looked up in the ILSVRC-2012 synset names (imagenet_synsets.tsv, equal to
the script's imagenet_info.py), the prediction `line.split(':')[4].strip()`, compared as strings.
So class 480 (the label file's truncated "cash machine" name) never matches, and the two "crane"
classes (134, 517) match each other, as in the script. Rates are percentages of the images scored.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from vampy.errors import InputError
from vampy.formats.datalist import DatalistEntry
from vampy.formats.files import read_text_file
from vampy.formats.npz import load_input_npz, read_npz_headers
from vampy.quality.zoo_io import MAX_LABEL_BYTES

TOP_K = 5
OUTPUT_KEY = "output_0"
MAX_CLASSES = 1_000_000  # a score vector longer than this is not a classifier's output (bounds the load)


@dataclass(frozen=True)
class Decoded:
    """One image's stage-1 result: its 5 result lines and whether top-1 / top-5 match its synset."""

    lines: tuple[str, ...]
    synset: str | None  # None: the datalist path names no synset folder (not scored)
    top1: bool
    top5: bool


def synset_names() -> dict[str, str]:
    """wnid -> class name, as eval_topk.py's imagenet_info (the 1000 ILSVRC-2012 synsets' WordNet lemmas)."""
    text = resources.files("vampy.quality").joinpath("data/imagenet_synsets.tsv").read_text(encoding="utf-8")
    return dict(line.split("\t", 1) for line in text.splitlines() if line)


def read_labels(path: Path) -> list[str]:
    """The label file as vamp_npz_decode.py reads it: every line stripped, blank lines kept (ids are line numbers)."""
    text = read_text_file(Path(path), MAX_LABEL_BYTES, f"--label_txt {path}", "label",
                          "give the zoo's classification/common/label/imagenet.txt, one class name a line")
    return [line.strip() for line in text.splitlines()]


def scores(output: Path) -> np.ndarray:
    """output_0 squeezed to one score vector, in the dtype it was written (the script never converts it)."""

    def check(member: str, header: object) -> str | None:
        values = getattr(header, "values", 0)
        too_many = member == OUTPUT_KEY and values > MAX_CLASSES
        return f"{member} declares {values} values; not a classifier's score vector" if too_many else None

    arrays = load_input_npz(output, keys=(OUTPUT_KEY,), check=check)
    if OUTPUT_KEY not in arrays:
        raise InputError(f"{output}: no key {OUTPUT_KEY} (keys: {', '.join(sorted(read_npz_headers(output)))})")
    return score_vector(arrays[OUTPUT_KEY], str(output))


def score_vector(array: np.ndarray, where: str) -> np.ndarray:
    """output_0 (from an npz, or in memory from vampy infer) squeezed to one real score vector of >= TOP_K classes."""
    vector = np.squeeze(array)
    if vector.ndim != 1 or vector.size < TOP_K:
        raise InputError(f"{where}: {OUTPUT_KEY} has shape {array.shape}; imagenet_topk needs one vector of at least "
                         f"{TOP_K} class scores")
    if not np.issubdtype(vector.dtype, np.number) or np.issubdtype(vector.dtype, np.complexfloating):
        raise InputError(f"{where}: {OUTPUT_KEY} has dtype {vector.dtype}; expected real scores")
    return vector


def result_lines(text: str, vector: np.ndarray, labels: list[str], where: str) -> tuple[str, ...]:
    """vamp_npz_decode.py's 5 lines for one image (numpy scalars formatted as the script formats them)."""
    ids = vector.argsort()[-TOP_K:][::-1]
    if int(ids.max()) >= len(labels):
        raise InputError(f"{where}: class id {int(ids.max())} is past the {len(labels)} lines of --label_txt")
    return tuple(
        text + ": " + f"Relay top-{k} id: {ids[k]}, prob: {vector[ids[k]]:.8f}, class name: {labels[int(ids[k])]}"
        for k in range(TOP_K)
    )


def is_match(line: str, names: dict[str, str]) -> bool | None:
    """eval_topk.py's is_match_class on one result line; None where its synset lookup would raise KeyError."""
    parts = line.split("/")
    relay = line.split(":")
    if len(parts) < 2 or len(relay) < 5 or parts[-2] not in names:
        return None
    return names[parts[-2]] == relay[4].strip()


def decode(entry: DatalistEntry, output: Path, labels: list[str], names: dict[str, str]) -> Decoded:
    """Both stages for one datalist line and its output."""
    return decode_vector(entry.text, scores(output), labels, names, str(output))


def decode_vector(text: str, vector: np.ndarray, labels: list[str], names: dict[str, str], where: str) -> Decoded:
    """Both stages for one score vector; `text` is what the result lines start with and hold the synset folder of."""
    lines = result_lines(text, vector, labels, where)
    matches = [is_match(line, names) for line in lines]
    if any(m is None for m in matches):
        return Decoded(lines, None, False, False)
    return Decoded(lines, lines[0].split("/")[-2], bool(matches[0]), any(matches))


def rates_pct(decoded: list[Decoded]) -> dict[str, float]:
    """top1_rate and top5_rate as eval_topk.py computes them: count / total * 100 over the scored images."""
    scored = [d for d in decoded if d.synset is not None]
    total = len(scored)
    return {"top1_rate": sum(d.top1 for d in scored) / total * 100, "top5_rate": sum(d.top5 for d in scored) / total * 100}


def vendor_line(metrics: dict[str, float]) -> str:
    """eval_topk.py's result line: np.around(rate, 3) printed as numpy prints it ('76.13', not '76.130')."""
    return f"[VACC]:  top1_rate: {np.around(metrics['top1_rate'], 3)} top5_rate: {np.around(metrics['top5_rate'], 3)}"
