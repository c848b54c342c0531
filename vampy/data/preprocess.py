"""uint8 image + PreprocessSpec -> float32 (C, H, W) model tensor, with numpy, OpenCV and Pillow.

The pipeline: input layout -> (NV12 -> RGB) -> geometry (crop / resize / letterbox / pad) ->
channel swap -> normalisation. The channel swap commutes with the per-channel resize and crop, so
doing it after the geometry gives the same numbers as the vendor's RESIZE..CVTCOLOR..CROP order;
padding comes before the swap, so ``Padding`` values are in the input's channel order (the op
names put LETTERBOX before CVTCOLOR). NV12 is converted to RGB before any geometry, so for NV12
ops the pad values are RGB.

Internally the image is an (H, W, C) array that may be a transposed view of planar input: no
copy is made until a resize needs contiguous planes or the final float32 tensor is written.

The image primitives (resize_image, crop_image, pad_image, convert_colour, normalise_inplace,
normalised_range) are the project's only implementation of those steps: this vdsp pipeline and
the compiler YAML's process_ops (vampy.data.process_ops) both use them, so calibration sees the
numbers `vampy run` feeds.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np
from PIL import Image

from vampy.errors import InputError
from vampy.formats.vdsp import (
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
WH = tuple[int, int]
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "area", "lanczos")
RESIZE_BACKENDS = ("cv2", "pillow")
_CV2_FLAGS = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC,
              "area": cv2.INTER_AREA, "lanczos": cv2.INTER_LANCZOS4}
_PILLOW_METHODS = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
                   "bicubic": Image.Resampling.BICUBIC, "area": Image.Resampling.BOX,
                   "lanczos": Image.Resampling.LANCZOS}


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
    return convert_colour(image, "COLOR_YUV2RGB_NV12")


# --- geometry ----------------------------------------------------------------------------------


def _hw(image: np.ndarray) -> HW:
    return (image.shape[0], image.shape[1])


def _resize(spec: PreprocessSpec, hwc: np.ndarray, out_hw: HW) -> np.ndarray:
    backend = "pillow" if spec.resize_method is ResizeMethod.PILLOW_BILINEAR else "cv2"
    return resize_image(hwc, (out_hw[1], out_hw[0]), "bilinear", backend)


def _crop(spec: PreprocessSpec, hwc: np.ndarray, crop_hw: HW, crop_xy: tuple[int, int] | None) -> np.ndarray:
    try:
        return crop_image(hwc, (crop_hw[1], crop_hw[0]), crop_xy)
    except ValueError as exc:
        raise InputError(f"{spec.source}: {exc}; use larger images or fix the crop in the vdsp file") from None


def _pad(hwc: np.ndarray, edges: PadEdges, value: tuple[int, int, int]) -> np.ndarray:
    return pad_image(hwc, edges, value)


def centred_edges(inner_hw: HW, out_hw: HW) -> PadEdges:
    """The letterbox's padding: the odd pixel goes to the bottom and right."""
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


def scaled_hw(image_hw: HW, box_hw: HW, mode: str) -> HW:
    """The image's size scaled with its aspect ratio kept, rounded as the letterbox rounds: "fit" inside
    the box (letterbox_inner_hw), "cover" it (the short side onto it); "follow": a 0 side of the box
    follows the ratio of the other (vamc's -1). The compiler YAML's adaptive Resize uses it."""
    if mode == "fit":
        return letterbox_inner_hw(image_hw, box_hw)
    if mode == "cover":
        scale = max(box_hw[0] / image_hw[0], box_hw[1] / image_hw[1])
        return (max(box_hw[0], round(image_hw[0] * scale)), max(box_hw[1], round(image_hw[1] * scale)))
    if box_hw[0] and box_hw[1]:
        return box_hw
    scale = box_hw[0] / image_hw[0] if box_hw[0] else box_hw[1] / image_hw[1]
    return (box_hw[0] or max(1, round(image_hw[0] * scale)), box_hw[1] or max(1, round(image_hw[1] * scale)))


