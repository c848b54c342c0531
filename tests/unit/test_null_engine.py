"""The null engine: no runtime, outputs of the declared shapes, a busy compute time on an injectable clock."""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from tests.models import conv_model, corrupt_model, identity_like_model, token_model, two_output_model
from vampy import __version__
from vampy.engines.base import ENGINES, EngineInfo, EngineOptions, check_engine_flags, get_engine
from vampy.engines.null import NullSession, output_shapes, spin
from vampy.errors import InputError, ModelError, UsageError
from vampy.models.graph import read_signature

ENGINE = get_engine("null")
OPTIONS = EngineOptions(intra_threads=1)


def counting_clock(step_ns: int) -> tuple[list[int], Callable[[], int]]:
    """A clock that advances step_ns per read, and the list of the values it has handed out."""
    reads: list[int] = []
    ticks = itertools.count(0, step_ns)

    def clock() -> int:
        reads.append(next(ticks))
        return reads[-1]

    return reads, clock


def declared_model(path: Path, inputs: dict[str, list], outputs: dict[str, list | None]) -> Path:
    """Float tensors declared with the given dims (None: undeclared rank) and no nodes: only the
    signature matters to the null engine, and dims no runtime would accept can be declared."""
    def info(name: str, dims: list | None) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, dims)

    graph = helper.make_graph([], "declared", [info(n, d) for n, d in inputs.items()], [info(n, d) for n, d in outputs.items()])
    onnx.save(helper.make_model(graph), str(path))
    return path


def test_registered_as_null_with_the_cpu_only_flag_rules() -> None:
    assert "null" in ENGINES and ENGINE.name == "null"
    check_engine_flags("null", "cpu", None)
    with pytest.raises(UsageError, match=r"^--provider cuda is an ONNX Runtime option; .*the null engine runs on the CPU\)$"):
        ENGINE.check(EngineOptions(device="cuda"))
    with pytest.raises(UsageError, match=r"^--infer_precision is an OpenVINO option; the null engine computes nothing: "):
        check_engine_flags("null", None, "bf16")


@pytest.mark.parametrize("compute_us", [-1.0, float("nan"), float("inf")])
def test_compute_time_must_be_a_finite_non_negative_number(compute_us: float) -> None:
    with pytest.raises(UsageError, match="null engine's compute time"):
        ENGINE.check(EngineOptions(null_compute_us=compute_us))


def test_describe_is_the_graph_signature_and_refuses_what_is_not_onnx(tmp_path: Path) -> None:
    model = conv_model(tmp_path / "m.onnx", dynamic=True)
    assert ENGINE.describe(model) == read_signature(model)
    with pytest.raises(ModelError, match="not a readable ONNX file; the null engine reads"):
        ENGINE.describe(corrupt_model(tmp_path / "bad.onnx"))
    with pytest.raises(InputError, match="no such file"):
        ENGINE.open(tmp_path / "absent.onnx", OPTIONS)


def test_open_reports_what_ran(tmp_path: Path) -> None:
    session = ENGINE.open(two_output_model(tmp_path / "two.onnx"), EngineOptions(intra_threads=3))
    info = session.info.to_dict()
    assert info.pop("build_s") >= 0
    assert info == {"engine": "null", "version": __version__, "device": "cpu", "precision": "none",
                    "intra_threads": 3, "providers": [], "engine_cache": None}
    assert session.output_names == ("zeta", "alpha")  # the model's order, not sorted
    assert session.end_profiling() is None


def test_outputs_are_zeros_of_the_declared_shapes_and_dtypes(tmp_path: Path) -> None:
    session = ENGINE.open(two_output_model(tmp_path / "two.onnx", shape=(2, 5)), OPTIONS)
    zeta, alpha = session.run({"input": np.ones((2, 5), np.float32)})
    for out in (zeta, alpha):
        assert out.shape == (2, 5) and out.dtype == np.float32 and not out.any()
    (tokens,) = ENGINE.open(token_model(tmp_path / "tok.onnx", n_inputs=2, seq_len=6, dtype=np.int64), OPTIONS).run(
        {"input_ids": np.ones((1, 6), np.int64), "attention_mask": np.ones((1, 6), np.int64)})
    assert tokens.shape == (1, 6) and tokens.dtype == np.float32
    (u8,) = ENGINE.open(identity_like_model(tmp_path / "u8.onnx", (1, 3, 4, 4), np.uint8), OPTIONS).run(
        {"input": np.ones((1, 3, 4, 4), np.uint8)})
    assert u8.shape == (1, 3, 4, 4) and u8.dtype == np.uint8


