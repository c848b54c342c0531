from __future__ import annotations

import pytest

from vampy.cli.argv import normalize


def test_vamp_most_common_form_p_without_dash() -> None:
    args, notes = normalize(["run", "-m", "d/mod", "--vdsp_params", "v.json", "-i", "1", "p", "1", "-b", "1", "-s", "[3,256,256]"])
    assert args == ["run", "-m", "d/mod", "--vdsp_params", "v.json", "-i", "1", "-p", "1", "-b", "1", "-s", "[3,256,256]"]
    assert notes == []


def test_glued_model_path_is_split() -> None:
    args, _ = normalize(["run", "-mdeploy_weights/x/mod", "-i2"])
    assert args == ["run", "-m", "deploy_weights/x/mod", "-i", "2"]


def test_vdsp_path_without_flag_becomes_vdsp_params_with_a_note() -> None:
    args, notes = normalize(["run", "-m", "x", "./build_in/vdsp.json", "-b", "1"])
    assert args == ["run", "-m", "x", "--vdsp_params", "./build_in/vdsp.json", "-b", "1"]
    assert len(notes) == 1 and "--vdsp_params" in notes[0]


def test_yaml_vdsp_path_without_flag() -> None:
    args, _ = normalize(["run", "-m", "x", "v.yaml"])
    assert args[-2:] == ["--vdsp_params", "v.yaml"]


def test_second_bare_vdsp_path_is_not_swallowed() -> None:
    args, _ = normalize(["run", "--vdsp_params", "a.json", "b.json"])
    assert args == ["run", "--vdsp_params", "a.json", "b.json"]  # typer then rejects the extra word


def test_shape_split_by_the_shell_is_joined() -> None:
    args, _ = normalize(["run", "-s", "[3,", "256,", "256]", "-b", "1"])
    assert args == ["run", "-s", "[3,256,256]", "-b", "1"]


def test_stray_word_after_datalist_is_dropped_with_a_note() -> None:
    args, notes = normalize(["run", "--datalist", "list.txt", "extra", "--path_output", "out"])
    assert args == ["run", "--datalist", "list.txt", "--path_output", "out"]
    assert "extra" in notes[0]


def test_bare_model_flag_implies_run() -> None:
    args, _ = normalize(["-m", "x.onnx", "-i", "1"])
    assert args[:3] == ["run", "-m", "x.onnx"]


def test_values_of_flags_are_not_rewritten() -> None:
    # `p` as the VALUE of a flag must stay a value
    args, _ = normalize(["run", "--json", "p", "-p", "2"])
    assert args == ["run", "--json", "p", "-p", "2"]


@pytest.mark.parametrize("cmd", [["eval", "p", "1"], ["zoo", "vdsr", "x.json"], []])
def test_other_commands_untouched(cmd: list[str]) -> None:
    assert normalize(cmd) == (cmd, [])


def test_every_run_option_that_takes_a_value_is_known_to_the_quirk_parser() -> None:
    """Otherwise `--export_times t.json` would be read as a bare vdsp path."""
    import typer.main

    from vampy.cli import _register, app
    from vampy.cli.argv import VALUE_FLAGS

    _register()
    run = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    takes_value = {opt for p in run.params if not getattr(p, "is_flag", False) for opt in p.opts}
    assert takes_value - VALUE_FLAGS == set()


def test_json_valued_flags_keep_their_values() -> None:
    args, notes = normalize(["run", "-m", "x", "--export_times", "t.json", "--plot", "p.yaml"])
    assert args == ["run", "-m", "x", "--export_times", "t.json", "--plot", "p.yaml"] and notes == []
