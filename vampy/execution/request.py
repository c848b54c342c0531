"""One timed request, as every executor and command runs a model: preprocess, run, write the outputs, stamp.

The local pool's worker threads (worker.py), the Ray actors (ray_executor.py) and LoadGen's system
under test (workflows/loadgen.py) all serve a request with `timed_request`; infer's model stage runs
its batches through `Instance.run`. What differs between them is data handed in, never a code path
of its own:

- where the inputs come from: `Sample`s, built by `SyntheticInputs` (one synthetic batch per
  instance), `datalist_task.DatalistInputs` (npz files read here, or the arrays a cluster's starting
  machine shipped) or LoadGen's query samples; `arrival_ns` when a schedule (open loop, LoadGen's
  issue time) says when the request arrived;
- where the outputs go: an `OutputSink`: `NO_OUTPUTS`, npz files through the one writer
  (`datalist_task.NpzSink`), the Ray object store (`datalist_task.CollectSink`), LoadGen's response.

The stamps are measure/records.py's columns, read from the clock the instance was given (house
rule 3), so a test can drive time and check every stamp exactly.
"""
from __future__ import annotations

from collections.abc import MutableSequence, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from vampy.data.inputs import InputPlan, batch_feed, pad_batch, sample_tensor, synthetic_raw
from vampy.engines.base import Clock, has_split
from vampy.errors import first_line
from vampy.measure.records import Recorder

__all__ = ["Clock", "Failure", "Instance", "Ledger", "NO_OUTPUTS", "OutputSink", "Sample", "SyntheticInputs", "output_arrays",
           "timed_request"]

Failure = tuple[int, str, str]  # (datalist line index, input path, reason): a row of failures.json
# Per-instance int64 slots that a watchdog reads: a list, a numpy array or a multiprocessing Array.
InflightSlots = MutableSequence[int] | np.ndarray

_OUTPUT_DTYPES = {"fp16": np.float16, "fp32": np.float32}  # --output_dtype; "model": as the model returns them


@dataclass(frozen=True)
class Sample:
    """One sample of a request: its raw inputs (one per slot of the plan) and the datalist line it answers."""

    raws: Sequence[np.ndarray]
    # The line whose output file and failure record this sample names; None for a synthetic sample,
    # whose failure is the run's own (it raises) since there is no line to blame it on.
    index: int | None = None
    path: str = ""


@dataclass
class Ledger:
    """What a stream of requests leaves behind: one row of stamps per batch run, and the failed lines."""

    record: Recorder
    failures: list[Failure] = field(default_factory=list)


class OutputSink(Protocol):
    """Where a batch's outputs go, written inside the request's output phase (model_end..end)."""

    def write(self, samples: Sequence[Sample], outputs: Sequence[np.ndarray], failures: list[Failure]) -> None: ...


class _NoOutputs:
    """Outputs go nowhere: they are host arrays as soon as the session returns, so the output phase is empty."""

    def write(self, samples: Sequence[Sample], outputs: Sequence[np.ndarray], failures: list[Failure]) -> None:
        return None


NO_OUTPUTS: OutputSink = _NoOutputs()


def output_arrays(outputs: Sequence[np.ndarray], j: int, output_dtype: str = "model") -> dict[str, np.ndarray]:
    """Sample j's outputs as an output npz holds them: output_k, batch dimension kept, cast per --output_dtype."""
    dtype = _OUTPUT_DTYPES.get(output_dtype)
    return {f"output_{k}": _cast(np.asarray(out)[j : j + 1], dtype) for k, out in enumerate(outputs)}


def _cast(array: np.ndarray, dtype: Any) -> np.ndarray:
    return array if dtype is None else array.astype(dtype)


