"""Which member of a datalist's npz files feeds which model input: decided once, in the parent.

The zoo writes two kinds of input npz (../shared/VAMP-FORMATS.md section 4): `input_0`,
`input_1`, ... in the model's input order (image2npz.py, sequence2npz.py's 1-D int32 token arrays),
or members named after the model's inputs (the NLP scripts' `input_ids`, `attention_mask`,
`token_type_ids`, beside extra members such as `attention_mask1..3` that no model input takes). The
rule is read off the first readable sample and checked there against the model's signature, so a
mismatch fails in one line before any process starts; every worker then reads the same members
(execution/datalist_task.DatalistInputs). docs/datalists.md has the rules.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from vampy.errors import InputError

if TYPE_CHECKING:
    from vampy.models.info import ModelInfo, TensorInfo


@dataclass(frozen=True)
class NpzMatch:
    """The members that feed the model's inputs (in the model's order), and the first sample they came from."""

    path: str  # the first readable datalist entry
    keys: tuple[str, ...]  # npz member per model input
    rule: Literal["name", "position"]
    ignored: tuple[str, ...]  # members of the first sample that no model input takes
    # The first sample's arrays per model input: the warm-up feeds them, and the plan is checked with them.
    first: tuple[np.ndarray, ...] = field(compare=False, repr=False)

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(int(d) for d in array.shape) for array in self.first)

    def notes(self, input_names: Sequence[str]) -> list[str]:
        notes = []
        if self.rule == "position" and list(self.keys) != list(input_names):
            pairs = ", ".join(f"{key} -> {name}" for key, name in zip(self.keys, input_names))
            notes.append(f"datalist npz members fed by position: {pairs}")
        if self.ignored:
            notes.append(f"datalist npz members no model input takes, ignored: {', '.join(self.ignored)} (as in {self.path})")
        return notes


def positional_keys(n_inputs: int) -> tuple[str, ...]:
    """vamp's own member names: input_0 .. input_{n-1}, in the model's input order."""
    return tuple(f"input_{k}" for k in range(n_inputs))


def npz_keys(names: Sequence[str], arrays: Mapping[str, object]) -> tuple[tuple[str, ...], str] | None:
    """The members that feed the inputs `names`, and the rule: by name when the sample has every input's name,
    else by position (input_N); None when neither fits. One rule for `run --datalist` and compile's npz calibration."""
    positional = positional_keys(len(names))
    if all(name in arrays for name in names):
        return tuple(names), "name"
    if all(key in arrays for key in positional):
        return positional, "position"
    return None


def match_npz(path: str, arrays: Mapping[str, np.ndarray], info: ModelInfo, index_bounds: Mapping[str, int]) -> NpzMatch:
    """The members that feed `info`'s inputs (npz_keys); InputError when neither rule fits, or when the sample
    cannot feed the model (float values for integer ids, ids outside the table an input indexes)."""
    names = tuple(t.name for t in info.inputs)
    matched = npz_keys(names, arrays)
    if matched is None:
        raise InputError(_unmatched(path, arrays, names, positional_keys(len(names))))
    keys, rule = matched
    first = tuple(arrays[key] for key in keys)
    for tensor, key, array in zip(info.inputs, keys, first):
        _check_member(path, tensor, key, array, index_bounds.get(tensor.name))
    ignored = tuple(sorted(set(arrays) - set(keys)))
    return NpzMatch(path, keys, "name" if rule == "name" else "position", ignored, first)


def _unmatched(path: str, arrays: Mapping[str, np.ndarray], names: Sequence[str], positional: Sequence[str]) -> str:
    by_name = [n for n in names if n not in arrays]
    # Name the gap of the rule the file came closest to: some model names present means it meant names.
    missing = by_name if len(by_name) < len(names) else [k for k in positional if k not in arrays]
    return (
        f"datalist entry {path} (the first readable one) has members {', '.join(sorted(arrays))}: vampy feeds the model's "
        f"inputs by name ({', '.join(names)}) or by position ({', '.join(positional)}); missing {', '.join(missing)}"
    )


def _check_member(path: str, tensor: TensorInfo, key: str, array: np.ndarray, bound: int | None) -> None:
    """Integer model inputs take integer (or bool) members, cast to the model's type; ids within their table."""
    model_dtype = np.dtype(tensor.dtype)
    if model_dtype.kind not in "iub":
        return  # images and float tensors: the preprocessing and the model's own check decide
    if array.dtype.kind not in "iub":
        raise InputError(f"{path}: member '{key}' holds {array.dtype} values, but model input '{tensor.name}' takes {model_dtype} ids")
    if array.size == 0:
        return
    low, high = int(array.min()), int(array.max())
    if model_dtype.kind in "iu" and (low < np.iinfo(model_dtype).min or high > np.iinfo(model_dtype).max):
        raise InputError(f"{path}: member '{key}' holds values {low}..{high}, outside model input '{tensor.name}''s {model_dtype}")
    if bound is not None and (low < -bound or high >= bound):
        raise InputError(
            f"{path}: member '{key}' holds ids {low}..{high}, but model input '{tensor.name}' indexes a table of {bound} rows "
            f"(ids 0..{bound - 1})"
        )
