"""Scoring conventions as data: one frozen record per convention variant of the vendor's SR zoo.

A `Scoring` names every step the family's scoring script takes (../shared/SR-ZOO.md section 3):
which output key, how its values become pixels (affine, clip, scale, round/truncate/float), the
colour order compared, how the ground truth is read (OpenCV or Pillow), how its name follows from
the datalist line, how it is brought to the output's size (OpenCV / Pillow and the interpolation,
or a centre crop), the metric (vendor PSNR/SSIM or scikit-image's), shave and aggregation.
`PRESETS` maps each family script to its record; `load_scoring` reads the same fields from a
user's YAML/JSON file (parsed as data: yaml.safe_load; unknown keys are errors naming the key).

`legacy_y` presets (drrn, vdsr: convention E) are scored by today's Y-channel `vampy eval`
(vampy/quality/evaluate.py), which is exactly that convention plus the bicubic columns.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from vampy.errors import InputError, UsageError, short_repr
from vampy.formats.files import check_nesting, read_input_bytes, shown_key

LAYOUTS = ("rgb", "y", "y_chroma")  # 1x3xHxW RGB; [0][0] Y; [0][0] Y recombined with --lr_dir chroma
AFFINE_ORDERS = ("mul_add", "add_mul")  # x*gain + offset, or (x + offset)*gain (fsrnet's (x+1)*127.5)
QUANTISE = ("float", "round", "trunc")
COLOURS = ("bgr", "rgb")
GT_READERS = ("cv2", "pil")
NAME_RULES = ("strip_scale", "same")
GT_RESIZES = ("none", "cv2_linear", "cv2_area", "pil_nearest", "pil_bicubic", "crop_pil_bilinear")
GT_SIZES = ("output", "input_shape")
METRICS = ("vendor", "skimage")


@dataclass(frozen=True)
class Scoring:
    """How one family's script turns an output npz and a ground-truth file into PSNR/SSIM."""

    name: str = "custom"
    convention: str = "custom"  # A1..F as in SR-ZOO.md
    families: str = ""
    output_key: str = "output_0"
    layout: str = "rgb"
    affine_order: str = "mul_add"
    gain: float = 255.0
    offset: float = 0.0
    clip: tuple[float, float] | None = (0.0, 255.0)  # applied after the affine
    scale: float = 1.0  # applied after the clip
    quantise: str = "float"
    colour: str = "bgr"  # order of the compared arrays (the output is RGB; bgr flips it)
    gt_reader: str = "cv2"
    gt_suffix: str = ".png"
    name_rule: str = "strip_scale"
    vendor_suffix: str | None = "x2"  # what the vendor's replace() removes; only for messages
    gt_resize: str = "cv2_linear"
    gt_size: str = "output"
    crop_px: int = 178  # crop_pil_bilinear: the centre crop before the resize
    metric: str = "vendor"
    shave_px: int = 0
    ssim: bool = True
    default_input_hw: tuple[int, int] | None = None
    legacy_y: bool = False
    deviations: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for key, value, allowed in (
            ("layout", self.layout, LAYOUTS), ("affine_order", self.affine_order, AFFINE_ORDERS),
            ("quantise", self.quantise, QUANTISE), ("colour", self.colour, COLOURS), ("gt_reader", self.gt_reader, GT_READERS),
            ("name_rule", self.name_rule, NAME_RULES), ("gt_resize", self.gt_resize, GT_RESIZES),
            ("gt_size", self.gt_size, GT_SIZES), ("metric", self.metric, METRICS),
        ):
            if value not in allowed:
                raise UsageError(f"scoring {self.name}: {key} {value!r} is not one of {', '.join(allowed)}")
        if not 0 <= self.shave_px <= 1000 or not 1 <= self.crop_px <= 100_000:
            raise UsageError(f"scoring {self.name}: shave_px must be 0..1000 and crop_px 1..100000")
        if not self.output_key.strip() or not self.gt_suffix.startswith("."):
            raise UsageError(f"scoring {self.name}: output_key must be non-empty and gt_suffix start with '.' (e.g. '.png')")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_SCALE_SUFFIX_FIX = (
    "GT name: the scale suffix the file has is stripped (x2, x3, x4, _scale_N; LRBI->HR) instead of the script's hard-coded "
    "replace('{}', ''), which crashes on other scales (SR-ZOO Q3)"
)
_HW_FIX = "GT resize: dsize (W, H) instead of the script's (H, W), so non-square outputs work; identical on square outputs (SR-ZOO Q4)"
_UNCHANGED_FIX = (
    "GT read with IMREAD_COLOR instead of IMREAD_UNCHANGED, so alpha or grey PNGs work; identical on 3-channel PNGs (SR-ZOO Q4)"
)
_REALSR_MEAN = "mean SSIM is the mean over images; the script prints the last image's SSIM (SR-ZOO Q7)"
_SKIMAGE = "scikit-image SSIM with channel_axis=-1 (the script's multichannel=True, removed from scikit-image; SR-ZOO Q9)"

