"""One frozen, validated config per command, built once from CLI > file > default.

`run.py` composes `vampy run`'s config from one option object per concept; `flags.py` declares
every command's flags once (name, type, default, help, vendor spellings), and the CLI, the Python
API and vamp's argv table are generated from it. The other commands' configs sit beside them.
"""
from __future__ import annotations

from vampy.config.checks import DEFAULT_GT_PATTERN, DEFAULT_SHAVE_PX, IMAGE2NPZ_MODES, MAX_DIM, YCBCR_METHODS
from vampy.config.compile import (
    ACTIVATION_TYPES,
    CALIBRATE_MODES,
    DEFAULT_CALIBRATE_RANGE,
    NORMALIZATIONS,
    PRECISIONS,
    CenterCropOp,
    ChannelSplitOp,
    CompileConfig,
    CvtColorOp,
    DatasetConfig,
    DecodeImageOp,
    ExtraOp,
    FloatNodes,
    NormalizeOp,
    PadOp,
    ProcessOp,
    QuantizeConfig,
    ResizeOp,
    ToTensorOp,
)
from vampy.config.infer import MAX_INFER_BATCH, InferConfig
from vampy.config.quality import DEFAULT_EVAL_INPUT_HW, EvalConfig, Image2NpzConfig
from vampy.config.run import (
    DEFAULT_ITERATIONS,
    DEFAULT_PERCENTILES,
    TOKEN_DTYPES,
    DatalistOptions,
    EngineChoice,
    InputOptions,
    LoadOptions,
    OutputOptions,
    RunConfig,
    device_of,
    parse_percentiles,
    parse_shapes,
)

__all__ = [
    "ACTIVATION_TYPES", "CALIBRATE_MODES", "DEFAULT_CALIBRATE_RANGE", "DEFAULT_EVAL_INPUT_HW", "DEFAULT_GT_PATTERN",
    "DEFAULT_ITERATIONS", "DEFAULT_PERCENTILES", "DEFAULT_SHAVE_PX", "IMAGE2NPZ_MODES", "MAX_DIM", "MAX_INFER_BATCH",
    "NORMALIZATIONS", "PRECISIONS", "TOKEN_DTYPES", "YCBCR_METHODS", "CenterCropOp", "ChannelSplitOp", "CompileConfig",
    "CvtColorOp", "DatalistOptions", "DatasetConfig", "DecodeImageOp", "EngineChoice", "EvalConfig", "ExtraOp", "FloatNodes",
    "Image2NpzConfig", "InferConfig", "InputOptions", "LoadOptions", "NormalizeOp", "OutputOptions", "PadOp", "ProcessOp",
    "QuantizeConfig", "ResizeOp", "RunConfig", "ToTensorOp", "device_of", "parse_percentiles", "parse_shapes",
]
