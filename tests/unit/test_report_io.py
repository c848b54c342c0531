from __future__ import annotations

from pathlib import Path

import pytest

from vampy.errors import OutputError
from vampy.results.schema import read_json, write_json, write_text


def test_write_text_is_atomic_and_names_the_flag(tmp_path: Path) -> None:
    target = tmp_path / "t.csv"
    write_text(target, "a,b\n", "--csv")
    assert target.read_text() == "a,b\n" and not list(tmp_path.glob(".*.tmp"))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match=r"^--csv .*file/t\.csv: cannot write"):
        write_text(blocker / "t.csv", "x", "--csv")  # the parent is a file: still one OutputError line
    with pytest.raises(OutputError, match=r"^cannot write .*r\.json"):
        write_json(blocker / "r.json", {})


def test_json_round_trip(tmp_path: Path) -> None:
    write_json(tmp_path / "r.json", {"schema_version": 1, "kind": "run", "x": [1, 2]})
    assert read_json(tmp_path / "r.json", "run")["x"] == [1, 2]


def test_read_json_names_the_path_for_a_folder_and_an_empty_file(tmp_path: Path) -> None:
    from vampy.errors import InputError

    with pytest.raises(InputError, match=r"Is a directory: '?" + str(tmp_path).replace("/", r"\/")):
        read_json(tmp_path)
    empty = tmp_path / "empty.json"
    empty.write_text("\n")
    with pytest.raises(InputError, match="is empty"):
        read_json(empty)
