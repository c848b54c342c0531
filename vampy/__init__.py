"""vampy: profile and validate deployed neural-network models on ONNX Runtime or OpenVINO, vamp-compatible.

The Python API (docs/api.md): `vampy.run`, `vampy.evaluate`, `vampy.compile`, `vampy.sweep` and
`vampy.infer` take the CLI's flags as keyword arguments and return the reports `--json` writes.

Heavy modules (onnxruntime, OpenCV) are imported by the modules that need them, never here (the
API functions import them when called), so that `vampy --help` and `vampy run --dry_run` stay fast.
"""
from __future__ import annotations

__version__ = "0.1.0"

from vampy.api import compile, evaluate, infer, run, sweep
from vampy.errors import VampyError

__all__ = ["VampyError", "__version__", "compile", "evaluate", "infer", "run", "sweep"]
