"""psutil sampling of the worker processes' CPU and memory while a run goes."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class ResourceSummary:
    cpu_percent_of_machine: float  # mean over the samples; 100 = every logical core busy
    cpu_percent_peak: float
    rss_peak_bytes: int  # sum over workers, at the sample where it was largest
    rss_mean_bytes: float
    samples: int
    logical_cores: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "cpu_percent_of_machine": self.cpu_percent_of_machine,
            "cpu_percent_peak": self.cpu_percent_peak,
            "rss_peak_mb": self.rss_peak_bytes / 2**20,
            "rss_mean_mb": self.rss_mean_bytes / 2**20,
            "samples": self.samples,
            "logical_cores": self.logical_cores,
        }


class ResourceMonitor:
    """Samples every `interval_s` on a daemon thread between start() and stop()."""

    def __init__(self, pids: list[int], interval_s: float = 0.25) -> None:
        self._procs = [p for p in (_process(pid) for pid in pids) if p is not None]
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._cpu: list[float] = []
        self._rss: list[int] = []
        self._cores = psutil.cpu_count(logical=True) or 1

    def start(self) -> None:
        for p in self._procs:
            _safe(lambda p=p: p.cpu_percent(None))  # the first call only sets psutil's baseline
        self._thread.start()

    def stop(self) -> ResourceSummary:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self.sample()  # the last part of the window, while the workers are still there (a short run may have no other)
        return self.summary()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.sample()

    def sample(self) -> None:
        """One reading of every worker still there; none when all have exited (a zero would read as idle)."""
        cpu = 0.0
        rss = 0
        readable = 0
        for p in self._procs:
            memory = _safe(lambda p=p: p.memory_info().rss)
            if memory is None:
                continue
            readable += 1
            cpu += _safe(lambda p=p: p.cpu_percent(None)) or 0.0
            rss += int(memory)
        if readable:
            self._cpu.append(cpu / self._cores)
            self._rss.append(rss)

    def summary(self) -> ResourceSummary:
        if not self._cpu:
            return ResourceSummary(0.0, 0.0, 0, 0.0, 0, self._cores)
        return ResourceSummary(
            cpu_percent_of_machine=sum(self._cpu) / len(self._cpu),
            cpu_percent_peak=max(self._cpu),
            rss_peak_bytes=max(self._rss),
            rss_mean_bytes=sum(self._rss) / len(self._rss),
            samples=len(self._cpu),
            logical_cores=self._cores,
        )


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _safe(read: object) -> float | int | None:
    """A worker may exit between samples; its reading is then simply missing."""
    try:
        return read()  # type: ignore[operator]
    except psutil.Error:
        return None
