"""What each model input receives: the plan is checked once in the parent, then used by workers.

An image input gets a uint8 image (synthetic in performance mode, from an npz in datalist mode)
that goes through the vdsp preprocessing to a float CHW tensor; a 3-plane image feeding a
1-channel model keeps its first plane (vamp's Y-channel models are fed Y three times, and the
vendor never documents the reduction: the first plane is the one that is Y in every case).
A token input (BERT_EMBEDDING_OP, or any integer model input) passes through unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np

from vampy.errors import InputError, ModelError, UsageError
from vampy.data.preprocess import preprocess, synthetic_image

if TYPE_CHECKING:
    from vampy.config.run import InputOptions
    from vampy.models.info import ModelInfo, TensorInfo
    from vampy.formats.vdsp import PreprocessSpec

TOKEN_VALUE_RANGE = (0, 100)  # synthetic token ids: small, valid for any vocabulary


@dataclass(frozen=True)
class InputSlot:
    name: str
    kind: Literal["image", "tokens"]
    raw_shape: tuple[int, ...]  # one sample as the user gives it: C,H,W for images (-s)
    dtype: str  # numpy dtype name the model input takes
    keep_channels: int | None  # image planes kept for the model (first N), None: all
    model_shape: tuple[int | None, ...]
    raw_dtype: str = "uint8"  # what the device receives: uint8 images, or tokens of --dtype


@dataclass(frozen=True)
class InputPlan:
    slots: tuple[InputSlot, ...]
    spec: PreprocessSpec | None
    output_hw: tuple[int, int] | None  # None: as the vdsp file says (or the image's own size)
    batch_size: int
    fixed_batch: bool  # the model's batch dimension is fixed, so partial batches are padded
    native_size: bool = False  # --native_size: every image is processed at its own size

    def to_dict(self) -> dict[str, object]:
        return {
            "inputs": [
                {"name": s.name, "kind": s.kind, "raw_shape": list(s.raw_shape), "raw_dtype": s.raw_dtype, "dtype": s.dtype,
                 "model_shape": [d if d is not None else "dynamic" for d in s.model_shape]}
                for s in self.slots
            ],
            "output_hw": list(self.output_hw) if self.output_hw else None,
            "batch_size": self.batch_size,
        }


def build_plan(cfg: InputOptions, spec: PreprocessSpec | None, info: ModelInfo) -> InputPlan:
    """Decide every input's shape and check it against the model before any process starts."""
    shapes = _raw_shapes(cfg, spec, info)
    if len(shapes) != len(info.inputs):
        raise UsageError(
            f"-s gives {len(shapes)} input shape(s) but the model has {len(info.inputs)} input(s) "
            f"({', '.join(t.name for t in info.inputs)}); give one shape per input, e.g. [[1,512],[1,512]]"
        )
    output_hw = _output_hw(cfg, spec, info)
    slots = tuple(_slot(t, shape, spec, cfg) for t, shape in zip(info.inputs, shapes))
    fixed_batch = any(t.shape and t.shape[0] is not None for t in info.inputs)
    plan = InputPlan(slots, spec, output_hw, cfg.batch_size, fixed_batch, cfg.native_size)
    _check_against_model(plan, cfg.seed)
    return plan


def _raw_shapes(cfg: InputOptions, spec: PreprocessSpec | None, info: ModelInfo) -> tuple[tuple[int, ...], ...]:
    if cfg.shapes is not None:
        return cfg.shapes
    if spec is not None and not spec.passthrough and spec.nominal_input_chw is not None and len(info.inputs) == 1:
        return (spec.nominal_input_chw,)
    shapes = []
    for t in info.inputs:
        per_sample = t.shape[1:] if len(t.shape) > 1 else t.shape
        if any(d is None for d in per_sample):
            raise UsageError(f"model input '{t.name}' has dynamic dimensions {_fmt(t.shape)}; give the input shape with -s, e.g. -s 3,256,256")
        shapes.append(tuple(int(d) for d in per_sample if d is not None))
    return tuple(shapes)


def _output_hw(cfg: InputOptions, spec: PreprocessSpec | None, info: ModelInfo) -> tuple[int, int] | None:
    if cfg.native_size or spec is None or spec.passthrough:
        return None
    if spec.output_hw is not None:
        return spec.output_hw
    image_inputs = [t for t in info.inputs if len(t.shape) == 4]
    if image_inputs and image_inputs[0].shape[2] is not None and image_inputs[0].shape[3] is not None:
        return (int(image_inputs[0].shape[2]), int(image_inputs[0].shape[3]))
    return None


