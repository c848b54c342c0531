"""Configs built the way a command builds them, on a tiny model made in the test's folder."""
from __future__ import annotations

from pathlib import Path

from tests.models import conv_model
from tests.support.files import vdsp_file
from vampy.config import RunConfig


def perf_config(tmp_path: Path, **overrides: object) -> RunConfig:
    """A performance-mode RunConfig: a dynamic 1-channel conv model, 3x16x16 inputs, 6 iterations,
    1 warm-up request, 1 thread; `overrides` are RunConfig.flat's keywords."""
    model = conv_model(tmp_path / "m" / "mod.onnx", in_ch=1, hw=(16, 16), dynamic=True)
    fields = dict(model=str(model), vdsp_params=str(vdsp_file(tmp_path)), shapes=((3, 16, 16),), iterations=6, warmup_requests=1, threads=1)
    fields.update(overrides)
    return RunConfig.flat(**fields)  # type: ignore[arg-type]
