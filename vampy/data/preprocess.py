"""uint8 image + PreprocessSpec -> float32 (C, H, W) model tensor, with numpy, OpenCV and Pillow.

The pipeline: input layout -> (NV12 -> RGB) -> geometry (crop / resize / letterbox / pad) ->
channel swap -> normalisation. The channel swap commutes with the per-channel resize and crop, so
doing it after the geometry gives the same numbers as the vendor's RESIZE..CVTCOLOR..CROP order;
padding comes before the swap, so ``Padding`` values are in the input's channel order (the op
names put LETTERBOX before CVTCOLOR). NV12 is converted to RGB before any geometry, so for NV12
ops the pad values are RGB.

Internally the image is an (H, W, C) array that may be a transposed view of planar input: no
copy is made until a resize needs contiguous planes or the final float32 tensor is written.
"""
from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image

from vampy.errors import InputError
from vampy.formats.vdsp import (
    Norm,
    OpKind,
    PadEdges,
    PreprocessSpec,
    ResizeMethod,
    ext_output_hw,
)

_CHANNELS = 3
_MAX_UINT8 = 255.0
_HALF_UINT8 = 127.5
HW = tuple[int, int]


def preprocess(spec: PreprocessSpec, image: np.ndarray, output_hw: HW | None = None) -> np.ndarray:
    """One uint8 image in the spec's input layout -> float32 (C, H, W) tensor (no batch dim).

    ``output_hw`` overrides ``spec.output_hw``; when both are None the native size is kept.
    """
    if spec.passthrough:
        raise ValueError(f"{spec.op_type} passes token inputs through; there is no image to preprocess")
    hwc = _as_hwc(spec, image)
    target_hw = output_hw if output_hw is not None else spec.output_hw
    hwc = _GEOMETRY[spec.kind](spec, hwc, target_hw)
    return _to_tensor(spec, hwc)


