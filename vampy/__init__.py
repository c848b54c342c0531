"""vampy: profile and validate deployed neural-network models on ONNX Runtime, vamp-compatible.

Heavy modules (onnxruntime, OpenCV) are imported by the modules that need them, never here, so
that `vampy --help` and `vampy run --dry_run` stay fast.
"""
from __future__ import annotations

__version__ = "0.1.0"

from vampy.errors import VampyError

__all__ = ["VampyError", "__version__"]