_A_FLOAT: dict[str, Any] = dict(gain=255.0, clip=(0.0, 255.0), scale=1.0, quantise="float")
_A_RAW: dict[str, Any] = dict(gain=1.0, clip=None, scale=1.0, quantise="float")
_B_ROUND: dict[str, Any] = dict(gain=1.0, clip=(0.0, 1.0), scale=255.0, quantise="round")
_C_TANH: dict[str, Any] = dict(gain=0.5, offset=0.5, clip=(0.0, 1.0), scale=255.0, quantise="trunc")


def _a(name: str, convention: str, families: str, base: dict[str, Any], resize: str) -> Scoring:
    return Scoring(
        name=name, convention=convention, families=families, gt_resize=resize, deviations=(_SCALE_SUFFIX_FIX.format("x2"),), **base
    )


def _b1(name: str, families: str, suffix: str) -> Scoring:
    return Scoring(
        name=name, convention="B1", families=families, vendor_suffix=suffix, gt_resize="cv2_area",
        deviations=(_SCALE_SUFFIX_FIX.format(suffix), _HW_FIX, _UNCHANGED_FIX), **_B_ROUND,
    )


def _face(name: str, convention: str, families: str, suffix: str, resize: str, **extra: Any) -> Scoring:
    return Scoring(
        name=name, convention=convention, families=families, gt_suffix=suffix, name_rule="same", vendor_suffix=None,
        gt_resize=resize, **{**_C_TANH, **extra},
    )


def _y(name: str) -> Scoring:
    return Scoring(
        name=name, convention="E", families=name, layout="y", gt_suffix=".bmp", vendor_suffix="_scale_4", gt_resize="cv2_linear",
        gt_size="input_shape", shave_px=4, ssim=False, default_input_hw=(256, 256), legacy_y=True,
        deviations=("GT name: any _scale_N suffix is stripped and any image suffix found (the script: replace('_scale_4', '') + '.bmp'); "
                    "SSIM and the bicubic input's scores are reported too (the script has none)",),
        **_B_ROUND,
    )


