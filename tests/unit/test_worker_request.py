"""The one timed request (execution/request.py) under a fake clock: every stamp exact, the watchdog's
in-flight stamp, the shape groups and failures of a datalist shard, and the one npz writer's policy.
No runtime: sessions here are a few lines of numpy, and the worker test uses the null engine."""
from __future__ import annotations

import errno
import queue
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.models import conv_model
from vampy.data.inputs import InputPlan, InputSlot
from vampy.errors import OutputError
from vampy.execution import datalist_task
from vampy.execution.datalist_task import CollectSink, DatalistInputs, NpzSink, NpzWriter
from vampy.execution.job import RunJob, StopRule
from vampy.execution.request import NO_OUTPUTS, Instance, Ledger, Sample, SyntheticInputs, timed_request
from vampy.execution.worker import MSG_READY, SharedCounters, WorkerSpec, _run_worker
from vampy.measure.records import COLUMNS, Recorder

TICK_NS = 1000


class FakeClock:
    """Every reading is TICK_NS after the previous one; counts its readings."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        self.now += TICK_NS
        return self.now


class DoublingSession:
    """Outputs twice its input; refuses inputs wider than 4 px as a runtime refuses a shape."""

    def __init__(self, inflight: list[int] | None = None) -> None:
        self.inflight = inflight
        self.seen_inflight: list[int] = []

    def run(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        if self.inflight is not None:
            self.seen_inflight.append(self.inflight[0])
        x = feed["input"]
        if x.shape[-1] > 4:
            raise RuntimeError("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : wrong width\nsecond line")
        return [x * 2]


class SplitSession(DoublingSession):
    """A device session: run_split reads the clock around the compute, as OrtDeviceSession does."""

    def run_split(self, feed: dict[str, np.ndarray], clock: Any) -> tuple[list[np.ndarray], tuple[int, int]]:
        compute_start = clock()
        outputs = self.run(feed)
        return outputs, (compute_start, clock())


def plan(batch_size: int = 1, fixed_batch: bool = False) -> InputPlan:
    slot = InputSlot("input", "image", (1, 4, 4), "float32", None, (None, 1, None, None))
    return InputPlan((slot,), None, None, batch_size, fixed_batch)


def rows(ledger: Ledger) -> list[tuple[int, ...]]:
    cols = ledger.record.arrays()
    return [tuple(int(cols[name][i]) for name in COLUMNS) for i in range(cols["end_ns"].size)]


def line(index: int, hw: int, value: int = 1) -> Sample:
    return Sample([np.full((1, hw, hw), value, np.uint8)], index, f"x{index}.npz")


def test_a_synthetic_request_reads_the_clock_once_per_phase_boundary() -> None:
    clock, inflight = FakeClock(), [0]
    session = DoublingSession(inflight)
    ledger = Ledger(Recorder(2))
    inputs = SyntheticInputs(plan(batch_size=2), np.random.default_rng(0))
    timed_request(Instance(session, clock, inflight, 0), plan(batch_size=2), inputs.samples, NO_OUTPUTS, ledger)
    # arrival, start, model_start, model_end, end, samples, compute_start, compute_end (no device split: 0, 0)
    assert rows(ledger) == [(1000, 1000, 2000, 3000, 4000, 2, 0, 0)]
    assert session.seen_inflight == [1000] and inflight == [0]  # the watchdog saw the start while it ran, 0 after
    assert clock.now == 4000


def test_the_device_split_lies_inside_the_model_span_and_a_schedule_sets_the_arrival() -> None:
    clock = FakeClock()
    ledger = Ledger(Recorder(1))
    samples = SyntheticInputs(plan(), np.random.default_rng(0)).samples
    timed_request(Instance(SplitSession(), clock), plan(), samples, NO_OUTPUTS, ledger, arrival_ns=500)
    assert rows(ledger) == [(500, 1000, 2000, 5000, 6000, 1, 3000, 4000)]


def test_a_shard_runs_one_batch_per_shape_and_each_bad_line_fails_alone() -> None:
    clock = FakeClock()
    ledger = Ledger(Recorder(4))
    sink = CollectSink("model")
    bad = Sample([np.array([["a"]])], 9, "bad.npz")  # preprocessing (astype float32) refuses it
    samples = [line(3, 8), line(0, 4), line(1, 2), line(2, 4, 3), bad]
    timed_request(Instance(DoublingSession(), clock), plan(batch_size=2), samples, sink, ledger)
    # Batches by shape, first seen first: 8x8 (line 3) is refused by the model, so it has no row and its
    # time stays in the next batch's preprocessing phase; then 4x4 (lines 0, 2) and 2x2 (line 1), each
    # starting where the last one ended.
    assert rows(ledger) == [(1000, 1000, 3000, 4000, 5000, 2, 0, 0), (5000, 5000, 6000, 7000, 8000, 1, 0, 0)]
    (preprocessing, rejected) = ledger.failures
    assert preprocessing[:2] == (9, "bad.npz") and preprocessing[2].startswith("preprocessing failed: could not convert string to float")
    assert rejected == (3, "x3.npz", "the model rejected the input: [ONNXRuntimeError] : 2 : INVALID_ARGUMENT : wrong width")
    assert sorted(sink.outputs) == [0, 1, 2]
    assert sink.outputs[2]["output_0"].shape == (1, 1, 4, 4) and float(sink.outputs[2]["output_0"].max()) == 6.0


def test_a_fixed_batch_is_padded_and_only_the_real_samples_are_counted() -> None:
    ledger = Ledger(Recorder(1))
    sink = CollectSink("fp16")
    timed_request(Instance(DoublingSession(), FakeClock()), plan(batch_size=4, fixed_batch=True), [line(5, 4)], sink, ledger)
    assert rows(ledger)[0][5] == 1
    assert list(sink.outputs) == [5] and sink.outputs[5]["output_0"].dtype == np.float16


def test_a_synthetic_failure_is_the_runs_own_and_clears_the_inflight_stamp() -> None:
    inflight = [0]
    samples = [Sample([np.zeros((1, 8, 8), np.uint8)])]
    with pytest.raises(RuntimeError, match="wrong width"):
        timed_request(Instance(DoublingSession(), FakeClock(), inflight, 0), plan(), samples, NO_OUTPUTS, Ledger(Recorder(1)))
    assert inflight == [0]


def test_datalist_inputs_name_each_unreadable_line(tmp_path: Path) -> None:
    np.savez(tmp_path / "good.npz", input_0=np.zeros((1, 4, 4), np.uint8))
    np.savez(tmp_path / "other.npz", image=np.zeros((1, 4, 4), np.uint8))
    items = [(0, str(tmp_path / "good.npz")), (1, str(tmp_path / "other.npz"))]
    failures: list[tuple[int, str, str]] = []
    samples = DatalistInputs(1, 1 << 20).read(items, failures)
    assert [(s.index, s.path) for s in samples] == [items[0]]
    assert failures == [(1, items[1][1], "no key input_0 (keys: image)")]


def test_the_writer_writes_each_line_once_and_stops_only_for_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = NpzWriter(tmp_path)
    failures: list[tuple[int, str, str]] = []
    arrays = {"output_0": np.ones((1, 2), np.float32)}
    assert writer.write(7, "a.npz", arrays, failures) and writer.write(7, "a.npz", arrays, failures)
    assert writer.written == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["output_000007.npz"]

    def refuse(code: int) -> Any:
        def write(folder: Path, name: str, arrays: Any) -> Path:
            raise OutputError(f"{folder / name}: refused", errno=code)
        return write

    monkeypatch.setattr(datalist_task, "write_npz_atomic", refuse(errno.EFBIG))
    assert writer.write(8, "b.npz", arrays, failures) and writer.fatal is None  # that file only: the run goes on
    monkeypatch.setattr(datalist_task, "write_npz_atomic", refuse(errno.ENOSPC))
    stopped: list[bool] = []
    sink = NpzSink(writer, "model", lambda: stopped.append(True))
    sink.write([line(9, 4), line(10, 4)], [np.zeros((2, 1, 4, 4), np.float32)], failures)
    assert stopped == [True] and writer.fatal == f"{tmp_path / 'output_000009.npz'}: refused"
    assert [f[0] for f in failures] == [8, 9]  # line 10 was not tried: the folder refuses files
    assert writer.written == 1


class ListQueue:
    def __init__(self) -> None:
        self.items: list[Any] = []

    def put(self, item: Any) -> None:
        self.items.append(item)


def test_the_worker_stamps_with_the_clock_it_is_given(tmp_path: Path) -> None:
    """_run_worker, as worker_main runs it, on the null engine: warm-up and timed loop read only the injected clock."""
    model = conv_model(tmp_path / "m.onnx", in_ch=1, hw=(4, 4))
    slot = InputSlot("input", "image", (1, 4, 4), "float32", None, (1, 1, 4, 4))
    job = RunJob(str(model), "null", "cpu", 0, processes=1, instances=1, intra_threads=1, plan=InputPlan((slot,), None, None, 1, True),
                 stop=StopRule(3, None, None), warmup_requests=1, seed=0)
    clock, results = FakeClock(), ListQueue()
    start = threading.Event()
    start.set()
    shared = SharedCounters(progress=[0], inflight=[0], stop_event=threading.Event())
    result = _run_worker(WorkerSpec(job, 0), results, start, shared, queue.Queue(), clock)
    assert results.items == [(MSG_READY, 0, 3000)]  # the warm-up request: 1000..4000
    assert result.warmup_e2e_ns.tolist() == [3000] and result.warmup_model_ns.tolist() == [1000]
    cols = result.columns
    assert cols["start_ns"].tolist() == [5000, 9000, 13000] and cols["arrival_ns"].tolist() == cols["start_ns"].tolist()
    assert (cols["model_start_ns"] - cols["start_ns"]).tolist() == [1000] * 3
    assert (cols["end_ns"] - cols["model_end_ns"]).tolist() == [1000] * 3
    assert shared.progress == [3] and shared.inflight == [0] and result.engine is not None and result.engine["engine"] == "null"
