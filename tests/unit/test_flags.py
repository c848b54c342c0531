"""Each flag is declared once (vampy/config/flags.py): the CLI, the API and vamp's argv table agree."""
from __future__ import annotations

import inspect
from typing import Any

import pytest
import typer

import vampy
from vampy import api
from vampy.cli import app
from vampy.cli import argv as argv_quirks
from vampy.cli.commands import register
from vampy.config.flags import EVAL_FLAGS, INFER_FLAGS, REQUIRED, RUN_FLAGS, SWEEP_FLAGS, Flag

# The CLI-only flags docs/api.md lists: presentation and the help, never a keyword of the API function.
CLI_ONLY = {"help", "quiet", "dry_run", "plot", "html", "list_presets"}
COMMANDS = [("run", vampy.run, RUN_FLAGS), ("sweep", vampy.sweep, SWEEP_FLAGS), ("infer", vampy.infer, INFER_FLAGS),
            ("eval", vampy.evaluate, EVAL_FLAGS)]


def _cli_params(name: str) -> dict[str, Any]:
    if not app.registered_commands:
        register(app)
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    return {p.name: p for p in command.params if p.name}


@pytest.mark.parametrize(("name", "function", "flags"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_cli_and_api_have_the_same_flags(name: str, function: Any, flags: tuple[Flag, ...]) -> None:
    cli = set(_cli_params(name)) | {"help"}
    keywords = set(inspect.signature(function).parameters) - {"progress", "check"}
    assert cli - keywords <= CLI_ONLY, f"vampy {name} flags missing from the API: {sorted(cli - keywords - CLI_ONLY)}"
    assert keywords <= cli, f"API keywords of vampy.{function.__name__} with no CLI flag: {sorted(keywords - cli)}"


@pytest.mark.parametrize(("name", "function", "flags"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_cli_spellings_defaults_and_help_are_the_declarations(name: str, function: Any, flags: tuple[Flag, ...]) -> None:
    params = _cli_params(name)
    signature = inspect.signature(function).parameters
    for flag in flags:
        option = params[flag.name]
        assert set(option.opts) | set(option.secondary_opts) == set(flag.spellings)
        assert getattr(option, "help", None) == flag.help
        if flag.default is not REQUIRED and flag.kind != "hw":
            assert option.default == flag.default, flag.name
        if flag.name in signature:
            expected = inspect.Parameter.empty if flag.default is REQUIRED else flag.default
            assert signature[flag.name].default == expected, flag.name


def test_vamp_argv_table_is_run_value_flags() -> None:
    takes_value = {s for p in _cli_params("run").values() if not getattr(p, "is_flag", True)
                   for s in [*p.opts, *p.secondary_opts]}
    assert argv_quirks.VALUE_FLAGS == takes_value
    assert set(argv_quirks.GLUED_SHORT) == {s for s in takes_value if len(s) == 2}


def test_a_new_flag_reaches_the_builder_by_its_declaration() -> None:
    # Every run flag with a destination lands in the config: set each to a non-default value the
    # config accepts and read it back from the flat record.
    given = dict(model="m.onnx", vdsp_params="v.json", instances=2, processes=3, batch_size=4, shape="3,8,8", device=1,
                 iterations=5, duration=2.5, warmup=5, threads=2, percentiles="99.9", seed=7, dtype="int32",
                 datalist="d.txt", path_output="out", output_dtype="fp16", resume=True, timeout=9.0, profile="prof",
                 export_times="t.csv", engine="null", null_us=3.0, native_size=True, json="r.json", ray="auto",
                 hwconfig="h", backend="b", forward_mode="f", dry_run=True)
    given.pop("profile")  # --profile with --ray is refused: checked apart below
    # Not set here: rate/arrival (performance mode only), provider/infer_precision (other engines), profile (not with --ray).
    declared = {f.name for f in RUN_FLAGS if f.scope != "cli"} - {"rate", "arrival", "provider", "infer_precision", "profile"}
    assert set(given) == declared, "a run flag was added: give it a value here"
    flat = api.run_config(**given).to_dict()
    for flag in RUN_FLAGS:
        if flag.to is not None and flag.name in given:
            assert flat[flag.to] not in (None, flag.default, False), flag.name
    assert flat["vendor_flags"] == {"hwconfig": "h", "backend": "b", "forward_mode": "f"}
    perf = api.run_config(model="m", rate=10.0, arrival="constant", profile="p", provider="cpu").to_dict()
    assert (perf["rate_qps"], perf["arrival"], perf["profile_dir"], perf["provider"]) == (10.0, "constant", "p", "cpu")
    assert api.run_config(model="m", engine="openvino", infer_precision="f32").to_dict()["infer_precision"] == "f32"


@pytest.mark.parametrize("function", [vampy.run, vampy.sweep, vampy.infer, vampy.evaluate], ids=lambda f: f.__name__)
def test_cli_only_flags_are_refused_by_the_api(function: Any) -> None:
    for name in ("plot", "html", "quiet", "dry_run"):
        if name in inspect.signature(function).parameters:
            continue
        with pytest.raises(TypeError, match=f"unexpected keyword argument '{name}'"):
            function(**{name: True})


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--seed", "-1"], "--seed"), (["--timeout", "inf"], "--timeout"), (["--timeout", "nan"], "--timeout"),
        (["--timeout", "1e308"], "--timeout"), (["--iterations", "99999999999999999999999"], "--iterations"),
        (["--rate", "1e-300"], "--rate"), (["-t", "nan"], "--duration"), (["--path_output", ""], "--path_output"),
        (["--json", ""], "--json"),
    ],
)
def test_numbers_and_paths_are_checked_at_the_edge(args: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    from vampy.cli import main

    with pytest.raises(SystemExit) as info:
        main(["run", "-m", "x.onnx", "-s", "3,8,8", *args])
    err = capsys.readouterr().err
    assert info.value.code == 2 and needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_the_api_names_the_flag_for_a_non_finite_number() -> None:
    from vampy.errors import UsageError

    with pytest.raises(UsageError, match=r"--timeout \(timeout\)=inf"):
        api.run_config(model="m", timeout=float("inf"))
    with pytest.raises(UsageError, match=r"--max_p99_ms \(max_p99_ms\)=nan"):
        api.sweep_config(model="m", max_p99_ms=float("nan"))
