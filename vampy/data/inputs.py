"""What each model input receives: the plan is checked once in the parent, then used by workers.

An image input gets a uint8 image (synthetic in performance mode, from an npz in datalist mode)
that goes through the vdsp preprocessing to a float CHW tensor; a 3-plane image feeding a
1-channel model keeps its first plane (vamp's Y-channel models are fed Y three times, and the
vendor never documents the reduction: the first plane is the one that is Y in every case).
A token input (BERT_EMBEDDING_OP, or any integer model input) passes through unchanged, cast to the
model's integer type; a 1-D token array (sequence2npz.py's) is one sample of the model's [1, L].

Synthetic token inputs are values the model accepts (docs/datalists.md): ids within the table the
input indexes (its embedding's rows, read from the graph: models/graph.gather_index_bounds), ones for
masks, zeros for type ids; a run with a datalist warms up on the data's first sample instead.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from vampy.data.preprocess import preprocess, synthetic_image
from vampy.errors import InputError, ModelError, UsageError

if TYPE_CHECKING:
    from vampy.config.run import InputOptions
    from vampy.data.npz_inputs import NpzMatch
    from vampy.formats.vdsp import PreprocessSpec
    from vampy.models.info import ModelInfo, TensorInfo

TOKEN_VALUE_RANGE = (0, 100)  # synthetic token ids where the graph names no table: small, valid for most vocabularies


@dataclass(frozen=True)
class InputSlot:
    name: str
    kind: Literal["image", "tokens"]
    raw_shape: tuple[int, ...]  # one sample as the user gives it: C,H,W for images (-s)
    dtype: str  # numpy dtype name the model input takes
    keep_channels: int | None  # image planes kept for the model (first N), None: all
    model_shape: tuple[int | None, ...]
    raw_dtype: str = "uint8"  # what the device receives: uint8 images, or tokens of --dtype
    token_range: tuple[int, int] = TOKEN_VALUE_RANGE  # synthetic token values: [low, high)
    synthetic: str = "random uint8 image"  # what a synthetic sample holds, in words, for the report


@dataclass(frozen=True)
class InputPlan:
    slots: tuple[InputSlot, ...]
    spec: PreprocessSpec | None
    output_hw: tuple[int, int] | None  # None: as the vdsp file says (or the image's own size)
    batch_size: int
    fixed_batch: bool  # the model's batch dimension is fixed, so partial batches are padded
    native_size: bool = False  # --native_size: every image is processed at its own size
    npz_keys: tuple[str, ...] = ()  # datalist mode: the npz member per input (data/npz_inputs.py); (): input_N
    # Datalist mode: the data's first sample (one raw array per input): the warm-up feeds it, not synthetic data.
    warmup_raws: tuple[np.ndarray, ...] | None = field(default=None, compare=False, repr=False)
    notes: tuple[str, ...] = ()  # what the report should say about the plan (extra -s shapes, npz members)

    @property
    def datalist_keys(self) -> tuple[str, ...]:
        """The npz member each input is read from."""
        return self.npz_keys or tuple(f"input_{k}" for k in range(len(self.slots)))

    def to_dict(self) -> dict[str, object]:
        return {
            "inputs": [
                {"name": s.name, "kind": s.kind, "raw_shape": list(s.raw_shape), "raw_dtype": s.raw_dtype, "dtype": s.dtype,
                 "model_shape": [d if d is not None else "dynamic" for d in s.model_shape], "fed": self._fed(k, s)}
                for k, s in enumerate(self.slots)
            ],
            "output_hw": list(self.output_hw) if self.output_hw else None,
            "batch_size": self.batch_size,
        }


    def _fed(self, k: int, slot: InputSlot) -> str:
        if self.warmup_raws is None:
            return f"synthetic: {slot.synthetic}"
        return f"npz member '{self.datalist_keys[k]}'"


def build_plan(cfg: InputOptions, spec: PreprocessSpec | None, info: ModelInfo,
               index_bounds: Mapping[str, int] | None = None, data: NpzMatch | None = None) -> InputPlan:
    """Decide every input's shape and check it against the model before any process starts.

    index_bounds: the ids each input may take (its table's rows), for synthetic tokens the model accepts;
    data: datalist mode's npz members and first sample, which the warm-up feeds and the check uses."""
    shapes = _raw_shapes(cfg, spec, info)
    notes = []
    if cfg.shapes is not None and len(shapes) > len(info.inputs):
        notes.append(_extra_shapes_note(shapes, info))
        shapes = shapes[: len(info.inputs)]
    if len(shapes) != len(info.inputs):
        raise UsageError(
            f"-s gives {len(shapes)} input shape(s) but the model has {len(info.inputs)} input(s) "
            f"({', '.join(t.name for t in info.inputs)}); give one shape per input, e.g. [[1,512],[1,512]]"
        )
    output_hw = _output_hw(cfg, spec, info)
    bounds = index_bounds or {}
    slots = tuple(_slot(t, shape, spec, cfg, bounds.get(t.name)) for t, shape in zip(info.inputs, shapes))
    fixed_batch = any(t.shape and t.shape[0] is not None for t in info.inputs)
    if data is not None:
        notes += data.notes([t.name for t in info.inputs])
    plan = InputPlan(slots, spec, output_hw, cfg.batch_size, fixed_batch, cfg.native_size,
                     data.keys if data else (), data.first if data else None, tuple(notes))
    _check_against_model(plan, cfg.seed, data.path if data else None)
    return plan


def _extra_shapes_note(shapes: Sequence[tuple[int, ...]], info: ModelInfo) -> str:
    """The vendor's compiled BERT takes six inputs, so its READMEs give six shapes to a three-input ONNX BERT."""
    n = len(info.inputs)
    used = ", ".join(f"[{','.join(map(str, shape))}] -> {t.name}" for shape, t in zip(shapes, info.inputs))
    return (f"-s gives {len(shapes)} shapes and the model has {n} inputs: the first {n} are used, by position ({used}); "
            f"the other {len(shapes) - n} are ignored")


def synthetic_tokens_note(plan: InputPlan) -> str | None:
    """One line on what synthetic token inputs hold; None when the plan feeds data or has no token input."""
    tokens = [s for s in plan.slots if s.kind == "tokens"]
    if plan.warmup_raws is not None or not tokens:
        return None
    return "synthetic token inputs: " + "; ".join(f"{s.name} {s.synthetic}" for s in tokens)


def _raw_shapes(cfg: InputOptions, spec: PreprocessSpec | None, info: ModelInfo) -> tuple[tuple[int, ...], ...]:
    if cfg.shapes is not None:
        return cfg.shapes
    if spec is not None and not spec.passthrough and spec.nominal_input_chw is not None and len(info.inputs) == 1:
        return (spec.nominal_input_chw,)
    shapes = []
    for t in info.inputs:
        per_sample = t.shape[1:] if len(t.shape) > 1 else t.shape
        if any(d is None for d in per_sample):
            raise UsageError(f"model input '{t.name}' has dynamic dimensions {_fmt(t.shape)}; "
                             "give the input shape with -s, e.g. -s 3,256,256")
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


def _slot(t: TensorInfo, raw_shape: tuple[int, ...], spec: PreprocessSpec | None, cfg: InputOptions, bound: int | None) -> InputSlot:
    dtype = np.dtype(t.dtype)
    is_tokens = (spec is not None and spec.passthrough) or dtype.kind in "iub"
    if is_tokens:
        token_dtype = np.dtype(cfg.token_dtype or dtype.name)
        token_range, synthetic = _token_values(t.name, bound, token_dtype)
        return InputSlot(t.name, "tokens", raw_shape, dtype.name, None, t.shape, token_dtype.name, token_range, synthetic)
    if spec is not None and len(t.shape) != 4:
        raise ModelError(f"model input '{t.name}' has shape {_fmt(t.shape)}; inputs preprocessed by a vdsp file must be N,C,H,W")
    model_c = t.shape[1] if len(t.shape) > 1 else None
    keep = model_c if len(t.shape) == 4 and model_c is not None and len(raw_shape) == 3 and model_c < raw_shape[0] else None
    return InputSlot(t.name, "image", raw_shape, dtype.name, keep, t.shape)


def _token_values(name: str, bound: int | None, raw_dtype: np.dtype) -> tuple[tuple[int, int], str]:
    """Synthetic values an input takes, [low, high), and their description. By name, as BERT's exporters
    name them: a mask is all ones (every token attended), type ids are all zeros (one segment); other
    ids are random within the table the input indexes, so no Gather reads out of bounds."""
    lowered = name.lower()
    constant = None
    if "mask" in lowered:
        constant, what = 1, "ones (a mask)"
    elif "segment" in lowered or ("type" in lowered and "id" in lowered):
        constant, what = 0, "zeros (type ids)"
    if constant is not None:
        value = constant if bound is None or constant < bound else 0
        return (value, value + 1), what
    high = bound if bound is not None else TOKEN_VALUE_RANGE[1]
    if raw_dtype.kind in "iu":
        high = min(high, int(np.iinfo(raw_dtype).max) + 1)  # --dtype int8 tokens cannot hold a 30522-row vocabulary
    elif raw_dtype.kind == "b":
        high = 2
    table = " (the rows of the table it indexes)" if bound is not None else ""
    return (0, high), f"random ids in [0, {high}){table}"


def synthetic_raw(slot: InputSlot, spec: PreprocessSpec | None, rng: np.random.Generator) -> np.ndarray:
    """One random sample as the device would receive it (uint8 image or integer tokens)."""
    if slot.kind == "tokens":
        low, high = slot.token_range
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


def _check_against_model(plan: InputPlan, seed: int, data_path: str | None = None) -> None:
    """The tensors a first request would feed (the data's first sample, else synthetic) fit the model's shapes."""
    sample = _first_tensors(plan, seed, data_path)
    for slot, tensor in zip(plan.slots, sample):
        fed = (plan.batch_size, *tensor.shape)
        if len(fed) != len(slot.model_shape) or any(m is not None and m != f for m, f in zip(slot.model_shape, fed)):
            hint = " (-b must match the model's fixed batch size)" if slot.model_shape and slot.model_shape[0] not in (None, fed[0]) else ""
            source = f"from {data_path}" if data_path is not None and plan.warmup_raws is not None else f"from -s {_fmt(slot.raw_shape)}"
            raise ModelError(
                f"input '{slot.name}': vampy would feed {_fmt(fed)} ({source}, -b {plan.batch_size}"
                f"{' and the vdsp preprocessing' if plan.spec is not None and slot.kind == 'image' else ''}) "
                f"but the model takes {_fmt(slot.model_shape)}{hint}"
            )


def _first_tensors(plan: InputPlan, seed: int, data_path: str | None) -> list[np.ndarray]:
    if plan.warmup_raws is None:
        rng = np.random.default_rng(seed)
        return [sample_tensor(slot, plan, synthetic_raw(slot, plan.spec, rng)) for slot in plan.slots]
    try:
        return [sample_tensor(slot, plan, raw) for slot, raw in zip(plan.slots, plan.warmup_raws)]
    except Exception as exc:  # noqa: BLE001 - preprocessing an untrusted array fails in several types; one line here
        raise InputError(f"{data_path} (the first readable datalist entry, which the warm-up feeds): {exc}") from None


def _fmt(shape: Sequence[int | None]) -> str:
    return "(" + ",".join("?" if d is None else str(d) for d in shape) + ")"
