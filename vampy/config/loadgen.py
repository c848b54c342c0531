"""`vampy loadgen`'s config: MLPerf LoadGen's scenario and mode, and the run around its system under test."""
from __future__ import annotations

from dataclasses import dataclass

from vampy.engines.base import DEFAULT_ENGINE, check_engine_flags
from vampy.errors import UsageError

SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")
MODES = ("performance", "accuracy")


@dataclass(frozen=True)
class LoadgenConfig:
    model: str
    scenario: str = "SingleStream"
    mode: str = "performance"
    vdsp_params: str | None = None
    shapes: tuple[tuple[int, ...], ...] | None = None
    instances: int = 1
    threads: int | None = None
    samples: int = 64  # QSL size in performance mode (synthetic inputs)
    min_queries: int = 100
    min_duration_s: float = 1.0
    max_duration_s: float = 60.0
    target_qps: float | None = None  # Server (required) and Offline (expected)
    target_latency_ms: float | None = None  # Server latency bound
    samples_per_query: int = 8  # MultiStream
    datalist: str | None = None  # accuracy mode
    path_output: str | None = None  # accuracy mode: vamp-style output_%06d.npz
    log_dir: str = "mlperf_logs"
    seed: int = 0
    engine: str = DEFAULT_ENGINE
    provider: str | None = None
    infer_precision: str | None = None

    def __post_init__(self) -> None:
        check_engine_flags(self.engine, self.provider, self.infer_precision)
        if self.scenario not in SCENARIOS:
            raise UsageError(f"--scenario {self.scenario}: choose one of {', '.join(SCENARIOS)}")
        if self.mode not in MODES:
            raise UsageError(f"--mode {self.mode}: choose performance or accuracy")
        if self.scenario == "Server" and self.target_qps is None:
            raise UsageError("--scenario Server needs --target_qps (the Poisson arrival rate LoadGen issues)")
        if self.mode == "accuracy" and (self.datalist is None or self.path_output is None):
            raise UsageError("--mode accuracy needs --datalist and --path_output: every sample's output is written as output_NNNNNN.npz")
        for flag, value in (("-i", self.instances), ("--samples", self.samples), ("--min_queries", self.min_queries)):
            if value < 1:
                raise UsageError(f"{flag} {value}: must be at least 1")
        if self.min_duration_s < 0 or self.max_duration_s <= 0:
            raise UsageError("--min_duration/--max_duration: give seconds, max above 0")
