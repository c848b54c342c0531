"""The vendor compiler YAML's key vocabulary (VAMP-FORMATS.md section 6), as data.

Three kinds of key: keys vampy translates (they change the compiled model), keys that only mean
something to the vendor's device (accepted, listed as ignored with the reason below), and
everything else (an error naming the key path, or a warning when it looks like a misspelt known
key, as the zoo's one `alibrate_mode`). docs/compile.md lists the same tables.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable

# Close enough to a known key to be its misspelling (difflib ratio); `alibrate_mode` scores 0.96.
TYPO_CUTOFF = 0.85

TOP_KEYS = ("name", "frontend", "backend", "dataset", "workspace", "graph")
FRONTEND_KEYS = ("type", "checkpoint", "shape", "dtype")
BACKEND_KEYS = ("dtype", "quantize")
QUANTIZE_KEYS = (
    "calibrate_mode", "quantize_per_channel", "calibrate_range", "skip_layers", "skip_conv_layers",
    "skip_matmul_layers", "exclude_layers", "ops_usingfp", "quantize_operators", "activation_type", "num_bins",
)
DATASET_KEYS = ("path", "sampler", "process_ops")
SAMPLER_KEYS = ("suffix", "get_data_num", "pattern")
WORKSPACE_KEYS = ("path", "work_dir")
GRAPH_KEYS = ("extra_ops",)
EXTRA_OP_KEYS = ("type", "params")
FRONTEND_DTYPES = ("fp32", "fp16", "int64", "int32")
FRONTEND_TYPES = ("onnx", "pytorch", "huggingface", "keras", "tensorflow", "darknet", "caffe", "paddle", "mxnet", "tflite")

# Device-only keys: the whole value is accepted and ignored, with the reason reported.
VENDOR_KEYS: dict[str, str] = {
    "compile": "the vendor's device compiler options (older files put them at the top level)",
    "frontend.quantize": "the vendor frontend's LLM weight format; vampy quantizes in backend.quantize",
    "frontend.model_kwargs": "arguments of the vendor's model builder (Hugging Face frontends)",
    "backend.type": "the vendor's backend (tvm_vacc); vampy always builds for ONNX Runtime",
    "backend.merge_params": "how the vendor packs weights into device memory",
    "backend.remove_params": "how the vendor packs weights into device memory",
    "backend.dynamic_params": "the device's dynamic-shape tables; ONNX Runtime takes dynamic shapes as they are",
    "backend.quantize.overflow_adaptive": "the device's requantization overflow handling",
    "backend.quantize.calibrate_chunk_by": "how the vendor's calibrator splits its work in memory; vampy streams one sample at a time",
    "backend.quantize.quantize_operators": (
        "the operators the vendor quantizes, in its own (TVM) names; vampy quantizes ONNX Runtime's default set "
        "(the `!` entries, operators kept in float, are applied)"
    ),
    "backend.quantize.dense_special_config": "the device's tiling of large dense (fully connected) layers",
    "backend.quantize.stream_mode": "the device's streams during calibration",
    "backend.quantize.nearest_interpol_on_dsp": "runs nearest-neighbour resizes on the device's DSP",
    "backend.quantize.quantize_dsp_ops": "operators run on the device's DSP",
    "backend.quantize.quantize_mode": "the device quantizer's scheme; ONNX Runtime's QDQ is fixed",
    "backend.quantize.requant_suppress": "the device's requantization",
    "backend.quantize.weight_scale": "the device's weight-scale rounding",
    "dataset.type": "the vendor's data loader (tvm); vampy reads the images in dataset.path itself",
    "workspace.enable_ir": "writes the device compiler's intermediate representation",
    "workspace.save_log": "writes the device compiler's log; vampy's notes and warnings go to mod.json",
    "workspace.env_recheck": "re-checks the vendor's toolchain installation",
}
# Sections whose every sub-key is device-only (about 30 in the zoo, more in new vendor releases).
VENDOR_SECTIONS: dict[str, str] = {"backend.compile": "a device compiler option (memory layout, clusters, transport, ...)"}
# Reasons for the backend.compile keys the zoo uses most (any other sub-key gets the section's reason).
COMPILE_KEY_REASONS: dict[str, str] = {
    "cluster_mode": "how the device splits work over its clusters",
    "data_transport_mode": "how the device moves data between host and device",
    "data_type": "the device's data type for its tensors",
    "opt_level": "the device compiler's optimisation level",
    "enable_float_to_half": "the device's fp32 -> fp16 lowering",
    "output_layout": "device memory layout of the outputs",
    "stream_mode": "the device's streams",
    "mem_inplace": "device memory reuse",
}

# The vendor's (TVM Relay) operator names in ops_usingfp and quantize_operators -> ONNX operator types.
# A name not listed is taken as an ONNX type (matched case-insensitively).
TVM_OP_TYPES: dict[str, tuple[str, ...]] = {
    "concatenate": ("Concat",), "add": ("Add",), "multiply": ("Mul",), "subtract": ("Sub",), "divide": ("Div",),
    "nn.conv2d": ("Conv",), "nn.conv2d_transpose": ("ConvTranspose",), "nn.dense": ("Gemm", "MatMul"),
    "nn.batch_matmul": ("MatMul",), "nn.matmul": ("MatMul",), "nn.vacc_matmul": ("MatMul",), "nn.softmax": ("Softmax",),
    "nn.relu": ("Relu",), "sigmoid": ("Sigmoid",), "tanh": ("Tanh",), "erf": ("Erf",), "nn.max_pool2d": ("MaxPool",),
    "nn.avg_pool2d": ("AveragePool",), "nn.global_avg_pool2d": ("GlobalAveragePool",), "nn.layer_norm": ("LayerNormalization",),
    "image.resize2d": ("Resize",), "mean": ("ReduceMean",), "transpose": ("Transpose",), "reshape": ("Reshape",),
}

# Extra ops vampy does not apply: the compiled model keeps its raw heads.
NOT_APPLIED_EXTRA_OPS = ("insert_odma",)
# decoded and NMS-ed by compiler/nms_ops.py; the other *_nms are noted as not applied
APPLIED_NMS_OPS = ("yolov5_nms", "yolov8_nms", "yolov11_nms", "yolox_nms")
NMS_PARAM_KEYS = ("num_classes", "nms_threshold", "confidence_threshold", "anchor", "strides")
NMS_SUFFIX = "_nms"


def vendor_reason(path: str) -> str | None:
    """Why a key is ignored, or None when it is not a device-only key."""
    if path in VENDOR_KEYS:
        return VENDOR_KEYS[path]
    if path in VENDOR_SECTIONS:
        return VENDOR_SECTIONS[path]
    section, _, leaf = path.rpartition(".")
    if section in VENDOR_SECTIONS:
        return COMPILE_KEY_REASONS.get(leaf, VENDOR_SECTIONS[section])
    return None


def likely_key(key: str, known: Iterable[str]) -> str | None:
    """The known key `key` is probably a misspelling of (difflib), or None."""
    matches = difflib.get_close_matches(key, list(known), n=1, cutoff=TYPO_CUTOFF)
    return matches[0] if matches and matches[0] != key else None


def onnx_op_types(name: str) -> tuple[str, ...]:
    """The ONNX operator types a vendor operator name stands for (the name itself when not a TVM name)."""
    return TVM_OP_TYPES.get(name.strip().lower(), (name.strip(),))


def is_not_applied_extra_op(kind: str) -> bool:
    return kind.endswith(NMS_SUFFIX) or kind in NOT_APPLIED_EXTRA_OPS


__all__ = [
    "APPLIED_NMS_OPS", "NMS_PARAM_KEYS",
    "BACKEND_KEYS", "DATASET_KEYS", "EXTRA_OP_KEYS", "FRONTEND_DTYPES", "FRONTEND_KEYS", "FRONTEND_TYPES", "GRAPH_KEYS",
    "QUANTIZE_KEYS", "SAMPLER_KEYS", "TOP_KEYS", "TVM_OP_TYPES", "VENDOR_KEYS", "VENDOR_SECTIONS", "WORKSPACE_KEYS",
    "is_not_applied_extra_op", "likely_key", "onnx_op_types", "vendor_reason",
]