def test_batch_and_named_dims_come_from_the_feed(tmp_path: Path) -> None:
    session = ENGINE.open(conv_model(tmp_path / "dyn.onnx", dynamic=True), OPTIONS)
    for shape in [(3, 1, 20, 24), (1, 1, 8, 8), (3, 1, 20, 24)]:
        (y,) = session.run({"input": np.zeros(shape, np.float32)})
        assert y.shape == shape


def test_the_rule_for_dims_no_input_names(tmp_path: Path) -> None:
    model = declared_model(
        tmp_path / "declared.onnx",
        {"x": ["batch", "height", 7]},
        {"named": ["batch", "height", "scaled", 3],  # "scaled" names no input dim: 1
         "unnamed": [None, None],  # unknown dim 0: the feed's batch; any other: 1
         "unmatched_first": ["other", "batch"],  # an unmatched name at dim 0 is the batch too
         "no_rank": None,  # undeclared rank: the first input's shape
         "scalar": []},
    )
    info = ENGINE.describe(model)
    feed = {"x": np.zeros((4, 10, 7), np.float32)}
    assert output_shapes(info, feed) == [(4, 10, 1, 3), (4, 1), (4, 4), (4, 10, 7), ()]
    assert [y.shape for y in ENGINE.open(model, OPTIONS).run(feed)] == [(4, 10, 1, 3), (4, 1), (4, 4), (4, 10, 7), ()]


def test_each_request_gets_new_arrays(tmp_path: Path) -> None:
    session = ENGINE.open(conv_model(tmp_path / "m.onnx"), OPTIONS)
    feed = {"input": np.zeros((1, 1, 8, 8), np.float32)}
    (first,) = session.run(feed)
    first += 1  # a caller that writes into its outputs must not change the next request's
    (second,) = session.run(feed)
    assert second is not first and not second.any()


@pytest.mark.parametrize(("feed", "reason"), [
    ({}, r"the feed has inputs \[\], the model takes \['input'\]"),
    ({"input": np.zeros((1, 1, 8, 8), np.float32), "extra": np.zeros(1, np.float32)}, "the feed has inputs"),
    ({"input": np.zeros((1, 1, 8, 8), np.float64)}, "input 'input' is float64, the model takes float32"),
    ({"input": np.zeros((1, 1, 8, 9), np.float32)}, r"input 'input' has shape \[1, 1, 8, 9\], the model takes \[1, 1, 8, 8\]"),
    ({"input": np.zeros((1, 8, 8), np.float32)}, "input 'input' has shape"),
])
def test_a_feed_a_runtime_would_refuse_is_refused(tmp_path: Path, feed: dict, reason: str) -> None:
    session = ENGINE.open(conv_model(tmp_path / "m.onnx"), OPTIONS)
    with pytest.raises(InputError, match=f"^null engine: {reason}"):
        session.run(feed)


def test_spin_reads_the_clock_until_the_duration_has_passed() -> None:
    reads, clock = counting_clock(1000)
    assert spin(5000, clock) == 5000
    assert reads == [0, 1000, 2000, 3000, 4000, 5000]
    reads, clock = counting_clock(3000)
    assert spin(5000, clock) == 6000  # it never stops early: at most one step past the deadline
    reads, clock = counting_clock(1000)
    assert spin(0, clock) == 0 and reads == [0]


def test_session_spins_its_compute_time_on_its_clock(tmp_path: Path) -> None:
    model = ENGINE.describe(conv_model(tmp_path / "m.onnx"))
    info = EngineInfo("null", __version__, "cpu", "none", 1)
    feed = {"input": np.zeros((1, 1, 8, 8), np.float32)}
    reads, clock = counting_clock(1000)
    NullSession(model, info, compute_ns=4000, clock=clock).run(feed)
    assert reads == [0, 1000, 2000, 3000, 4000]
    reads, clock = counting_clock(1000)
    NullSession(model, info, compute_ns=0, clock=clock).run(feed)
    assert reads == []  # no compute time: the clock is not even read


def test_compute_time_is_at_least_what_was_asked(tmp_path: Path) -> None:
    session = ENGINE.open(conv_model(tmp_path / "m.onnx"), EngineOptions(intra_threads=1, null_compute_us=300.0))
    feed = {"input": np.zeros((1, 1, 8, 8), np.float32)}
    for _ in range(3):
        start_ns = time.perf_counter_ns()
        session.run(feed)
        assert time.perf_counter_ns() - start_ns >= 300_000  # a lower bound only: a busy machine only adds
