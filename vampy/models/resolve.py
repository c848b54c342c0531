"""`-m` -> the model file (a file, a vamp prefix, or a folder), its sidecar JSON, its sha256."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from vampy.errors import InputError
from vampy.formats.files import parse_json, read_bounded

MODEL_SUFFIX = ".onnx"



DEFAULT_MODEL_NAME = "mod.onnx"



# vamp's compiled model is `PREFIX.so/.json/.params`; a user pasting one of them means PREFIX.
VENDOR_SUFFIXES = (".so", ".params")



# The sidecar is descriptive only; a bigger file is not ours (e.g. a vendor graph JSON).
MAX_SIDECAR_BYTES = 1 << 20



def resolve_model(arg: str) -> Path:
    """`-m` value -> the .onnx file: a file, a vamp prefix (`dir/mod`), or a folder holding one."""
    if not arg.strip():
        raise InputError("-m: empty model path; give a .onnx file, a prefix DIR/mod, or a folder holding mod.onnx")
    given = Path(arg).expanduser()
    tried = _candidates(given)
    for candidate in tried:
        if candidate.is_file():
            return candidate
    raise InputError(
        f"-m {arg}: no ONNX model found; tried {', '.join(str(p) for p in tried)} "
        "(give a .onnx file, a prefix DIR/mod for DIR/mod.onnx, or a folder holding mod.onnx)"
    )



def _candidates(given: Path) -> list[Path]:
    if given.is_dir():
        return _folder_candidates(given)
    if given.suffix.lower() == MODEL_SUFFIX:
        return [given]
    if given.suffix.lower() in VENDOR_SUFFIXES:
        return [given.with_suffix(MODEL_SUFFIX)]
    if given.is_file():
        # Some other runtime format (e.g. .ort): let ONNX Runtime judge it when it opens.
        return [given]
    return [given.with_name(given.name + MODEL_SUFFIX)]



def _folder_candidates(folder: Path) -> list[Path]:
    preferred = folder / DEFAULT_MODEL_NAME
    if preferred.is_file():
        return [preferred]
    found = sorted(p for p in folder.glob("*" + MODEL_SUFFIX) if p.is_file())
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise InputError(f"-m {folder}: folder holds {len(found)} .onnx files ({names}) and no {DEFAULT_MODEL_NAME}; name one")
    return [preferred, *found] if found else [preferred, folder / ("*" + MODEL_SUFFIX)]



def read_sidecar(model_path: Path) -> dict[str, Any] | None:
    """The JSON object beside the model (same stem + .json), or None when absent or not ours.

    The sidecar is informative, never required: an unreadable, oversized or non-object file is
    ignored rather than failing a run (vamp's own compiled `mod.json` is a different format).
    """
    sidecar = model_path.with_suffix(".json")
    try:
        if not sidecar.is_file():
            return None
        # Bounded and nesting-checked: a file swapped for a pipe or grown since is_file() is still refused.
        parsed = parse_json(read_bounded(sidecar, MAX_SIDECAR_BYTES, "ignored"), str(sidecar), "a sidecar nests a handful")
    except (OSError, InputError):
        return None
    return parsed if isinstance(parsed, dict) else None



def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks (models and weights can be large)."""
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
