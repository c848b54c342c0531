"""vampy: profile and validate deployed neural-network models on ONNX Runtime or OpenVINO, vamp-compatible.

The Python API (docs/api.md): `vampy.run`, `vampy.evaluate`, `vampy.compile`, `vampy.sweep` and
`vampy.infer` take the CLI's flags as keyword arguments and return the reports `--json` writes.

Heavy modules (onnxruntime, OpenCV) are imported by the modules that need them, never here (the
API functions import them when called), so that `vampy --help` and `vampy run --dry_run` stay fast.
The API itself loads on first use (PEP 562 `__getattr__`): importing `vampy.__main__` for the console
script then loads nothing else, so a Ctrl-C while the CLI's modules load is caught there (exit 130).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from vampy.api import compile, evaluate, infer, run, sweep
    from vampy.errors import VampyError

__all__ = ["VampyError", "__version__", "compile", "evaluate", "infer", "run", "sweep"]
_API = ("compile", "evaluate", "infer", "run", "sweep")


def __getattr__(name: str) -> Any:
    if name in _API:
        from vampy import api

        return getattr(api, name)
    if name == "VampyError":
        from vampy.errors import VampyError

        return VampyError
    raise AttributeError(f"module 'vampy' has no attribute {name!r}")
