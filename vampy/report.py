"""Report dataclasses (RunReport, EvalReport, ...) with a schema_version; JSON in and out."""
from __future__ import annotations

SCHEMA_VERSION = 1

# --- run (RunReport) ---

# --- image2npz / eval (Image2NpzResult, EvalReport) ---

# --- compile (CompileResult) ---
