"""What the HTML report is built from: the good reports and the one-line reasons for the bad."""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Source:
    """One good report: the file it came from (None: handed in by a command) and its dict."""

    path: Path | None
    data: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.data["kind"])

    @property
    def label(self) -> str:
        return str(self.path) if self.path is not None else f"this {self.kind}"


@dataclass(frozen=True)
class Loaded:
    sources: list[Source] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)  # one line per file: what is wrong and the fix


def data_uri(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(payload).decode("ascii")
