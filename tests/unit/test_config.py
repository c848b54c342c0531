from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vampy.config import DEFAULT_ITERATIONS, RunConfig, parse_percentiles, parse_shapes
from vampy.errors import UsageError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3,256,256", ((3, 256, 256),)),
        ("[3,256,256]", ((3, 256, 256),)),
        (" [1,1080,1920] ", ((1, 1080, 1920),)),
        ("[[1,512],[1,512],[1,512]]", ((1, 512), (1, 512), (1, 512))),
        ("[3, 224, 224]", ((3, 224, 224),)),
    ],
)
def test_shapes_good(text: str, expected: tuple[tuple[int, ...], ...]) -> None:
    assert parse_shapes(text) == expected


@pytest.mark.parametrize("text", ["", "3x256x256", "[3,256", "[3,0,256]", "[[1,512],3]", "__import__('os')", "[]", "[3,-1]", "[1e9,1e9]"])
def test_shapes_bad_name_the_flag(text: str) -> None:
    with pytest.raises(UsageError, match="-s"):
        parse_shapes(text)


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_shape_parser_never_raises_anything_else(text: str) -> None:
    try:
        shapes = parse_shapes(text)
    except UsageError as exc:
        assert str(exc)
    else:
        assert shapes and all(all(d >= 1 for d in s) for s in shapes)


def test_percentiles_add_to_defaults() -> None:
    assert parse_percentiles("50,99.9") == (50.0, 90.0, 95.0, 99.0, 99.9)
    for bad in ("abc", "0", "101", "50,,99"):
        with pytest.raises(UsageError, match="--percentiles"):
            parse_percentiles(bad)


def test_stop_rules() -> None:
    assert RunConfig.flat("m").samples_per_process == DEFAULT_ITERATIONS
    assert RunConfig.flat("m", duration_s=2.0).samples_per_process is None
    assert RunConfig.flat("m", duration_s=2.0, iterations=10).samples_per_process == 10


@pytest.mark.parametrize(
    ("kwargs", "flag"),
    [
        ({"instances": 0}, "-i"),
        ({"processes": 0}, "-p"),
        ({"batch_size": 0}, "-b"),
        ({"iterations": 0}, "--iterations"),
        ({"duration_s": -1.0}, "--duration"),
        ({"threads": 0}, "--threads"),
        ({"path_output": "out"}, "--path_output needs --datalist"),
        ({"resume": True}, "--resume"),
        ({"output_dtype": "int8"}, "--output_dtype"),
        ({"token_dtype": "float32"}, "--dtype"),
        ({"processes": 100, "instances": 100}, "256"),
    ],
)
def test_impossible_configs(kwargs: dict[str, object], flag: str) -> None:
    with pytest.raises(UsageError, match=flag):
        RunConfig.flat("m", **kwargs)  # type: ignore[arg-type]
