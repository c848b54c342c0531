"""How the engine reports progress without printing: the CLI hands in an object with this shape."""
from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, description: str, total: int | None) -> None:
        """A new phase begins; total is the number of steps, or None when unknown."""

    def advance(self, steps: int = 1) -> None:
        """Steps finished since the last call."""

    def finish(self) -> None:
        """The current phase is over."""


class NullProgress:
    """Progress that goes nowhere: the default for library callers and tests."""

    def start(self, description: str, total: int | None) -> None:
        return None

    def advance(self, steps: int = 1) -> None:
        return None

    def finish(self) -> None:
        return None
