"""Input files the tests write: vdsp files, npz inputs and their expected outputs, image pairs and
folders, a vamc YAML. Each is small, seeded and made in the test's own temporary folder."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx

SR_HEIGHT, SR_WIDTH = 24, 32  # the ground truth's size in the infer tests' image pairs
COMPILE_HW = 8  # the model input of write_compile_yaml's tiny model (height = width)
N_IMAGES = 4  # images() makes this many by default


def vdsp_file(folder: Path, out_hw: int | None = 16, name: str = "v.json") -> Path:
    """A vdsp file (RGB planar, DIV255, bilinear) resizing to out_hw x out_hw; None: no output size."""
    config: dict[str, Any] = {"IimageFormat": "RGB_PLANAR", "NormaType": "DIV255", "ColorCvtCode": "NO_CHANGE", "ResizeType": "BILINEAR_CV"}
    if out_hw is not None:
        config.update(OimageWidth=out_hw, OimageHeight=out_hw)
    path = folder / name
    path.write_text(json.dumps({"OpType": "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR", "OpConfig": config}))
    return path


def normalizing_vdsp(path: Path, hw: tuple[int, int]) -> Path:
    """A vdsp file with ImageNet mean and std that resizes to hw (height, width), pitches included."""
    config = {
        "IimageFormat": "RGB_PLANAR", "IimageWidth": hw[1], "IimageHeight": hw[0], "OimageWidth": hw[1], "OimageHeight": hw[0],
        "IimageWidthPitch": hw[1], "IimageHeightPitch": hw[0], "Mean": [0.485, 0.456, 0.406], "Std": [0.229, 0.224, 0.225],
        "NormaType": "DIV255", "ColorCvtCode": "NO_CHANGE", "ResizeType": "BILINEAR_CV",
    }
    path.write_text(json.dumps({"OpType": "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR", "OpConfig": config}))
    return path


def make_inputs(folder: Path, n: int, sizes: tuple[tuple[int, int], ...] = ((16, 16), (20, 24), (12, 12))) -> list[Path]:
    """n seeded uint8 (3, H, W) inputs as folder/imgNN.npz, cycling through `sizes`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    paths = []
    for i in range(n):
        h, w = sizes[i % len(sizes)]
        path = folder / f"img{i:02d}.npz"
        np.savez(path, input_0=rng.integers(0, 256, (3, h, w), dtype=np.uint8))
        paths.append(path)
    return paths


def expected_output(model: Path, vdsp: Path, npz: Path, native: bool = False) -> np.ndarray:
    """What the model gives for one npz input after the vdsp preprocessing, run with ONNX Runtime directly."""
    import onnxruntime as ort

    from vampy.data.preprocess import preprocess
    from vampy.formats.vdsp import load_vdsp

    spec = load_vdsp(vdsp)
    raw = np.load(npz)["input_0"]
    tensor = preprocess(spec, raw, (raw.shape[1], raw.shape[2]) if native else None)[:1][None]
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": tensor})[0]


def sr_ground_truth(seed: int, height: int = SR_HEIGHT, width: int = SR_WIDTH) -> np.ndarray:
    """A smooth BGR image with values in 30..220: blurred seeded noise, stretched."""
    noise = np.random.default_rng(seed).integers(0, 256, (height, width, 3)).astype(np.uint8)
    smooth = cv2.GaussianBlur(noise, (7, 7), 2).astype(np.float64)
    image: np.ndarray = (30 + (smooth - smooth.min()) * 190 / (smooth.max() - smooth.min())).round().astype(np.uint8)
    return image


def add_sr_pair(root: Path, name: str, seed: int, height: int = SR_HEIGHT, width: int = SR_WIDTH) -> None:
    """root/hr/NAME.png (the ground truth) and root/lr/NAME_scale_4.png (it, blurred); both folders must exist."""
    gt = sr_ground_truth(seed, height, width)
    cv2.imwrite(str(root / "hr" / f"{name}.png"), gt)
    cv2.imwrite(str(root / "lr" / f"{name}_scale_4.png"), cv2.GaussianBlur(gt, (5, 5), 1.5))


def images(folder: Path, n: int = N_IMAGES, size_wh: tuple[int, int] = (24, 20)) -> Path:
    """Colour gradients with blurred noise (so values span 0..255), as BMP, plus a file that is not an image."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    ramp = np.linspace(0, 255, size_wh[0])[None, :, None]
    for k in range(n):
        noise = cv2.GaussianBlur(rng.uniform(-60, 60, (size_wh[1], size_wh[0], 3)), (5, 5), 0)
        image = np.clip(ramp[:, :: 1 if k % 2 else -1] + noise, 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"img{k}.bmp"), image)
    (folder / "notes.txt").write_text("not an image")
    return folder


def write_compile_yaml(tmp_path: Path, precision: str = "int8", edit: Any = None) -> Path:
    """A tiny conv model, two images and the vamc YAML naming them; `edit` changes the dict first."""
    import yaml

    from vampy.models.zoo import conv_stack_model

    hw = COMPILE_HW
    rng = np.random.default_rng(0)
    model = tmp_path / "src.onnx"
    onnx.save(conv_stack_model([rng.standard_normal(s).astype(np.float32) * 0.3 for s in ((2, 1, 3, 3), (1, 2, 3, 3))],
                               (1, 1, hw, hw), residual=True, graph_name="t"), str(model))
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    for k in range(2):
        cv2.imwrite(str(data_dir / f"im{k}.bmp"), rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
    data: dict[str, Any] = {
        "name": "tiny", "frontend": {"type": "onnx", "checkpoint": str(model), "shape": {"input": [1, 1, hw, hw]}},
        "backend": {"type": "tvm_vacc", "dtype": precision, "quantize": {"calibrate_mode": "max", "quantize_per_channel": True}},
        "dataset": {"path": str(data_dir), "sampler": {"suffix": "bmp"},
                    "process_ops": [{"type": "DecodeImage"}, {"type": "CvtColor", "code": "COLOR_RGB2GRAY"},
                                    {"type": "Resize", "size": hw}, {"type": "Normalize", "norm_type": "div255"}, {"type": "ToTensor"}]},
        "workspace": {"path": str(tmp_path / "ws")},
    }
    if edit is not None:
        edit(data)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
