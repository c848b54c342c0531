"""Datalist mode of `vampy run`: one output npz per datalist line, named by line index.

Names come from the line index, never from the input's name or the order of completion, so
`sorted(glob(out/*.npz))` pairs with the datalist whatever -i, -p and -b are, and nothing can be
written outside --path_output. A bad line becomes a failure record; every good line is written.
"""
from __future__ import annotations

import errno
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vampy.formats.npz import write_npz_atomic


from vampy.formats.datalist import output_name
from vampy.errors import OutputError, VampyError
from vampy.data.inputs import batch_feed, pad_batch, sample_tensor
from vampy.execution.job import DatalistTask

if TYPE_CHECKING:
    from vampy.execution.worker import _Driver

_OUTPUT_DTYPES = {"fp16": np.float16, "fp32": np.float32}


# Write errors that concern the whole folder, not one line: the run stops (exit 7) and keeps
# what it wrote, so --resume can continue once the folder is fixed.
FOLDER_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT})  # EFBIG: that file only


def run_datalist_task(driver: _Driver, task: DatalistTask) -> None:
    """Load, preprocess, group by shape, infer, write: one worker thread, one task."""
    plan, clock = driver.spec.job.plan, driver.clock
    loaded = [(index, path, _load(driver, index, path)) for index, path in task.items]
    t0 = driver.begin()
    groups: OrderedDict[tuple[tuple[int, ...], ...], list[tuple[int, str, list[np.ndarray]]]] = OrderedDict()
    for index, path, raws in loaded:
        if raws is None:
            continue
        tensors = _preprocess(driver, index, path, raws)
        if tensors is not None:
            groups.setdefault(tuple(t.shape for t in tensors), []).append((index, path, tensors))
    for group in groups.values():
        samples = [g[2] for g in group]
        feed = batch_feed(plan, pad_batch(samples, plan.batch_size) if plan.fixed_batch else samples)
        t1 = clock()
        try:
            outputs, compute_ns = driver.infer(feed)
        except Exception as exc:  # noqa: BLE001 - ORT raises several pybind types for a bad input
            driver.failures += [(i, p, f"the model rejected the input: {str(exc).splitlines()[0]}") for i, p, _ in group]
            continue
        t2 = clock()
        _write(driver, group, outputs)
        t3 = clock()
        driver.record.add(t0, t0, t1, t2, t3, len(group), compute_ns)
        t0 = t3
    driver.end()
    driver.progress[driver.slot] += len(task.items)


def _load(driver: _Driver, index: int, path: str) -> list[np.ndarray] | None:
    try:
        arrays = driver.read_npz(Path(path), max_bytes=driver.spec.max_npz_bytes)
    except VampyError as exc:
        driver.failures.append((index, path, str(exc)))
        return None
    names = [f"input_{k}" for k in range(len(driver.spec.job.plan.slots))]
    missing = [n for n in names if n not in arrays]
    if missing:
        driver.failures.append((index, path, f"no key {', '.join(missing)} (keys: {', '.join(sorted(arrays)) or 'none'})"))
        return None
    return [arrays[n] for n in names]


def _preprocess(driver: _Driver, index: int, path: str, raws: list[np.ndarray]) -> list[np.ndarray] | None:
    plan = driver.spec.job.plan
    try:
        return [sample_tensor(slot, plan, raw) for slot, raw in zip(plan.slots, raws)]
    except Exception as exc:  # noqa: BLE001 - one bad sample must not cost the other lines their outputs
        driver.failures.append((index, path, f"preprocessing failed: {exc}"))
        return None


def _write(driver: _Driver, group: list[tuple[int, str, list[np.ndarray]]], outputs: list[Any]) -> None:
    out_dir = driver.spec.job.output_dir
    if out_dir is None:
        return
    dtype = _OUTPUT_DTYPES.get(driver.spec.job.output_dtype)
    for j, (index, path, _) in enumerate(group):
        arrays = {f"output_{k}": _cast(np.asarray(out)[j : j + 1], dtype) for k, out in enumerate(outputs)}
        if driver.output_sink is not None:
            driver.output_sink(index, arrays)  # the executor writes it where the run was started
            continue
        try:
            write_npz_atomic(Path(out_dir), output_name(index), arrays)
        except OutputError as exc:
            driver.failures.append((index, path, str(exc)))
            if exc.errno in FOLDER_ERRNOS:
                driver.fatal_output_error = str(exc)
                driver.stop_event.set()  # every worker stops; their written outputs stay
                return
            continue
        driver.outputs_written += 1


def _cast(array: np.ndarray, dtype: Any) -> np.ndarray:
    return array if dtype is None else array.astype(dtype)


