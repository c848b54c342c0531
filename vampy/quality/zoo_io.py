"""What the detection, text and NLP presets share: reading their label files and outputs, and the [zoo-eval] extra.

Label files and outputs are untrusted data: text is read as UTF-8 with a size bound, and an output's
`output_0` header is checked against a value bound before numpy allocates it (vampy/formats/npz.py).
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import numpy as np

from vampy.errors import InputError, UsageError
from vampy.formats.files import read_text_file
from vampy.formats.npz import load_input_npz, read_npz_headers

OUTPUT_KEY = "output_0"
EXTRA = "zoo-eval"
# Installed: the extra; in a clone: `make setup-zoo-eval` (the extra, and pysodmetrics without its dependency caps).
INSTALL_EXTRA = f"pip install 'vampy[{EXTRA}]' (in a clone of vampy: make setup-zoo-eval)"
MAX_LABEL_BYTES = 1 << 30  # a label file larger than this is not a label file (People's Daily's is ~3 MB)
_VAMP_NAME = re.compile(r"output_(\d+)\.npz")


def need(module: str, preset: str) -> Any:
    """The [zoo-eval] extra's module, or a one-line refusal naming the extra (exit 2, as a missing openvino is refused)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise UsageError(f"preset {preset} needs the {package} package: {INSTALL_EXTRA}") from None


def read_text(path: Path, flag: str) -> str:
    """A label file as UTF-8 text (a BOM dropped), or an InputError naming the flag and the file."""
    return read_text_file(Path(path), MAX_LABEL_BYTES, f"{flag} {path}", "label")


def sorted_outputs(folder: Path, flag: str) -> list[Path]:
    """The *.npz files of an outputs folder in sorted order (the scripts' sorted(os.listdir), npz files only)."""
    if not Path(folder).is_dir():
        raise InputError(f"{flag} {folder}: no such folder of output npz files")
    outputs = sorted(p for p in Path(folder).glob("*.npz") if p.is_file())
    if not outputs:
        raise InputError(f"{flag} {folder}: no *.npz outputs in it")
    return outputs


def numbered_outputs(folder: Path, flag: str) -> dict[int, Path]:
    """vamp's output_NNNNNN.npz files by their number (the scripts that build the name from an index)."""
    numbered = {int(m.group(1)): p for p in sorted_outputs(folder, flag) if (m := _VAMP_NAME.fullmatch(p.name))}
    if not numbered:
        raise InputError(f"{flag} {folder}: no output_NNNNNN.npz files (vamp's output names) in it")
    return numbered


def output_0(path: Path, max_values: int) -> np.ndarray:
    """output_0 of one output npz, refused from its header when it declares more than max_values values."""

    def check(member: str, header: object) -> str | None:
        values = getattr(header, "values", 0)
        return f"{member} declares {values} values; more than this preset reads ({max_values})" if (
            member == OUTPUT_KEY and values > max_values) else None

    arrays = load_input_npz(path, keys=(OUTPUT_KEY,), check=check)
    if OUTPUT_KEY not in arrays:
        raise InputError(f"{path}: no key {OUTPUT_KEY} (keys: {', '.join(sorted(read_npz_headers(path)))})")
    value = arrays[OUTPUT_KEY]
    if not np.issubdtype(value.dtype, np.number) or np.issubdtype(value.dtype, np.complexfloating):
        raise InputError(f"{path}: {OUTPUT_KEY} has dtype {value.dtype}; expected real scores")
    return value