class Instance:
    """One opened session as a timed unit: its clock, its device split, and its slot of the watchdog's
    in-flight stamps (start ns of the request in flight, 0 when idle), which the executor reads."""

    def __init__(self, session: Any, clock: Clock, inflight: InflightSlots | None = None, slot: int = 0) -> None:
        self.session = session
        self.clock = clock
        self._inflight: InflightSlots = inflight if inflight is not None else [0]
        self._slot = slot
        self._split = has_split(session)  # decided once: a GPU session times its copies apart

    def begin(self) -> int:
        """Start a request: stamp it for the --timeout watchdog."""
        t0 = self.clock()
        self._inflight[self._slot] = t0
        return t0

    def end(self) -> None:
        self._inflight[self._slot] = 0

    def run(self, feed: dict[str, np.ndarray]) -> tuple[Sequence[np.ndarray], tuple[int, int]]:
        """Outputs and (compute_start, compute_end) ns: a device session's copies timed apart, (0, 0) otherwise."""
        if self._split:
            return self.session.run_split(feed, self.clock)
        return self.session.run(feed), (0, 0)


class SyntheticInputs:
    """One batch of synthetic raw inputs per instance; each request preprocesses it afresh, as the
    device would preprocess fresh frames. With a datalist the batch is the data's first sample
    repeated (plan.warmup_raws): the warm-up then runs on what the run feeds, not on a guess."""

    def __init__(self, plan: InputPlan, rng: np.random.Generator) -> None:
        if plan.warmup_raws is not None:
            self.samples: tuple[Sample, ...] = (Sample(plan.warmup_raws),) * plan.batch_size
            return
        self.samples = tuple(
            Sample(tuple(synthetic_raw(slot, plan.spec, rng) for slot in plan.slots)) for _ in range(plan.batch_size)
        )


def timed_request(instance: Instance, plan: InputPlan, samples: Sequence[Sample], sink: OutputSink, ledger: Ledger,
                  arrival_ns: int | None = None) -> None:
    """Serve one request: preprocess every sample, run them in batches of one shape (a datalist shard may
    mix sizes), write each batch's outputs to `sink`, and add one row of stamps per batch to `ledger`.

    Clock readings, in order: start (also the watchdog's in-flight stamp), model_start, [the device
    split's two], model_end, end; the next batch starts at the previous one's end. The first batch
    arrived at `arrival_ns` (the schedule's due time, LoadGen's issue time), else when it started.
    A sample that names a datalist line fails alone (into ledger.failures); a synthetic one raises.
    """
    clock = instance.clock
    start_ns = instance.begin()
    try:
        arrival = start_ns if arrival_ns is None else arrival_ns
        for group in _by_shape(plan, samples, ledger.failures):
            tensors = [t for _, t in group]
            feed = batch_feed(plan, pad_batch(tensors, plan.batch_size) if plan.fixed_batch else tensors)
            model_start_ns = clock()
            try:
                outputs, compute_ns = instance.run(feed)
            except Exception as exc:  # noqa: BLE001 - ORT raises several pybind types for a bad input
                if group[0][0].index is None:
                    raise
                ledger.failures += [_failure(s, f"the model rejected the input: {first_line(exc)}") for s, _ in group]
                continue
            model_end_ns = clock()
            sink.write([s for s, _ in group], outputs, ledger.failures)
            end_ns = clock()
            ledger.record.add(arrival, start_ns, model_start_ns, model_end_ns, end_ns, len(group), compute_ns)
            start_ns = arrival = end_ns
    finally:
        instance.end()


def _by_shape(plan: InputPlan, samples: Sequence[Sample], failures: list[Failure]) -> list[list[tuple[Sample, list[np.ndarray]]]]:
    """Each sample preprocessed, grouped by the shapes of its tensors (first seen, first run)."""
    groups: dict[tuple[tuple[int, ...], ...], list[tuple[Sample, list[np.ndarray]]]] = {}
    for sample in samples:
        try:
            tensors = [sample_tensor(slot, plan, raw) for slot, raw in zip(plan.slots, sample.raws)]
        except Exception as exc:  # noqa: BLE001 - one bad sample must not cost the other lines their outputs
            if sample.index is None:
                raise
            failures.append(_failure(sample, f"preprocessing failed: {exc}"))
            continue
        groups.setdefault(tuple(t.shape for t in tensors), []).append((sample, tensors))
    return list(groups.values())


def _failure(sample: Sample, reason: str) -> Failure:
    assert sample.index is not None  # only line samples fail alone
    return (sample.index, sample.path, reason)
