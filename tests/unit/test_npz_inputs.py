"""Token inputs without a process: which npz member feeds which input, the tables the graph says ids
index, synthetic values the model takes, and the warm-up on the data's first sample."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from tests.models import bert_like_model, make_model, save, token_model
from vampy.config.run import InputOptions
from vampy.data.inputs import build_plan, synthetic_raw, synthetic_tokens_note
from vampy.data.npz_inputs import match_npz
from vampy.errors import InputError, UsageError
from vampy.execution.datalist_task import DatalistInputs
from vampy.execution.request import SyntheticInputs
from vampy.models.graph import gather_index_bounds, read_signature
from vampy.models.info import ModelInfo

L = 8


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ModelInfo]:
    path = bert_like_model(tmp_path_factory.mktemp("m") / "bert.onnx", vocab=30)
    info = read_signature(path)
    assert info is not None
    return path, info


def arrays(**members: np.ndarray) -> dict[str, np.ndarray]:
    return members


def ids(value: int = 1, shape: tuple[int, ...] = (1, L), dtype: type = np.int32) -> np.ndarray:
    return np.full(shape, value, dtype)


def test_members_by_name_ignore_extras_in_one_note(bert: tuple[Path, ModelInfo]) -> None:
    _, info = bert
    got = arrays(attention_mask1=ids(), token_type_ids=ids(0), input_ids=ids(3), attention_mask=ids(), attention_mask3=ids())
    match = match_npz("a.npz", got, info, {"input_ids": 30, "token_type_ids": 2})
    assert match.rule == "name" and match.keys == ("input_ids", "attention_mask", "token_type_ids")
    assert match.ignored == ("attention_mask1", "attention_mask3") and match.shapes == ((1, L),) * 3
    notes = match.notes([t.name for t in info.inputs])
    assert notes == ["datalist npz members no model input takes, ignored: attention_mask1, attention_mask3 (as in a.npz)"]


def test_members_by_position_are_named_in_a_note(bert: tuple[Path, ModelInfo]) -> None:
    _, info = bert
    match = match_npz("b.npz", arrays(input_0=ids(shape=(L,)), input_1=ids(shape=(L,)), input_2=ids(0, (L,))), info, {})
    assert match.rule == "position" and match.keys == ("input_0", "input_1", "input_2") and match.ignored == ()
    assert match.notes(["input_ids", "attention_mask", "token_type_ids"]) == [
        "datalist npz members fed by position: input_0 -> input_ids, input_1 -> attention_mask, input_2 -> token_type_ids"
    ]


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"input_ids": ids(), "mask": ids()}, "missing attention_mask, token_type_ids"),
        ({"input_0": ids(), "input_1": ids()}, "missing input_2"),
        ({"input_ids": ids().astype(np.float32), "attention_mask": ids(), "token_type_ids": ids(0)}, "holds float32 values"),
        ({"input_ids": ids(30), "attention_mask": ids(), "token_type_ids": ids(0)},
         "ids 30..30, but model input 'input_ids' indexes a table of 30 rows"),
        ({"input_ids": ids(1, dtype=np.uint64) << 40, "attention_mask": ids(), "token_type_ids": ids(0)}, "indexes a table"),
    ],
)
def test_a_sample_that_cannot_feed_the_model_is_one_line(
    bert: tuple[Path, ModelInfo], members: dict[str, np.ndarray], message: str,
) -> None:
    _, info = bert
    with pytest.raises(InputError, match=message) as caught:
        match_npz("c.npz", members, info, {"input_ids": 30, "token_type_ids": 2})
    assert "\n" not in str(caught.value)


def test_tables_are_found_behind_casts_and_reshapes(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Cast", ["ids"], ["ids64"], to=onnx.TensorProto.INT64),
        helper.make_node("Unsqueeze", ["ids64", "axes"], ["ids3"]),
        helper.make_node("Gather", ["table", "ids3"], ["emb"]),
        helper.make_node("Gather", ["wide", "ids64"], ["cols"], axis=1),
        helper.make_node("ReduceSum", ["emb", "axes"], ["y"], keepdims=0),
        helper.make_node("Identity", ["cols"], ["z"]),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("ids", onnx.TensorProto.INT32, [1, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4, 2]),
         helper.make_tensor_value_info("z", onnx.TensorProto.FLOAT, [3, 1, 4])],
        [numpy_helper.from_array(np.zeros((11, 2), np.float32), "table"), numpy_helper.from_array(np.zeros((3, 7), np.float32), "wide"),
         numpy_helper.from_array(np.array([2], np.int64), "axes")],
    )
    path = save(make_model(graph), tmp_path / "g.onnx")
    assert gather_index_bounds(path) == {"ids": 7}  # the smaller of the two tables it indexes
    assert gather_index_bounds(token_model(tmp_path / "t.onnx", 2)) == {}
    (tmp_path / "x.xml").write_text("<net/>")
    assert gather_index_bounds(tmp_path / "x.xml") == {}


def test_synthetic_tokens_are_ids_the_model_takes(bert: tuple[Path, ModelInfo]) -> None:
    path, info = bert
    plan = build_plan(InputOptions(shapes=((1, 64),) * 6), None, info, gather_index_bounds(path))
    rng = np.random.default_rng(0)
    ids_, mask, types = (synthetic_raw(slot, None, rng) for slot in plan.slots)
    assert ids_.dtype == np.int64 and ids_.min() >= 0 and ids_.max() < 30 and len(np.unique(ids_)) > 1
    assert (mask == 1).all() and (types == 0).all()
    assert plan.notes == ("-s gives 6 shapes and the model has 3 inputs: the first 3 are used, by position "
                          "([1,64] -> input_ids, [1,64] -> attention_mask, [1,64] -> token_type_ids); the other 3 are ignored",)
    assert synthetic_tokens_note(plan) == ("synthetic token inputs: input_ids random ids in [0, 30) (the rows of the table it indexes); "
                                           "attention_mask ones (a mask); token_type_ids zeros (type ids)")
    narrow = build_plan(InputOptions(shapes=((1, 4),) * 3, token_dtype="int8"), None, info, {"input_ids": 30000})
    assert narrow.slots[0].token_range == (0, 128)
    with pytest.raises(UsageError, match="-s gives 2 input shape"):
        build_plan(InputOptions(shapes=((1, 4),) * 2), None, info)


def test_the_warm_up_feeds_the_datas_first_sample(bert: tuple[Path, ModelInfo], tmp_path: Path) -> None:
    _, info = bert
    first = arrays(input_0=ids(5, (L,)), input_1=ids(1, (L,)), input_2=ids(1, (L,)))
    match = match_npz("d.npz", first, info, {})
    plan = build_plan(InputOptions(shapes=match.shapes, batch_size=2), None, info, {}, match)
    assert plan.datalist_keys == ("input_0", "input_1", "input_2") and synthetic_tokens_note(plan) is None
    samples = SyntheticInputs(plan, np.random.default_rng(0)).samples
    assert len(samples) == 2 and all(np.array_equal(s.raws[0], first["input_0"]) for s in samples)
    assert plan.to_dict()["inputs"][0]["fed"] == "npz member 'input_0'"  # type: ignore[index]
    np.savez(tmp_path / "e.npz", input_ids=ids(2), attention_mask=ids(), token_type_ids=ids(0), input_0=ids(9))
    samples = DatalistInputs(("input_ids", "attention_mask", "token_type_ids"), 1 << 20).read([(0, str(tmp_path / "e.npz"))], [])
    assert [int(r[0, 0]) for r in samples[0].raws] == [2, 1, 0]
