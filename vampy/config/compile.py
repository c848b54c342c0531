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
    """Read the file as HxWx3 uint8 RGB (the vendor's pipeline decodes to RGB), or HxW gray
    (`cv2_flags: 0`, OpenCV's IMREAD_GRAYSCALE); with OpenCV or with Pillow (`backend: pillow`)."""

    backend: str = "cv2"  # cv2 | pillow
    grayscale: bool = False


@dataclass(frozen=True)
class CvtColorOp:
    code: str  # an OpenCV constant name, e.g. COLOR_RGB2YCrCb; resolved where cv2 is imported


@dataclass(frozen=True)
class ResizeOp:
    """vamc writes `size: [height, width]`; kept here as (width, height), as cv2.resize takes it.
    A 0 is vamc's -1: that side follows the aspect ratio. adaptive_side long: fit inside the box
    (the vdsp letterbox's scaled size); short: the short side becomes the size (cover the box)."""

    size_wh: tuple[int, int]
    interpolation: str = "bilinear"  # nearest | bilinear | bicubic | area | lanczos
    backend: str = "cv2"  # cv2 | pillow
    adaptive_side: str | None = None  # short | long: keep the aspect ratio


@dataclass(frozen=True)
class ChannelSplitOp:
    index: int


@dataclass(frozen=True)
class NormalizeOp:
    norm: str  # one of NORMALIZATIONS
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    raw_by_choice: bool = False  # `div255: false` alone: the model takes 0..255 (not left to the device)


@dataclass(frozen=True)
class ToTensorOp:
    """HWC -> CHW float32 (the batch dimension is added by the compiler to fit the model)."""


@dataclass(frozen=True)
class CenterCropOp:
    size_wh: tuple[int, int]
    backend: str = "cv2"  # cv2: corner at floor((W - w) / 2); pillow: round(), as torchvision's CenterCrop on PIL images


@dataclass(frozen=True)
class PadOp:
    """Centred padding, as the vdsp letterbox pads (so Resize adaptive_side long + pad_to_square is
    that letterbox); value None: the vdsp letterbox's pad value (--vdsp_params, else 114)."""

    pad_to_square: bool = False
    size_wh: tuple[int, int] | None = None
    value: float | tuple[float, ...] | None = None  # a tuple: one per channel (a vdsp file's Padding)


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


NMS_MAX_BOXES = 300  # N of the padded NMS outputs: yolov5's max_det, the most boxes any image keeps


@dataclass(frozen=True)
class NmsParams:
    """graph.extra_ops `<family>_nms` params: the head decode and ONNX NonMaxSuppression (compiler/nms_ops.py)."""

    num_classes: int | None = None  # None: read from the head's channels
    nms_threshold: float = 0.45
    confidence_threshold: float = 0.25
    anchors: tuple[float, ...] = ()  # w, h pairs in input pixels, the strides' anchors in order
    strides: tuple[int, ...] = (8, 16, 32)
    max_boxes: int = NMS_MAX_BOXES


@dataclass(frozen=True)
class ExtraOp:
    """graph.extra_ops that vampy applies: a Softmax over `axis` appended to every graph output, or
    (kinds `yolov5_nms`, `yolov8_nms`, `yolov11_nms`, `yolox_nms`) the detector's decode + NMS into the
    padded three-output layout (compiler/nms_ops.py)."""

    kind: str  # "softmax" | "yolov5_nms" | "yolov8_nms" | "yolov11_nms" | "yolox_nms"
    axis: int = -1
    nms: NmsParams | None = None


DATASET_KINDS = ("images", "npz")


@dataclass(frozen=True)
class DatasetConfig:
    """dataset: files in `path` (not recursive) matching `pattern` and `suffixes`, sorted by name.
    kind images: each file through `ops`; npz (token and point-cloud models: no process_ops, or
    suffix npz): each file holds the model's inputs, by input name or input_0..N by position.
    path None: a section with process_ops only (fp16 files): nothing to calibrate on."""

    path: str | None
    suffixes: tuple[str, ...] = ()  # lower case, no dot; () means any image suffix
    pattern: str = "*"
    max_samples: int | None = None  # sampler.get_data_num
    ops: tuple[ProcessOp, ...] = ()
    kind: str = "images"


@dataclass(frozen=True)
class CompileConfig:
    """`vampy compile`: one vamc-style YAML plus the CLI's flags, validated once."""

    source: str  # the YAML file, for messages
    name: str
    checkpoint: str
    precision: str
    workspace: str
    input_shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    # frontend.shape `x: [[min dims], [max dims]]`: a dynamic input; the dims that differ stay dynamic
    input_shape_ranges: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = ()
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
        has_data = self.calib_datalist is not None or (self.dataset is not None and self.dataset.path is not None)
        if self.precision == "int8" and not has_data:
            raise UsageError(f"{self.source}: backend.dtype int8 needs calibration data: add a dataset: section or pass --calib_datalist")

    @property
    def output_dir(self) -> Path:
        return Path(self.workspace) / self.name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
