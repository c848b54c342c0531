"""SIGTERM handling shared by the long-running commands (run, sweep)."""
from __future__ import annotations

import signal
from typing import Any


def on_sigterm() -> list[bool]:
    """SIGTERM stops the command like Ctrl-C (partial results kept); the returned list becomes
    non-empty when it happened, so the exit code can be 143 rather than 130."""
    from vampy.errors import Terminated

    seen: list[bool] = []

    def handler(signum: int, frame: Any) -> None:
        seen.append(True)
        raise Terminated

    signal.signal(signal.SIGTERM, handler)
    return seen
