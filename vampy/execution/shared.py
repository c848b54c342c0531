"""Lock-free signals between the parent and its worker processes, and the workers' tie to the parent.

multiprocessing's Event guards its flag with a lock that a waiting process holds for a moment: a
worker killed by a group SIGTERM at that moment leaves the lock held, and the parent then blocks
for good in Event.set() while stopping (seen: `timeout 15 vampy run --rate ...` alive 11 minutes
later). A SharedFlag is one shared byte with no lock: setting and reading it can never block, and a
wait polls it, so a dead worker can hold nothing the parent needs.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from typing import Any

POLL_S = 0.02  # how soon a waiting worker sees the flag: well under the parent's 0.1 s poll


class SharedFlag:
    """An Event-like flag (set, is_set, wait) over one byte of shared memory, without a lock."""

    def __init__(self, ctx: Any) -> None:
        self._value = ctx.RawValue(ctypes.c_byte, 0)

    def set(self) -> None:
        self._value.value = 1

    def is_set(self) -> bool:
        return bool(self._value.value)

    def wait(self, timeout_s: float | None = None) -> bool:
        """True as soon as the flag is set, False when timeout_s passes first (None: no bound)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not self.is_set():
            left_s = POLL_S if deadline is None else deadline - time.monotonic()
            if left_s <= 0:
                return False
            time.sleep(min(POLL_S, left_s))
        return True


PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_POLL_S = 1.0


def die_with_parent(parent_pid: int) -> None:
    """End this worker when the process that started it dies, even by SIGKILL (which it cannot catch):
    the kernel sends SIGKILL on the parent's death (Linux prctl), and elsewhere a daemon thread
    notices the worker was re-parented. Without it a killed `vampy run` left its workers running."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the request above took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="vampy-parent-watch", daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    os._exit(1)
