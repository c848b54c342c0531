"""vamp command-line quirks, translated once into plain flags before typer sees them.

vamp users type `-i 1 p 1 -b 1` (no dash on p), `-mdeploy/x/mod` (glued), give the vdsp file
with no flag at all, split `[3, 256, 256]` over several words, and leave a stray word after
`--datalist FILE`. Each translation that changes meaning is reported as a note, so nothing is
silently guessed.
"""
from __future__ import annotations

import re

from vampy.config.flags import RUN_FLAGS

# Commands whose command line follows vamp's conventions.
VAMP_COMMANDS = frozenset({"run"})

# Flags of `vampy run` that take a value (the walker must skip their values), and the short ones vamp
# users glue to their value (`-mdeploy/x/mod`): both from the one declaration of run's flags.
VALUE_FLAGS = frozenset(s for f in RUN_FLAGS if f.takes_value for s in f.spellings)
GLUED_SHORT = tuple(s for f in RUN_FLAGS if f.takes_value for s in f.spellings if len(s) == 2)
_INT = re.compile(r"^\d+$")
_VDSP_SUFFIXES = (".json", ".yaml", ".yml")


def normalize(args: list[str]) -> tuple[list[str], list[str]]:
    """Return (args typer can parse, notes for the user). Only vamp-style commands are touched."""
    if args and (args[0] == "-m" or args[0].startswith("-m") and len(args[0]) > 2):
        args = ["run", *args]  # `vampy -m MODEL ...` as vamp users type it
    if not args or args[0] not in VAMP_COMMANDS:
        return list(args), []
    rest, notes = _normalize_run(args[1:])
    return [args[0], *rest], notes


def _join_brackets(args: list[str]) -> list[str]:
    """`-s [3, 256, 256]` split by the shell into three words becomes one word again."""
    out: list[str] = []
    depth = 0
    for word in args:
        if depth > 0:
            out[-1] += word
        else:
            out.append(word)
        depth += word.count("[") - word.count("]")
    return out


def _unglue(word: str) -> list[str]:
    for flag in GLUED_SHORT:
        if word.startswith(flag) and len(word) > len(flag) and not word.startswith("--"):
            return [flag, word[len(flag):]]
    return [word]


def _normalize_run(args: list[str]) -> tuple[list[str], list[str]]:
    words: list[str] = []
    for word in _join_brackets(args):
        words.extend(_unglue(word))
    out: list[str] = []
    notes: list[str] = []
    i = 0
    previous_flag = ""
    while i < len(words):
        word = words[i]
        if word in VALUE_FLAGS and i + 1 < len(words):
            out += [word, words[i + 1]]
            previous_flag = word
            i += 2
            continue
        if word == "p" and i + 1 < len(words) and _INT.match(words[i + 1]):
            out += ["-p", words[i + 1]]  # vamp's most common form: `-i 1 p 1 -b 1`
            previous_flag = "-p"
            i += 2
            continue
        if not word.startswith("-") and word.lower().endswith(_VDSP_SUFFIXES) and "--vdsp_params" not in out:
            out += ["--vdsp_params", word]
            notes.append(f"'{word}' given without a flag: read as --vdsp_params {word}")
            previous_flag = "--vdsp_params"
            i += 1
            continue
        if not word.startswith("-") and previous_flag == "--datalist" and out[-2] == "--datalist":
            notes.append(f"ignored the stray word '{word}' after --datalist {out[-1]} (vamp ignores it too)")
            i += 1
            continue
        out.append(word)
        previous_flag = ""
        i += 1
    return out, notes
