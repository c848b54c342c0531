"""`vampy compile`: the vendor YAML as vampy's own types (formats/compile_yaml.py builds them)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vampy.config.checks import check_choice
from vampy.errors import UsageError

PRECISIONS = ("fp32", "fp16", "int8")
CALIBRATE_MODES = ("kl_divergence", "max", "percentile", "mse")
ACTIVATION_TYPES = ("uint8", "int8")
# The values of vampy.formats.vdsp.Norm: x, x/255, (x-mean)/std, (x/255-mean)/std, x/127.5-1.
NORMALIZATIONS = ("none", "unit", "mean_std", "unit_mean_std", "symmetric")
# ORT's own default percentile (99.999 %), written as vamc writes calibrate_range.
DEFAULT_CALIBRATE_RANGE = 0.99999


@dataclass(frozen=True)
class DecodeImageOp:
    """Read the file as HxWx3 uint8 RGB (the vendor's pipeline decodes to RGB)."""


@dataclass(frozen=True)
class CvtColorOp:
    code: str  # an OpenCV constant name, e.g. COLOR_RGB2YCrCb; resolved where cv2 is imported


@dataclass(frozen=True)
class ResizeOp:
    size_wh: tuple[int, int]
    interpolation: str = "bilinear"  # nearest | bilinear | bicubic | area | lanczos
    backend: str = "cv2"  # cv2 | pillow
    adaptive_side: str | None = None  # short | long: keep the aspect ratio, that side becomes size


@dataclass(frozen=True)
class ChannelSplitOp:
    index: int


@dataclass(frozen=True)
class NormalizeOp:
    norm: str  # one of NORMALIZATIONS
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None


@dataclass(frozen=True)
class ToTensorOp:
    """HWC -> CHW float32 (the batch dimension is added by the compiler to fit the model)."""


@dataclass(frozen=True)
class CenterCropOp:
    size_wh: tuple[int, int]


@dataclass(frozen=True)
class PadOp:
    pad_to_square: bool = False
    size_wh: tuple[int, int] | None = None
    value: float = 0.0  # padding goes to the bottom and right, as mmcv's Pad does


ProcessOp = DecodeImageOp | CvtColorOp | ResizeOp | ChannelSplitOp | NormalizeOp | ToTensorOp | CenterCropOp | PadOp


@dataclass(frozen=True)
class QuantizeConfig:
    """backend.quantize; calibrate_range is a fraction (vamc's 0.99999), used by percentile only."""

    calibrate_mode: str = "kl_divergence"
    per_channel: bool = False
    calibrate_range: float = DEFAULT_CALIBRATE_RANGE
    skip_layers: tuple[str | int, ...] = ()  # node names, or indices among the Conv nodes
    activation_type: str = "uint8"
    num_bins: int | None = None  # histogram bins; None keeps ONNX Runtime's default per mode
    float_nodes: tuple[FloatNodes, ...] = ()  # skip_conv_layers, skip_matmul_layers, exclude_layers, ops_usingfp


@dataclass(frozen=True)
class FloatNodes:
    """Nodes kept in float, from one YAML list (`key`): node names, or indices among the `among` nodes
    (conv: Conv/ConvTranspose, matmul: MatMul/Gemm, all: every node; negative counts from the end);
    among "op_type": the items are operator types (ops_usingfp)."""

    key: str
    among: str
    items: tuple[str | int, ...]


@dataclass(frozen=True)
class ExtraOp:
    """graph.extra_ops that vampy applies: a Softmax over `axis` appended to every graph output."""

    kind: str  # "softmax"
    axis: int = -1


@dataclass(frozen=True)
class DatasetConfig:
    """dataset: files in `path` (not recursive) matching `pattern` and `suffixes`, sorted by name."""

    path: str
    suffixes: tuple[str, ...] = ()  # lower case, no dot; () means any image suffix
    pattern: str = "*"
    max_samples: int | None = None  # sampler.get_data_num
    ops: tuple[ProcessOp, ...] = ()


@dataclass(frozen=True)
class CompileConfig:
    """`vampy compile`: one vamc-style YAML plus the CLI's flags, validated once."""

    source: str  # the YAML file, for messages
    name: str
    checkpoint: str
    precision: str
    workspace: str
    input_shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    frontend_dtype: str = "fp32"
    quantize: QuantizeConfig = field(default_factory=QuantizeConfig)
    dataset: DatasetConfig | None = None
    vdsp_params: str | None = None
    calib_datalist: str | None = None
    ignored_keys: tuple[str, ...] = ()  # vendor-only keys, accepted and reported
    unused_keys: tuple[str, ...] = ()  # valid keys this precision does not use
    ignored_reasons: tuple[str, ...] = ()  # one per ignored_keys entry: why it means nothing on ONNX Runtime
    extra_ops: tuple[ExtraOp, ...] = ()  # graph.extra_ops applied to the model
    warnings: tuple[str, ...] = ()  # from reading the file (a key that looks misspelt)
    notes: tuple[str, ...] = ()  # from reading the file (extra ops not applied)

    def __post_init__(self) -> None:
        check_choice("backend.dtype", self.precision, PRECISIONS)
        check_choice("backend.quantize.calibrate_mode", self.quantize.calibrate_mode, CALIBRATE_MODES)
        if self.precision == "int8" and self.dataset is None and self.calib_datalist is None:
            raise UsageError(f"{self.source}: backend.dtype int8 needs calibration data: add a dataset: section or pass --calib_datalist")

    @property
    def output_dir(self) -> Path:
        return Path(self.workspace) / self.name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
