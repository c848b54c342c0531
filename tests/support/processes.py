"""Waiting on other processes by events, never by the clock.

A test that works with a running `vampy` waits for something it can see (a file, a count of
measured requests, a process gone) and acts then. The only time involved is HANG_GUARD_S, an
upper bound that turns a hang into a failure with a message: a working machine, however busy,
never comes near it, so it does not decide any verdict (house rule 8: tests never assert speed).
"""
from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import psutil

HANG_GUARD_S = 240.0
POLL_S = 0.05
MEASURING_CLI = Path(__file__).with_name("measuring_cli.py")
T = TypeVar("T")


def interruptible() -> None:
    """Popen's preexec_fn for a child the test will Ctrl-C: SIGINT back to its default. A shell starts
    background jobs (`make test &`, CI steps, nohup) with SIGINT ignored, every child inherits that, and
    Python then installs no KeyboardInterrupt handler: the child would never see the test's SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(condition: Callable[[], T], what: str, proc: subprocess.Popen[str] | None = None, guard_s: float = HANG_GUARD_S) -> T:
    """Poll `condition` until it returns something true, and return that. Fails when `proc` ends
    first (with its stderr) or, as a hang guard only, after guard_s."""
    deadline = time.monotonic() + guard_s
    while True:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            _, err = proc.communicate()
            raise AssertionError(f"waiting for {what}: the process ended first (exit {proc.returncode}):\n{err[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"waiting for {what}: nothing after {guard_s:.0f} s, a hang (the bound is no speed limit)")
        time.sleep(POLL_S)


def spawned_workers(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    """The multiprocessing workers (spawn start method) among proc's descendants."""
    found = []
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            pass  # gone meanwhile
    return found


def all_workers(proc: subprocess.Popen[str], n: int) -> list[psutil.Process]:
    """proc's n spawned workers once all n exist, else [] (for wait_for)."""
    found = spawned_workers(proc)
    return found if len(found) == n else []


def running(workers: list[psutil.Process]) -> list[int]:
    """The pids among `workers` still alive (a zombie, waiting for its reaper, is not)."""
    alive = []
    for w in workers:
        try:
            if w.is_running() and w.status() != psutil.STATUS_ZOMBIE:
                alive.append(w.pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def assert_no_orphans(workers: list[psutil.Process]) -> None:
    """Called once the parent has exited: its workers are gone too. The parent joins (or kills) them
    before it exits, so they are normally gone already; the wait covers a dying one's last moments,
    and an orphan (a worker nobody stopped, still serving a -t 600 run) outlasts any such wait."""
    wait_for(lambda: not running(workers), "the run's workers to be gone after it ended (orphans?)", guard_s=60.0)


def measured(counter: Path) -> int:
    """The measured requests that measuring_cli.py last wrote to `counter` (0 before it wrote any)."""
    try:
        return int(counter.read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


@contextlib.contextmanager
def measuring_run(folder: Path, args: list[str], processes: int,
                  at_least: int) -> Iterator[tuple[subprocess.Popen[str], list[psutil.Process]]]:
    """`vampy run ARGS` (through measuring_cli.py) started: yields (the process, its workers) once its
    `processes` workers exist and the run has measured `at_least` requests in all. At the end, whatever
    is still running, workers first, is killed by its pid."""
    counter = folder / "measured.txt"
    proc = subprocess.Popen([sys.executable, str(MEASURING_CLI), str(counter), "run", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    workers: list[psutil.Process] = []
    try:
        workers = wait_for(lambda: all_workers(proc, processes), f"{processes} worker(s) to start", proc)
        wait_for(lambda: measured(counter) >= at_least, f"{at_least} measured requests", proc)
        yield proc, workers
    finally:
        for w in workers:
            if w.pid in running([w]):
                with contextlib.suppress(psutil.Error):
                    w.kill()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