_ALL = (
    _a("bicubic_plusplus", "A1", "bicubic_plusplus (official-vamp_eval)", _A_FLOAT, "cv2_linear"),
    _b1("bsrgan", "bsrgan (vamp_eval)", "x4"),
    _a("dipnet-basicsr", "A1", "dipnet (basicsr-vamp_eval)", _A_FLOAT, "cv2_linear"),
    _y("drrn"),
    Scoring(
        name="ecbsr", convention="F", families="ecbsr (official-vamp_eval, plain_2x)", layout="y_chroma", gain=1.0, clip=None,
        quantise="trunc", gt_resize="cv2_linear", default_input_hw=(1080, 1920),
        deviations=(_SCALE_SUFFIX_FIX.format("x2"), "chroma arithmetic in float32, as SRCNN-pytorch's test.py (inferred)"),
    ),
    _a("ecbsr-basicsr", "A1", "ecbsr (basicsr-vamp_eval, rgb_2x)", _A_FLOAT, "cv2_linear"),
    _a("edsr", "A4", "edsr (official-vamp_eval: x2, baseline_x2, baseline_x4)", _A_RAW, "cv2_area"),
    _a("edsr-basicsr", "A2", "edsr (basicsr-vamp_eval, Mx2)", _A_FLOAT, "cv2_area"),
    _b1("esrgan", "esrgan (vamp_eval, x4)", "x4"),
    Scoring(
        name="fsrnet", convention="D", families="fsrnet (vamp_eval)", output_key="output_2", affine_order="add_mul", gain=127.5,
        offset=1.0, clip=(0.0, 255.0), quantise="trunc", colour="rgb", gt_reader="pil", gt_suffix=".jpg", name_rule="same",
        vendor_suffix=None, gt_resize="pil_bicubic", gt_size="input_shape", metric="skimage", default_input_hw=(128, 128),
        deviations=(_SKIMAGE,),
    ),
    _face("gpen", "C1", "gpen (vamp_eval)", ".jpg", "cv2_linear"),
    Scoring(name="lesrcnn", convention="B2", families="lesrcnn (vamp_eval)", gt_resize="cv2_area",
            deviations=(_SCALE_SUFFIX_FIX.format("x2"),), **_B_ROUND),
    _a("msrn", "A3", "msrn (vamp_eval)", _A_RAW, "cv2_linear"),
    _a("ncnet", "A3", "ncnet (vamp_eval)", _A_RAW, "cv2_linear"),
    _face("pfsrnet", "C3", "pfsrnet (vamp_eval)", ".jpg", "crop_pil_bilinear", gt_reader="pil"),
    _a("rcan", "A3", "rcan (official-vamp_eval; rcan, rcan2)", _A_RAW, "cv2_linear"),
    _a("rcan-basicsr", "A2", "rcan (basicsr-vamp_eval)", _A_FLOAT, "cv2_area"),
    _b1("real_esrgan", "real_esrgan (vamp_eval; --model_type x4plus: x4, else x2)", "x4"),
    Scoring(
        name="realsr", convention="B3", families="realsr (vamp_eval; DF2K, DF2K_JPEG, DPED)", gt_reader="pil", name_rule="same",
        vendor_suffix=None, gt_resize="none", deviations=(_REALSR_MEAN,), **_B_ROUND,
    ),
    _face(
        "sparnet", "C2", "sparnet (vamp_eval)", ".png", "pil_nearest", gt_reader="pil", gt_size="input_shape", default_input_hw=(128, 128)
    ),
    _y("vdsr"),
)
PRESETS: dict[str, Scoring] = {s.name: s for s in _ALL}


def get_preset(name: str, others: Sequence[str] = ()) -> Scoring:
    """The SR preset `name`; the message for an unknown one lists these and `others` (the other
    families' presets, which families.py defines on top of this module)."""
    if name not in PRESETS:
        names = [*PRESETS, *others]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise UsageError(f"--preset {name!r}: no such preset; {hint}choose one of {', '.join(names)} (vampy eval --list_presets)")
    return PRESETS[name]


def real_esrgan_preset(model_type: str | None) -> Scoring:
    """real_esrgan's script picks its suffix from --model_type: x4plus -> 'x4', anything else -> 'x2'."""
    suffix = "x4" if model_type in (None, "x4plus") else "x2"
    base = PRESETS["real_esrgan"]
    return replace(base, vendor_suffix=suffix, deviations=(_SCALE_SUFFIX_FIX.format(suffix), *base.deviations[1:]))


_FIELD_NAMES = {f.name for f in fields(Scoring)}
_TUPLES = {"clip", "default_input_hw", "deviations"}
MAX_SCORING_BYTES = 64 * 1024


