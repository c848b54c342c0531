"""Datalist mode's strategies for the timed request (request.py): where a shard's inputs come from and
where its outputs go, with the one npz writer and its one folder-error policy.

Names come from the line index, never from the input's name or the order of completion, so
`sorted(glob(out/*.npz))` pairs with the datalist whatever -i, -p and -b are, and nothing can be
written outside --path_output. A bad line becomes a failure record; every good line is written.
"""
from __future__ import annotations

import errno
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vampy.data.inputs import InputPlan
from vampy.errors import OutputError, VampyError
from vampy.execution.request import Failure, Sample, output_arrays
from vampy.formats.datalist import output_name
from vampy.formats.npz import HeaderCheck, NpyHeader, load_input_npz, write_npz_atomic

# Write errors that concern the whole folder, not one line: the run stops (exit 7) and keeps
# what it wrote, so --resume can continue once the folder is fixed.
FOLDER_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT})  # EFBIG: that file only

NpzReader = Callable[..., dict[str, np.ndarray]]  # formats.npz.load_input_npz's signature: (path, max_bytes=...)


class DatalistInputs:
    """A shard's lines -> samples: each line's npz read (this machine's file by default; a cluster node
    is handed a reader of the arrays its starting machine read and shipped) and checked for its keys."""

    def __init__(self, keys: int | Sequence[str], max_bytes: int, read: NpzReader = load_input_npz,
                 plan: InputPlan | None = None) -> None:
        # The members the parent matched to the model's inputs (InputPlan.datalist_keys); a count: input_0..input_{n-1}.
        self._names = [f"input_{k}" for k in range(keys)] if isinstance(keys, int) else list(keys)
        self._max_bytes = max_bytes
        self._read = read
        self._check = header_rule(self._names, plan) if plan is not None else None

    def read(self, items: Sequence[tuple[int, str]], failures: list[Failure]) -> list[Sample]:
        """The samples of the lines that could be read; each other line is a failure with its reason."""
        samples = []
        for index, path in items:
            raws = self._load(index, path, failures)
            if raws is not None:
                samples.append(Sample(raws, index, path))
        return samples

    def _load(self, index: int, path: str, failures: list[Failure]) -> list[np.ndarray] | None:
        try:
            if self._check is None:
                arrays = self._read(Path(path), max_bytes=self._max_bytes)
            else:
                arrays = self._read(Path(path), max_bytes=self._max_bytes, keys=self._names, check=self._check)
        except VampyError as exc:
            failures.append((index, path, str(exc)))
            return None
        missing = [n for n in self._names if n not in arrays]
        if missing:
            failures.append((index, path, f"no key {', '.join(missing)} (keys: {', '.join(sorted(arrays)) or 'none'})"))
            return None
        return [arrays[n] for n in self._names]


# A member may hold this many times the values of the plan's sample (other images of a --native_size
# run are larger than the first), and never fewer than MIN_VALUE_BOUND: generous for real data, and
# still refusing a 1 MB npz that declares 2^30 values before numpy allocates them (it drove a run to 9.5 GB).
VALUE_FACTOR = 64
MIN_VALUE_BOUND = 1 << 26


def header_rule(names: Sequence[str], plan: InputPlan) -> HeaderCheck:
    """Each member's declared rank, dtype and size against the plan's slot it feeds, read from the
    npz header: a line that cannot be its input fails before any array is allocated or converted."""
    slots = dict(zip(names, plan.slots))

    def check(key: str, header: NpyHeader) -> str | None:
        slot = slots.get(key)
        if slot is None:
            return None  # a member nobody reads is never loaded
        rank = len(slot.raw_shape)
        # a leading batch of 1 is fine; token ids may also come without theirs ([L] for a [1, L] sample)
        ranks = (rank - 1, rank, rank + 1) if slot.kind == "tokens" else (rank, rank + 1)
        if len(header.shape) not in ranks:
            return f"member '{key}' has rank {len(header.shape)} {header.shape}; input '{slot.name}' takes {slot.raw_shape}-shaped samples"
        kinds = "iub" if slot.kind == "tokens" else "uif"
        if header.dtype.kind not in kinds:
            return f"member '{key}' holds {header.dtype}; input '{slot.name}' takes {'integer ids' if slot.kind == 'tokens' else 'pixels'}"
        bound = max(MIN_VALUE_BOUND, VALUE_FACTOR * math.prod(slot.raw_shape))
        if header.values > bound:
            return f"member '{key}' declares {header.values} values, over the {bound} a sample of input '{slot.name}' may hold"
        return None

    return check


class NpzWriter:
    """The one output writer: output_%06d.npz by line index into one folder, atomically and once each,
    with the one folder-error policy. The local workers, the cluster's starting machine and LoadGen's
    accuracy mode write through it."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.written = 0
        self.fatal: str | None = None  # the folder refused a file: the run stops (exit 7), what was written stays
        self._done: set[int] = set()  # a cluster shard redone after a loss: its first outputs stand

    def write(self, index: int, path: str, arrays: dict[str, Any], failures: list[Failure]) -> bool:
        """Write one line's outputs; a refused file is that line's failure. False when the whole folder
        refuses files (FOLDER_ERRNOS): the caller stops the run; True otherwise."""
        if index in self._done:
            return True
        try:
            write_npz_atomic(self.folder, output_name(index), arrays)
        except OutputError as exc:
            failures.append((index, path, str(exc)))
            if exc.errno in FOLDER_ERRNOS:
                self.fatal = str(exc)
                return False
            return True
        self._done.add(index)
        self.written += 1
        return True


class NpzSink:
    """Outputs written where the request ran, through one NpzWriter; `on_folder_error` stops the run."""

    def __init__(self, writer: NpzWriter, output_dtype: str, on_folder_error: Callable[[], Any]) -> None:
        self.writer = writer
        self._dtype = output_dtype
        self._on_folder_error = on_folder_error

    def write(self, samples: Sequence[Sample], outputs: Sequence[np.ndarray], failures: list[Failure]) -> None:
        for j, sample in enumerate(samples):
            assert sample.index is not None  # only datalist lines have an output file
            if not self.writer.write(sample.index, sample.path, output_arrays(outputs, j, self._dtype), failures):
                self._on_folder_error()  # every worker stops; the outputs written so far stay
                return


class CollectSink:
    """Outputs kept by line index, to travel back through Ray's object store: the starting machine
    writes them (NpzWriter), since the nodes share no file system with it."""

    def __init__(self, output_dtype: str) -> None:
        self.outputs: dict[int, dict[str, np.ndarray]] = {}
        self._dtype = output_dtype

    def write(self, samples: Sequence[Sample], outputs: Sequence[np.ndarray], failures: list[Failure]) -> None:
        for j, sample in enumerate(samples):
            assert sample.index is not None
            self.outputs[sample.index] = output_arrays(outputs, j, self._dtype)