def _slot(t: TensorInfo, raw_shape: tuple[int, ...], spec: PreprocessSpec | None, cfg: InputOptions) -> InputSlot:
    dtype = np.dtype(t.dtype)
    is_tokens = (spec is not None and spec.passthrough) or dtype.kind in "iub"
    if is_tokens:
        token_dtype = cfg.token_dtype or dtype.name
        return InputSlot(t.name, "tokens", raw_shape, dtype.name, None, t.shape, np.dtype(token_dtype).name)
    if spec is not None and len(t.shape) != 4:
        raise ModelError(f"model input '{t.name}' has shape {_fmt(t.shape)}; inputs preprocessed by a vdsp file must be N,C,H,W")
    model_c = t.shape[1] if len(t.shape) > 1 else None
    keep = model_c if len(t.shape) == 4 and model_c is not None and len(raw_shape) == 3 and model_c < raw_shape[0] else None
    return InputSlot(t.name, "image", raw_shape, dtype.name, keep, t.shape)


def synthetic_raw(slot: InputSlot, spec: PreprocessSpec | None, rng: np.random.Generator) -> np.ndarray:
    """One random sample as the device would receive it (uint8 image or integer tokens)."""
    if slot.kind == "tokens":
        low, high = TOKEN_VALUE_RANGE
        return rng.integers(low, high, size=slot.raw_shape).astype(slot.raw_dtype)
    if spec is None:
        return rng.integers(0, 256, size=slot.raw_shape, dtype=np.uint8)
    return synthetic_image(spec, slot.raw_shape, rng)


def sample_tensor(slot: InputSlot, plan: InputPlan, raw: np.ndarray) -> np.ndarray:
    """One sample's model tensor (no batch dimension): preprocessing and plane selection."""
    if slot.kind == "tokens":
        tokens = raw.astype(slot.dtype, copy=False)
        model_rank = len(slot.model_shape)
        # vamp writes token shapes with their leading batch 1 ([1,512]); drop it for stacking.
        return tokens[0] if tokens.ndim == model_rank and tokens.shape[0] == 1 else tokens
    if plan.spec is None:
        tensor = raw.astype(np.float32)
    else:
        tensor = preprocess(plan.spec, raw, image_hw(plan.spec, raw) if plan.native_size else plan.output_hw)
    if slot.keep_channels is not None:
        tensor = tensor[: slot.keep_channels]
    return tensor


def image_hw(spec: PreprocessSpec, raw: np.ndarray) -> tuple[int, int]:
    """An input image's own height and width, whatever its layout."""
    if raw.ndim not in (2, 3):
        raise InputError(f"image of shape {tuple(raw.shape)}: expected (C,H,W), (H,W,C) or NV12 (H*3/2,W)")
    if spec.input_layout == "hwc":
        return int(raw.shape[0]), int(raw.shape[1])
    if spec.input_layout == "nv12":
        return int(raw.shape[0]) * 2 // 3, int(raw.shape[1])
    return int(raw.shape[-2]), int(raw.shape[-1])


def batch_feed(plan: InputPlan, samples: Sequence[Sequence[np.ndarray]]) -> dict[str, np.ndarray]:
    """samples[j][k] is sample j's tensor for input k -> {input name: batched array}."""
    feed: dict[str, np.ndarray] = {}
    for k, slot in enumerate(plan.slots):
        stacked = np.stack([sample[k] for sample in samples])
        feed[slot.name] = stacked.astype(slot.dtype, copy=False)
    return feed


def pad_batch(samples: list[list[np.ndarray]], batch_size: int) -> list[list[np.ndarray]]:
    """Repeat the last sample so a fixed-batch model gets a full batch; callers drop the copies."""
    return samples + [samples[-1]] * (batch_size - len(samples))


def _check_against_model(plan: InputPlan, seed: int) -> None:
    rng = np.random.default_rng(seed)
    sample = [sample_tensor(slot, plan, synthetic_raw(slot, plan.spec, rng)) for slot in plan.slots]
    for slot, tensor in zip(plan.slots, sample):
        fed = (plan.batch_size, *tensor.shape)
        if len(fed) != len(slot.model_shape) or any(m is not None and m != f for m, f in zip(slot.model_shape, fed)):
            hint = " (-b must match the model's fixed batch size)" if slot.model_shape and slot.model_shape[0] not in (None, fed[0]) else ""
            raise ModelError(
                f"input '{slot.name}': vampy would feed {_fmt(fed)} (from -s {_fmt(slot.raw_shape)}, -b {plan.batch_size}"
                f"{' and the vdsp preprocessing' if plan.spec is not None and slot.kind == 'image' else ''}) "
                f"but the model takes {_fmt(slot.model_shape)}{hint}"
            )


def _fmt(shape: Sequence[int | None]) -> str:
    return "(" + ",".join("?" if d is None else str(d) for d in shape) + ")"
