"""One frozen, validated config object per command, built once from CLI > file > default.

Each section below belongs to one command; the CLI builds the object and the engine only reads it.
"""
from __future__ import annotations

# --- run (RunConfig) ---

# --- image2npz / eval (Image2NpzConfig, EvalConfig) ---

# --- compile (CompileConfig) ---
