"""SIGTERM handling shared by the long-running commands (run, sweep)."""
from __future__ import annotations

import signal
from typing import Any


def on_sigterm() -> list[bool]:
    """SIGTERM stops the command like Ctrl-C (partial results kept); the returned list becomes
    non-empty when it happened, so the exit code can be 143 rather than 130. A second SIGTERM (a
    group signal repeated, `timeout` then CI's cancel) is only counted."""
    from vampy.errors import Terminated

    seen: list[bool] = []

    def handler(signum: int, frame: Any) -> None:
        seen.append(True)
        if len(seen) == 1:  # later ones must not cut short the stop the first one started (the report follows)
            raise Terminated

    signal.signal(signal.SIGTERM, handler)
    return seen
