"""The Executor seam: where a RunJob's work happens.

Every executor honours the same contract, whatever it runs on: it starts the workers, releases
them together after their warm-up, watches them (a dead worker, a hung request past the stop
rule's timeout, Ctrl-C, SIGTERM), stops them, and returns a RawRun holding everything measured,
partial when the run was cut short, with what was lost named. Datalist outputs are written once,
by line index, and stay valid whatever happens to the run. The local spawn pool (pool.py) is the
first; a cluster executor plugs in beside it.
"""
from __future__ import annotations

from typing import Protocol

from vampy.execution.job import RunJob
from vampy.measure.records import RawRun
from vampy.progress import Progress


class Executor(Protocol):
    @property
    def name(self) -> str: ...  # read-only: the executors are frozen dataclasses

    def execute(self, job: RunJob, progress: Progress) -> RawRun: ...


def local_executor() -> Executor:
    """P spawned processes on this machine (execution/pool.py)."""
    from vampy.execution.pool import LocalPool

    return LocalPool()


def ray_executor(address: str) -> Executor:
    """The datalist's shards on the Ray cluster at `address` (execution/ray_executor.py; pip install 'vampy[ray]')."""
    from vampy.execution.ray_executor import RayExecutor

    return RayExecutor(address)


def connect_cluster(address: str) -> None:
    """Attach to the Ray cluster at `address`, bounded in time: an unreachable one is a UsageError naming it."""
    try:
        import ray  # noqa: F401 - only to say clearly when it is missing

        from vampy.execution.ray_executor import connect
    except ImportError:
        from vampy.errors import UsageError

        raise UsageError(f"--ray {address}: Ray is not installed; pip install 'vampy[ray]'") from None
    connect(address)