def _geometry_letterbox(spec: PreprocessSpec, hwc: np.ndarray, out_hw: HW | None) -> np.ndarray:
    if out_hw is None:
        return hwc
    inner_hw = letterbox_inner_hw(_hw(hwc), out_hw)
    resized = _resize(spec, hwc, inner_hw)
    return _pad(resized, centred_edges(inner_hw, out_hw), spec.pad_value)


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
        edges = PadEdges(0, 0, 0, 0) if out_hw is None else centred_edges(_hw(hwc), out_hw)
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


def _normalise_inplace(spec: PreprocessSpec, tensor: np.ndarray) -> None:
    normalise_inplace(tensor, spec.norm.value, spec.mean, spec.std, channel_axis=0)


# --- image primitives (shared with vampy.data.process_ops) ------------------------------------


def resize_image(image: np.ndarray, size_wh: WH, interpolation: str = "bilinear", backend: str = "cv2") -> np.ndarray:
    """An (H, W) or (H, W, C) image resized to size_wh = (width, height), with as many axes back.

    cv2: cv2.resize; pillow: PIL's resize plane by plane (uint8 planes in mode L, others as float32
    in mode F). An image already at size_wh comes back as it is (both libraries only copy then).
    """
    if interpolation not in INTERPOLATIONS or backend not in RESIZE_BACKENDS:
        raise ValueError(f"resize {interpolation}/{backend}: choose one of {', '.join(INTERPOLATIONS)} and cv2 or pillow")
    if (image.shape[1], image.shape[0]) == tuple(size_wh):
        return image
    if backend == "pillow":
        return _pillow_resize(image, size_wh, _PILLOW_METHODS[interpolation])
    flag = _CV2_FLAGS[interpolation]
    if image.ndim == 3 and image.transpose(2, 0, 1).flags.c_contiguous:
        # Planar input: resizing each contiguous plane avoids an interleaving copy.
        planes = [cv2.resize(image[:, :, c], size_wh, interpolation=flag) for c in range(image.shape[2])]
        return np.stack(planes, axis=0).transpose(1, 2, 0)
    return _keep_axes(cv2.resize(np.ascontiguousarray(image), size_wh, interpolation=flag), image)


def _pillow_resize(image: np.ndarray, size_wh: WH, method: Image.Resampling) -> np.ndarray:
    hwc = image if image.ndim == 3 else image[:, :, None]
    planes = [_pillow_plane(hwc[:, :, c], size_wh, method) for c in range(hwc.shape[2])]
    out = np.stack(planes, axis=0).transpose(1, 2, 0)
    return out if image.ndim == 3 else out[:, :, 0]


def _pillow_plane(plane: np.ndarray, size_wh: WH, method: Image.Resampling) -> np.ndarray:
    data = plane if plane.dtype == np.uint8 else plane.astype(np.float32)  # PIL's L and F modes
    return np.asarray(Image.fromarray(np.ascontiguousarray(data)).resize(size_wh, method))


def _keep_axes(image: np.ndarray, like: np.ndarray) -> np.ndarray:
    """OpenCV drops a trailing 1-channel axis; keep HWC."""
    return image[:, :, None] if like.ndim == 3 and image.ndim == 2 else image