def synthetic_image(spec: PreprocessSpec, shape_chw: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """A random uint8 image in the spec's input layout for a (C, H, W) shape."""
    if spec.passthrough:
        raise ValueError(f"{spec.op_type} takes token inputs, not images")
    if len(shape_chw) != 3 or shape_chw[0] != _CHANNELS or min(shape_chw) < 1:
        raise InputError(
            f"{spec.source}: image shape {list(shape_chw)} does not fit {spec.input_label}; "
            f"give a shape [3,H,W] with H, W >= 1"
        )
    channels, height_px, width_px = shape_chw
    layout = spec.input_layout
    if layout == "nv12":
        if height_px % 2 or width_px % 2:
            raise InputError(
                f"{spec.source}: image shape {list(shape_chw)} has an odd H or W, but NV12 needs even "
                "sizes; give an even H and W"
            )
        shape: tuple[int, ...] = (height_px * 3 // 2, width_px)
    elif layout == "hwc":
        shape = (height_px, width_px, channels)
    else:
        shape = (channels, height_px, width_px)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


# --- input layouts -----------------------------------------------------------------------------


def _shape_error(spec: PreprocessSpec, image: np.ndarray) -> InputError:
    return InputError(
        f"{spec.source}: the image must be {spec.input_label}; got {image.dtype} {tuple(image.shape)}; "
        "convert the image or fix IimageFormat"
    )


def _as_hwc(spec: PreprocessSpec, image: np.ndarray) -> np.ndarray:
    """An (H, W, 3) uint8 view (planar input stays a transposed view: no copy here)."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise _shape_error(spec, np.asarray(image))
    layout = spec.input_layout
    if layout == "nv12":
        return _nv12_to_rgb(spec, image)
    if image.ndim != 3 or min(image.shape) < 1:
        raise _shape_error(spec, image)
    if layout == "hwc":
        if image.shape[2] != _CHANNELS:
            raise _shape_error(spec, image)
        return image
    if image.shape[0] != _CHANNELS:
        raise _shape_error(spec, image)
    return image.transpose(1, 2, 0)


def _nv12_to_rgb(spec: PreprocessSpec, image: np.ndarray) -> np.ndarray:
    if image.ndim != 2 or image.shape[0] % 3 or image.shape[1] % 2 or image.shape[0] < 3:
        raise _shape_error(spec, image)
    if (image.shape[0] * 2 // 3) % 2:
        raise _shape_error(spec, image)
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_YUV2RGB_NV12)


# --- geometry ----------------------------------------------------------------------------------


def _hw(image: np.ndarray) -> HW:
    return (image.shape[0], image.shape[1])


def _resize(spec: PreprocessSpec, hwc: np.ndarray, out_hw: HW) -> np.ndarray:
    if _hw(hwc) == out_hw:
        return hwc
    size_wh = (out_hw[1], out_hw[0])
    if spec.resize_method is ResizeMethod.PILLOW_BILINEAR:
        planes = [_pillow_resize(hwc[:, :, c], size_wh) for c in range(hwc.shape[2])]
        return np.stack(planes, axis=0).transpose(1, 2, 0)
    if hwc.transpose(2, 0, 1).flags.c_contiguous:
        # Planar input: resizing each contiguous plane avoids an interleaving copy.
        planes = [cv2.resize(hwc[:, :, c], size_wh, interpolation=cv2.INTER_LINEAR) for c in range(hwc.shape[2])]
        return np.stack(planes, axis=0).transpose(1, 2, 0)
    return cv2.resize(np.ascontiguousarray(hwc), size_wh, interpolation=cv2.INTER_LINEAR)


def _pillow_resize(plane: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    resized = Image.fromarray(np.ascontiguousarray(plane)).resize(size_wh, Image.Resampling.BILINEAR)
    return np.asarray(resized)


def _crop(spec: PreprocessSpec, hwc: np.ndarray, crop_hw: HW, crop_xy: tuple[int, int] | None) -> np.ndarray:
    height_px, width_px = hwc.shape[:2]
    if crop_xy is None:
        crop_xy = ((width_px - crop_hw[1]) // 2, (height_px - crop_hw[0]) // 2)
    x, y = crop_xy
    if x < 0 or y < 0 or x + crop_hw[1] > width_px or y + crop_hw[0] > height_px:
        raise InputError(
            f"{spec.source}: crop {crop_hw[1]}x{crop_hw[0]} at x={x}, y={y} does not fit the "
            f"{width_px}x{height_px} image; use larger images or fix the crop in the vdsp file"
        )
    return hwc[y : y + crop_hw[0], x : x + crop_hw[1]]


def _pad(hwc: np.ndarray, edges: PadEdges, value: tuple[int, int, int]) -> np.ndarray:
    if edges == (0, 0, 0, 0):
        return hwc
    height_px, width_px, channels = hwc.shape
    out = np.empty((height_px + edges.top + edges.bottom, width_px + edges.left + edges.right, channels), np.uint8)
    out[...] = np.asarray(value, np.uint8)
    out[edges.top : edges.top + height_px, edges.left : edges.left + width_px] = hwc
    return out


def _centred_edges(inner_hw: HW, out_hw: HW) -> PadEdges:
    top = (out_hw[0] - inner_hw[0]) // 2
    left = (out_hw[1] - inner_hw[1]) // 2
    return PadEdges(top, out_hw[0] - inner_hw[0] - top, left, out_hw[1] - inner_hw[1] - left)


def _geometry_resize(spec: PreprocessSpec, hwc: np.ndarray, out_hw: HW | None) -> np.ndarray:
    return hwc if out_hw is None else _resize(spec, hwc, out_hw)


def _geometry_resize_crop(spec: PreprocessSpec, hwc: np.ndarray, out_hw: HW | None) -> np.ndarray:
    if spec.resize_hw is not None:
        hwc = _resize(spec, hwc, spec.resize_hw)
    return hwc if out_hw is None else _crop(spec, hwc, out_hw, spec.crop_xy)


def _geometry_crop_resize(spec: PreprocessSpec, hwc: np.ndarray, out_hw: HW | None) -> np.ndarray:
    crop_hw = spec.crop_hw
    if crop_hw is None:
        # No crop size: the window runs from (CropX, CropY) to the far edges.
        x, y = spec.crop_xy or (0, 0)
        crop_hw = (hwc.shape[0] - y, hwc.shape[1] - x)
    hwc = _crop(spec, hwc, crop_hw, spec.crop_xy)
    return hwc if out_hw is None else _resize(spec, hwc, out_hw)


def _geometry_crop(spec: PreprocessSpec, hwc: np.ndarray, out_hw: HW | None) -> np.ndarray:
    return hwc if out_hw is None else _crop(spec, hwc, out_hw, spec.crop_xy)


def letterbox_inner_hw(image_hw: HW, out_hw: HW) -> HW:
    """Size of the image inside the letterbox: the largest that keeps the aspect ratio and fits."""
    scale = min(out_hw[0] / image_hw[0], out_hw[1] / image_hw[1])
    inner_h = min(out_hw[0], max(1, round(image_hw[0] * scale)))
    inner_w = min(out_hw[1], max(1, round(image_hw[1] * scale)))
    return (inner_h, inner_w)


def _geometry_letterbox(spec: PreprocessSpec, hwc: np.ndarray, out_hw: HW | None) -> np.ndarray:
    if out_hw is None:
        return hwc
    inner_hw = letterbox_inner_hw(_hw(hwc), out_hw)
    resized = _resize(spec, hwc, inner_hw)
    return _pad(resized, _centred_edges(inner_hw, out_hw), spec.pad_value)


def _geometry_resize_pad(spec: PreprocessSpec, hwc: np.ndarray, out_hw: HW | None) -> np.ndarray:
    resize_hw = spec.resize_hw
    edges = spec.pad_edges
    if resize_hw is None and edges is not None and out_hw is not None:
        resize_hw = (out_hw[0] - edges.top - edges.bottom, out_hw[1] - edges.left - edges.right)
        if min(resize_hw) < 1:
            raise InputError(f"{spec.source}: paddings {tuple(edges)} leave no room in the {out_hw[1]}x{out_hw[0]} "
                             "output; fix PaddingLeft/Right/Top/Bottom")
    if resize_hw is None:
        resize_hw = out_hw if edges is None else None
    if resize_hw is not None:
        hwc = _resize(spec, hwc, resize_hw)
    if edges is None:
        edges = PadEdges(0, 0, 0, 0) if out_hw is None else _centred_edges(_hw(hwc), out_hw)
    _check_padded_size(spec, _hw(hwc), edges, out_hw)
    return _pad(hwc, edges, spec.pad_value)


def _check_padded_size(spec: PreprocessSpec, inner_hw: HW, edges: PadEdges, out_hw: HW | None) -> None:
    padded_hw = ext_output_hw(inner_hw, edges)
    if min(edges) < 0 or (out_hw is not None and padded_hw != out_hw):
        raise InputError(
            f"{spec.source}: resized {inner_hw[1]}x{inner_hw[0]} plus paddings give {padded_hw[1]}x{padded_hw[0]}, "
            f"not the {out_hw[1] if out_hw else '?'}x{out_hw[0] if out_hw else '?'} output; fix the vdsp sizes"
        )


def _geometry_none(spec: PreprocessSpec, hwc: np.ndarray, out_hw: HW | None) -> np.ndarray:
    if out_hw is not None and _hw(hwc) != out_hw:
        raise InputError(
            f"{spec.source}: {spec.op_type} does not resize, but the image is {hwc.shape[1]}x{hwc.shape[0]} "
            f"and the output must be {out_hw[1]}x{out_hw[0]}; resize the images beforehand or use a RESIZE op"
        )
    return hwc


_Geometry = Callable[[PreprocessSpec, np.ndarray, HW | None], np.ndarray]
_GEOMETRY: dict[OpKind, _Geometry] = {
    OpKind.RESIZE: _geometry_resize,
    OpKind.SINGLE_RESIZE: _geometry_resize,
    OpKind.RESIZE_CROP: _geometry_resize_crop,
    OpKind.CROP_RESIZE: _geometry_crop_resize,
    OpKind.SINGLE_CROP: _geometry_crop,
    OpKind.LETTERBOX: _geometry_letterbox,
    OpKind.RESIZE_PAD: _geometry_resize_pad,
    OpKind.COLOR_ONLY: _geometry_none,
    OpKind.SINGLE_COLOR: _geometry_none,
}


# --- tensor ------------------------------------------------------------------------------------


def _to_tensor(spec: PreprocessSpec, hwc: np.ndarray) -> np.ndarray:
    chw = hwc.transpose(2, 0, 1)
    if spec.color.swaps_channels:
        chw = chw[::-1]
    tensor = np.empty(chw.shape, np.float32)
    tensor[...] = chw
    _normalise_inplace(spec, tensor)
    return tensor


def _per_channel(values: tuple[float, ...] | None) -> np.ndarray:
    assert values is not None, "vdsp validation guarantees Mean/Std for mean/std normalisations"
    return np.asarray(values, np.float32).reshape(-1, 1, 1)


def _normalise_inplace(spec: PreprocessSpec, tensor: np.ndarray) -> None:
    norm = spec.norm
    if norm in (Norm.UNIT, Norm.UNIT_MEAN_STD):
        tensor /= np.float32(_MAX_UINT8)
    if norm in (Norm.UNIT_MEAN_STD, Norm.MEAN_STD):
        tensor -= _per_channel(spec.mean)
        tensor /= _per_channel(spec.std)
    if norm is Norm.SYMMETRIC:
        tensor /= np.float32(_HALF_UINT8)
        tensor -= np.float32(1.0)


__all__ = ["letterbox_inner_hw", "preprocess", "synthetic_image"]
