"""The nesting limit that vdsp files and compiler YAMLs pass before any parser sees them."""
from __future__ import annotations

from pathlib import Path

import pytest

from vampy.errors import InputError
from vampy.formats.files import MAX_NESTING, check_nesting

ROOT = Path(__file__).resolve().parents[2]


def flow(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def block(depth: int) -> str:
    return "".join(f"{'  ' * k}k{k}:\n" for k in range(depth - 1)) + f"{'  ' * (depth - 1)}leaf: 1\n"


@pytest.mark.parametrize("make", [flow, block], ids=["flow", "block"])
def test_limit_is_inclusive(make) -> None:
    check_nesting(make(MAX_NESTING), "x.yaml")
    with pytest.raises(InputError, match=rf"x.yaml: nests deeper than {MAX_NESTING} levels"):
        check_nesting(make(MAX_NESTING + 1), "x.yaml")


def test_dash_sequences_on_one_line_count() -> None:
    check_nesting("- " * (MAX_NESTING - 1) + "1\n", "x.yaml")
    with pytest.raises(InputError):
        check_nesting("- " * (MAX_NESTING + 1) + "1\n", "x.yaml")


def test_pathological_input_is_one_line() -> None:
    with pytest.raises(InputError) as caught:
        check_nesting("[" * 100_000, "v.json")
    assert len(str(caught.value).splitlines()) == 1


def test_closed_brackets_do_not_accumulate() -> None:
    check_nesting("[1]" * 10_000 + "{a: [b]}" * 10_000, "x.yaml")


@pytest.mark.parametrize("path", sorted([*ROOT.glob("vdsp_params/*.json"), *ROOT.glob("build/*.yaml")]), ids=lambda p: p.name)
def test_shipped_files_pass(path: Path) -> None:
    check_nesting(path.read_text(), str(path))


def test_loaders_refuse_before_parsing(tmp_path: Path) -> None:
    from vampy.formats.compile_yaml import load_compile_config
    from vampy.formats.vdsp import load_vdsp

    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + flow(MAX_NESTING + 1) + "\n")
    for load in (load_vdsp, load_compile_config):
        with pytest.raises(InputError, match="nests deeper"):
            load(deep)


def test_flow_inside_block_each_at_the_limit_passes_and_parses() -> None:
    """The check takes the larger depth, not the sum: the parser must cope with the sum."""
    import yaml

    text = block(MAX_NESTING).replace("leaf: 1", "leaf: " + flow(MAX_NESTING))
    check_nesting(text, "x.yaml")
    node = yaml.safe_load(text)
    for k in range(MAX_NESTING - 1):
        node = node[f"k{k}"]
    value = node["leaf"]
    for _ in range(MAX_NESTING):
        (value,) = value
    assert value == 1
