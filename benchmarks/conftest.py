"""Benchmarks are not part of the test run: `make bench` (pytest benchmarks --benchmark-only).

`compiled`: VDSR 1x1x256x256 as fp32, fp16 and int8, all made by `vampy compile`. With
../shared/data present the real VDSR weights are used and int8 is calibrated on the five Set5 x4
inputs; without it, seeded random weights and synthetic images (speed is the same).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for tests.models

from vampy.compiler.pipeline import compile_model  # noqa: E402
from vampy.formats.compile_yaml import parse_compile_config  # noqa: E402
from vampy.models.zoo import build_vdsr  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
VDSP = ROOT / "vdsp_params" / "official-vdsr-vdsp_params.json"
PRECISIONS = ("fp32", "fp16", "int8")
SHAPE_NCHW = (1, 1, 256, 256)


def _dataset(tmp: Path) -> tuple[str, str]:
    """(folder, file pattern) of the calibration images."""
    if (SHARED / "Set5").is_dir():
        return str(SHARED / "Set5"), "*_scale_4.bmp"
    rng = np.random.default_rng(0)
    folder = tmp / "images"
    folder.mkdir()
    for k in range(5):
        cv2.imwrite(str(folder / f"synthetic{k}.bmp"), cv2.GaussianBlur(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8), (7, 7), 0))
    return str(folder), "*.bmp"


def _yaml(precision: str, checkpoint: Path, dataset: tuple[str, str], workspace: Path) -> dict[str, Any]:
    return {
        "name": f"vdsr_{precision}",
        "frontend": {"type": "onnx", "checkpoint": str(checkpoint), "shape": {"input": list(SHAPE_NCHW)}, "dtype": "fp32"},
        "backend": {"dtype": precision, "quantize": {"calibrate_mode": "kl_divergence", "quantize_per_channel": True}},
        "dataset": {
            "path": dataset[0], "sampler": {"suffix": "bmp", "pattern": dataset[1], "get_data_num": 5},
            "process_ops": [{"type": "DecodeImage"}, {"type": "CvtColor", "code": "COLOR_RGB2YCrCb"},
                            {"type": "Resize", "size": [256, 256]}, {"type": "ChannelSplit", "index": 0},
                            {"type": "Normalize", "norm_type": "None"}, {"type": "ToTensor"}],
        },
        "workspace": {"path": str(workspace)},
    }


@pytest.fixture(scope="session")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("precisions")
    weights = SHARED / "vdsr" / "vdsr_x234_weights.npz"
    model, _ = build_vdsr(weights if weights.is_file() else None, seed=0)
    source = tmp / "vdsr.onnx"
    onnx.save(model, str(source))
    dataset = _dataset(tmp)
    out = {}
    for precision in PRECISIONS:
        cfg = parse_compile_config(_yaml(precision, source, dataset, tmp / "ws"), f"bench {precision}", vdsp_params=str(VDSP))
        out[precision] = Path(compile_model(cfg).model_path)
    return out
