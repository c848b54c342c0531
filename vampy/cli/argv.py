"""vamp command-line quirks, translated once into plain flags (placeholder; filled in by run)."""
from __future__ import annotations


def normalize(args: list[str]) -> tuple[list[str], list[str]]:
    return args, []
