"""--export_times: one row per request with every timestamp, as CSV or JSON (pure)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from vampy.errors import InputError

# compute_start_ns/compute_end_ns: inside the model span on a device (0 on a CPU: no copies to split off)
FIELDS = (
    "worker", "instance", "arrival_ns", "start_ns", "model_start_ns", "model_end_ns", "end_ns", "samples",
    "compute_start_ns", "compute_end_ns",
)


def to_text(columns: dict[str, np.ndarray], path: str | Path) -> str:
    """The file's content for `path`'s extension (.csv or .json); rows ordered by arrival."""
    order = np.argsort(columns["arrival_ns"], kind="stable")
    rows = [[int(columns[f][i]) for f in FIELDS] for i in order]
    if str(path).lower().endswith(".json"):
        return json.dumps({"fields": list(FIELDS), "rows": rows, "unit": "ns, time.perf_counter_ns"}) + "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FIELDS)
    writer.writerows(rows)
    return buffer.getvalue()


def read(path: str | Path) -> dict[str, np.ndarray]:
    """Read an exported file back into columns (for tests and for users' own analysis)."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        if str(path).lower().endswith(".json"):
            data = json.loads(text)
            rows, fields = data["rows"], data["fields"]
        else:
            lines = list(csv.reader(io.StringIO(text)))
            fields, rows = lines[0], lines[1:]
        table = np.array(rows, dtype=np.int64).reshape(len(rows), len(fields))
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise InputError(f"{path}: not a vampy --export_times file ({exc})") from None
    return {name: table[:, k] for k, name in enumerate(fields)}