def crop_image(image: np.ndarray, size_wh: WH, top_left_xy: tuple[int, int] | None = None) -> np.ndarray:
    """A (height, width) window of an (H, W, ...) image, a view; centred (floor) when no corner is
    given. ValueError, naming both sizes, when the window does not fit."""
    width_px, height_px = size_wh
    image_h, image_w = image.shape[:2]
    if height_px > image_h or width_px > image_w:
        raise ValueError(f"crop {width_px}x{height_px} is larger than the image {image_w}x{image_h}")
    x, y = top_left_xy if top_left_xy is not None else ((image_w - width_px) // 2, (image_h - height_px) // 2)
    if x < 0 or y < 0 or x + width_px > image_w or y + height_px > image_h:
        raise ValueError(f"crop {width_px}x{height_px} at x={x}, y={y} does not fit the {image_w}x{image_h} image")
    return image[y : y + height_px, x : x + width_px]


def pad_image(image: np.ndarray, edges: PadEdges, value: float | Sequence[float]) -> np.ndarray:
    """The (H, W, ...) image with edges added, filled with value (one number or one per channel,
    cast to the image's dtype). No edges: the image itself."""
    if tuple(edges) == (0, 0, 0, 0):
        return image
    if min(edges) < 0:
        raise ValueError(f"negative padding {tuple(edges)}")
    height_px, width_px = image.shape[:2]
    shape = (height_px + edges.top + edges.bottom, width_px + edges.left + edges.right, *image.shape[2:])
    out = np.empty(shape, image.dtype)
    out[...] = np.asarray(value).astype(image.dtype)
    out[edges.top : edges.top + height_px, edges.left : edges.left + width_px] = image
    return out


def is_colour_code(code: str) -> bool:
    """Whether OpenCV has a colour conversion constant of this name (e.g. COLOR_RGB2YCrCb)."""
    return code.startswith("COLOR_") and isinstance(getattr(cv2, code, None), int)


def convert_colour(image: np.ndarray, code: str) -> np.ndarray:
    """cv2.cvtColor with the named OpenCV constant; a 1-channel HWC result keeps its channel axis."""
    if not is_colour_code(code):
        raise ValueError(f"OpenCV has no colour code {code}")
    return _keep_axes(cv2.cvtColor(np.ascontiguousarray(image), getattr(cv2, code)), image)


def normalise_inplace(
    x: np.ndarray, norm: str, mean: Sequence[float] | None = None, std: Sequence[float] | None = None, channel_axis: int | None = -1
) -> None:
    """x (float32, pixel values 0..255) normalised in place. norm is a vdsp Norm value: none, unit
    (x/255), mean_std ((x-mean)/std), unit_mean_std ((x/255-mean)/std), symmetric (x/127.5-1).
    channel_axis None: x is one plane (H, W)."""
    if norm in ("unit", "unit_mean_std"):
        x /= np.float32(_MAX_UINT8)
    if norm in ("mean_std", "unit_mean_std"):
        x -= _per_channel(mean, x, channel_axis)
        x /= _per_channel(std, x, channel_axis)
    if norm == "symmetric":
        x /= np.float32(_HALF_UINT8)
        x -= np.float32(1.0)


def _per_channel(values: Sequence[float] | None, x: np.ndarray, channel_axis: int | None) -> np.ndarray:
    """Mean/std per channel, shaped to broadcast; more values than channels keeps the first ones,
    as `vampy run` keeps the first planes of a 3-plane image feeding a 1-channel model."""
    v = np.asarray(values if values is not None else (0.0,), np.float32).reshape(-1)
    channels = 1 if channel_axis is None else x.shape[channel_axis]
    if len(v) not in (1, channels) and len(v) < channels:
        raise ValueError(f"{len(v)} mean/std values for {channels} channels")
    v = v if len(v) == 1 else v[:channels]
    if channel_axis is None:
        return v[:1]
    shape = [1] * x.ndim
    shape[channel_axis] = -1
    return v.reshape(shape)


def normalised_range(norm: str, mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> tuple[float, float]:
    """What uint8 pixels 0..255 become under this normalisation, over all channels."""
    channels = len(mean) if mean else 1
    black_white = np.array([0.0, _MAX_UINT8], np.float32)[None, :, None].repeat(channels, axis=2)  # a 1x2 image
    normalise_inplace(black_white, norm, mean, std)
    return float(black_white.min()), float(black_white.max())


__all__ = [
    "INTERPOLATIONS", "RESIZE_BACKENDS", "centred_edges", "convert_colour", "crop_image", "is_colour_code", "letterbox_inner_hw",
    "normalise_inplace", "normalised_range", "pad_image", "preprocess", "resize_image", "scaled_hw", "synthetic_image",
]