def load_scoring(path: str | Path, base: Scoring | None = None) -> Scoring:
    """A Scoring from a YAML or JSON mapping of Scoring's fields (over `base`, else the defaults).

    Data only: yaml.safe_load (JSON is YAML), a mapping of known keys to plain values.
    """
    where = f"--scoring {path}"
    try:
        # Bounded: a device is refused, a FIFO with no writer reads as empty, a silent one ends (formats/files.py).
        data = read_input_bytes(Path(path), "a scoring file is a few lines", MAX_SCORING_BYTES)
    except OSError as exc:
        raise InputError(f"{where}: cannot read ({exc.strerror or exc})") from None
    except InputError as exc:
        raise InputError(f"--scoring {exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: not UTF-8 text (byte {exc.start}); a scoring file is YAML or JSON") from None
    check_nesting(text, where, needs="a scoring file is one flat mapping")
    try:
        loaded = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - PyYAML's safe constructors raise plain ValueError, AttributeError, ...; none runs user code
        raise InputError(f"{where}: not valid YAML/JSON ({_problem(exc)})") from None
    if not isinstance(loaded, dict):
        raise InputError(f"{where}: expected a mapping of scoring fields (e.g. 'gt_resize: cv2_area'), got {type(loaded).__name__}")
    if loaded and not any(key in _FIELD_NAMES or _misspelt_field(key) for key in loaded):
        # Some other file (a secret, another tool's config): say so without echoing its keys.
        raise InputError(f"{where}: none of its keys is a scoring field; not a scoring file (fields: {', '.join(sorted(_FIELD_NAMES))})")
    values: dict[str, Any] = {}
    for key, value in loaded.items():
        if key not in _FIELD_NAMES:
            raise InputError(f"{where}: unknown key {shown_key(key)!r}; known: {', '.join(sorted(_FIELD_NAMES))}")
        values[key] = _plain(where, key, value)
    try:
        return replace(base or Scoring(), **values)
    except TypeError as exc:
        raise InputError(f"{where}: {exc}") from None


def _misspelt_field(key: object) -> bool:
    """A key close to a field's name: a scoring file with a typo, whose key the message may name."""
    return isinstance(key, str) and bool(difflib.get_close_matches(key, _FIELD_NAMES, n=1, cutoff=0.75))


def _problem(exc: Exception) -> str:
    """A parser's complaint without the file's text: JSON's message and position, YAML's problem and line."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}" if mark is not None else ""
    return f"{getattr(exc, 'problem', None) or type(exc).__name__}{where}"


def _plain(where: str, key: str, value: Any) -> Any:
    """The value with lists as tuples, checked against the default's type."""
    default = getattr(Scoring(), key)
    if key in _TUPLES:
        if value is None:
            return None
        if not isinstance(value, list):
            raise InputError(f"{where}: {key} must be a list, got {short_repr(value, 60)}")
        return tuple(value)
    kind = type(default) if default is not None else str
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if value is not None and not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise InputError(f"{where}: {key} must be a {kind.__name__}, got {short_repr(value, 60)}")
    return value


def preset_rows() -> list[tuple[str, ...]]:
    """The --list_presets table: name, convention, decode, ground truth, metric, families."""
    rows: list[tuple[str, ...]] = []
    for s in PRESETS.values():
        affine = f"x*{s.gain:g}+{s.offset:g}" if s.affine_order == "mul_add" else f"(x+{s.offset:g})*{s.gain:g}"
        clip = "no clip" if s.clip is None else f"clip {s.clip[0]:g}..{s.clip[1]:g}"
        decode = f"{s.output_key} {s.layout}: {affine}, {clip}, x{s.scale:g}, {s.quantise}, {s.colour}"
        gt = f"{s.gt_reader} {s.name_rule}{s.gt_suffix}, {s.gt_resize} to {s.gt_size}"
        metric = f"{s.metric}{'' if s.ssim else ' PSNR only'}{f', shave {s.shave_px}' if s.shave_px else ''}"
        rows.append((s.name, s.convention, decode, gt, metric, s.families))
    return rows
