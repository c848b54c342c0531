"""What every part of the compiler YAML reader shares: where we are in the file (every error names
the file and the key path; what was ignored, and why), and the generic value checks (one
InputError line each). The messages never echo a file's text beyond short, bounded values.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from vampy.errors import InputError, short_repr
from vampy.formats import compile_vocab as vocab
from vampy.formats.files import shown_key


class _Ctx:
    """Where we are in the file, so every error names the file and the key path; what was ignored, and why."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.ignored: list[str] = []
        self.reasons: list[str] = []
        self.warnings: list[str] = []
        self.notes: list[str] = []

    def error(self, key: str, problem: str) -> InputError:
        return InputError(f"{self.source}: {key}: {problem}")

    def ignore(self, key: str, reason: str) -> None:
        self.ignored.append(key)
        self.reasons.append(reason)


def _section(ctx: _Ctx, obj: object, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The known keys of one mapping; device-only keys are ignored with their reason, a key that
    looks like a misspelt known one is a warning, any other key an error naming its path."""
    where = path or "the top level"
    if not isinstance(obj, Mapping):
        # At the top level only the type: a file that is not a compiler YAML at all must not be echoed.
        got = _kind(obj) if path else ("nothing" if obj is None else f"a {type(obj).__name__}")
        raise ctx.error(where, f"expected a mapping of keys, got {got}")
    if not path and required and not any(key in obj for key in required):
        # Some other file (a secret, a config of another tool): say so without echoing its keys.
        raise ctx.error(where, f"none of the keys {', '.join(required)}; not a compiler YAML")
    out: dict[str, Any] = {}
    for key, value in obj.items():
        full = f"{path}.{_key(key)}" if path else _key(key)
        reason = vocab.vendor_reason(full) if isinstance(key, str) else None
        if key in allowed:
            out[key] = value
        elif reason is not None and full in vocab.VENDOR_SECTIONS and isinstance(value, Mapping) and value:
            for sub in value:  # each device option listed, with its own reason where the zoo's files tell it
                ctx.ignore(f"{full}.{_key(sub)}", vocab.vendor_reason(f"{full}.{_key(sub)}") or reason)
        elif reason is not None:
            ctx.ignore(full, reason)
        elif isinstance(key, str) and (likely := vocab.likely_key(key, allowed)) is not None:
            ctx.warnings.append(f"{ctx.source}: {full}: not a key vampy knows, probably a misspelling of {likely}; ignored "
                                f"(as the vendor's compiler ignores it): write {likely} to set it")
            ctx.ignore(full, f"misspelt {likely}")
        else:
            raise ctx.error(full, f"unknown key (expected one of: {', '.join(allowed)})")
    for key in required:
        if out.get(key) is None:
            raise ctx.error(f"{path}.{key}" if path else key, "missing; it is required")
    return out


def _kind(value: object) -> str:
    # reprlib bounds the work: YAML aliases can make a tiny file a value with a gigabyte repr.
    return "nothing" if value is None else f"{type(value).__name__} {short_repr(value, 60)}"[:80]


def _key(key: object) -> str:
    """A key as written when it looks like a key name; otherwise a placeholder, so a file that is not
    a compiler YAML (`compile /etc/shadow`) never has its text echoed in the error."""
    return shown_key(key)


def _text(ctx: _Ctx, key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ctx.error(key, f"expected a non-empty string, got {_kind(value)}")
    return value.strip()


def _choice(ctx: _Ctx, key: str, value: object, choices: tuple[str, ...]) -> str:
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text not in choices:
        raise ctx.error(key, f"{_kind(value)} is not one of {', '.join(choices)}")
    return text


def _bool(ctx: _Ctx, key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ctx.error(key, f"expected true or false, got {_kind(value)}")
    return value


def _int(ctx: _Ctx, key: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ctx.error(key, f"expected a whole number from {low} to {high}, got {_kind(value)}")
    return value


def _is_finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float range (YAML allows 10**400)
        return False


def _number(ctx: _Ctx, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _is_finite(value):
        raise ctx.error(key, f"expected a number, got {_kind(value)}")
    return float(value)


__all__ = ["_Ctx", "_bool", "_choice", "_int", "_is_finite", "_key", "_kind", "_number", "_section", "_text"]
