"""ONNX Runtime profiler traces (Chrome trace JSON) -> time per operator type (pure)."""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vampy.errors import InputError

KERNEL_SUFFIX = "_kernel_time"  # ORT names each node's kernel event NODE_kernel_time


@dataclass(frozen=True)
class OpTime:
    op_type: str
    total_us: float
    calls: int
    share: float  # of all kernel time in the traces

    def to_dict(self) -> dict[str, Any]:
        return {"op_type": self.op_type, "total_us": self.total_us, "calls": self.calls, "share": self.share}


def read_trace(path: str | Path) -> list[dict[str, Any]]:
    try:
        events = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable ONNX Runtime profile ({exc})") from None
    if not isinstance(events, list):
        raise InputError(f"{path}: not an ONNX Runtime profile (expected a JSON list of trace events)")
    return [e for e in events if isinstance(e, dict)]


def op_times(events: list[dict[str, Any]]) -> list[OpTime]:
    """Kernel time per operator type, largest first. Counts node kernels only (not fences,
    session setup or the run's own envelope), so the shares add up to 1."""
    total_us: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    for event in events:
        args = event.get("args")
        if event.get("cat") != "Node" or not str(event.get("name", "")).endswith(KERNEL_SUFFIX) or not isinstance(args, dict):
            continue
        op = str(args.get("op_name", "?"))
        total_us[op] += float(event.get("dur", 0))
        calls[op] += int(args.get("calls", 1))  # an OpenVINO trace sums its requests per node
    grand = sum(total_us.values())
    ranked = sorted(total_us, key=lambda op: -total_us[op])
    return [OpTime(op, total_us[op], calls[op], total_us[op] / grand if grand else 0.0) for op in ranked]


def summarize_profiles(files: list[str]) -> dict[str, Any]:
    events = [e for f in files for e in read_trace(f)]
    return {"files": files, "top_ops": [t.to_dict() for t in op_times(events)]}
