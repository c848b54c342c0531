"""Peak memory and wall time of int8 calibration: vampy's own calibrators vs ONNX Runtime's quantize_static.

The shipped setup of build/official_vdsr_int8.yaml (VDSR x4, 1x1x256x256, the five Set5 x4 images,
DIV255 from the vdsp file, per-channel QDQ, uint8 activations). Each variant runs in a fresh
process; its peak RSS comes from wait4 (the whole process, imports included) and its wall time is
the build alone (imports excluded). Ranges are compared with vampy's kl_divergence ranges (which
equal max with ORT's default 128 bins; docs/compile.md).

    .venv/bin/vampy zoo vdsr -o /tmp/vdsr --weights ../shared/data/vdsr/vdsr_x234_weights.npz
    .venv/bin/python scripts/measure_calibration.py --model /tmp/vdsr/mod.onnx

Reads vampy internals (calibration feeds, the Engine registry) on purpose: it measures them. A
measurement, not a test: nothing here asserts.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "vampy-kl": "vampy compile, kl_divergence (as shipped: calibration graph not optimised)",
    "vampy-kl-enable-all": "vampy compile, kl_divergence, calibration graph at ORT_ENABLE_ALL",
    "ort-entropy": "quantize_static, Entropy",
    "ort-entropy-strided": "quantize_static, Entropy, CalibStridedMinMax=1",
    "ort-minmax": "quantize_static, MinMax",
    "ort-minmax-maxinter1": "quantize_static, MinMax, CalibMaxIntermediateOutputs=1",
    "ort-minmax-maxinter2": "quantize_static, MinMax, CalibMaxIntermediateOutputs=2",
}


def yaml_dict(model: Path, set5: Path, workspace: Path) -> dict[str, Any]:
    """build/official_vdsr_int8.yaml with absolute paths."""
    ops = [{"type": "DecodeImage"}, {"type": "CvtColor", "code": "COLOR_RGB2YCrCb"}, {"type": "Resize", "size": [256, 256]},
           {"type": "ChannelSplit", "index": 0}, {"type": "Normalize", "norm_type": "None"}, {"type": "ToTensor"}]
    return {
        "name": "vdsr_int8", "frontend": {"type": "onnx", "checkpoint": str(model), "shape": {"input": [1, 1, 256, 256]}},
        "backend": {"dtype": "int8", "quantize": {"calibrate_mode": "kl_divergence", "quantize_per_channel": True}},
        "dataset": {"path": str(set5), "sampler": {"suffix": "bmp", "pattern": "*_scale_4.bmp", "get_data_num": 5}, "process_ops": ops},
        "workspace": {"path": str(workspace)},
    }


# --- children ---


def run_vampy(args: argparse.Namespace, enable_all: bool) -> dict[str, list[float]]:
    from vampy.compiler.pipeline import compile_model
    from vampy.formats.compile_yaml import parse_compile_config

    if enable_all:
        _calibrate_with_all_optimisations()
    cfg = parse_compile_config(yaml_dict(args.model, args.set5, args.work / args.variant), "measure", str(args.vdsp))
    result = compile_model(cfg)
    assert result.calibration is not None
    ranges: dict[str, list[float]] = result.calibration["tensor_ranges"]
    return ranges


def _calibrate_with_all_optimisations() -> None:
    """The alternative not shipped: the calibration graph opened with ORT's full optimisation."""
    from dataclasses import replace

    import vampy.compiler.ranges as ranges_module
    from vampy.engines.base import EngineOptions

    def options(**kwargs: Any) -> EngineOptions:
        return replace(EngineOptions(**kwargs), graph_optimization="all")

    ranges_module.EngineOptions = options  # type: ignore[assignment,misc]


class _Reader:
    """CalibrationDataReader with the __len__/set_range that CalibStridedMinMax needs."""

    def __init__(self, feeds: list[dict[str, Any]]) -> None:
        self._feeds = feeds
        self._window = iter(feeds)

    def get_next(self) -> dict[str, Any] | None:
        return next(self._window, None)

    def __len__(self) -> int:
        return len(self._feeds)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._window = iter(self._feeds[start_index:end_index])


def run_ort(args: argparse.Namespace, method: str, extra: dict[str, Any]) -> dict[str, list[float]]:
    import numpy as np
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import load_tensors_data
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from vampy.compiler.calibration_data import calibration_samples
    from vampy.compiler.common import BuildLog
    from vampy.formats.compile_yaml import parse_compile_config

    cfg = parse_compile_config(yaml_dict(args.model, args.set5, args.work / args.variant), "measure", str(args.vdsp))
    samples = calibration_samples(cfg, onnx.load(str(args.model)), BuildLog())
    feeds = [samples.make(k) for k in range(samples.count)]
    out = args.work / args.variant
    out.mkdir(parents=True, exist_ok=True)
    quant_pre_process(str(args.model), str(out / "prepared.onnx"), skip_symbolic_shape=True)
    quantize_static(
        str(out / "prepared.onnx"), str(out / "int8.onnx"), _Reader(feeds), quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, calibrate_method=getattr(CalibrationMethod, method),
        extra_options=extra, calibration_cache_path=str(out / "ranges.json"),
    )
    data = load_tensors_data(out / "ranges.json").data
    # MinMax keeps 1-element arrays (ReduceMin with keepdims, reshaped to [-1]).
    return {name: [float(np.min(td.range_value[0])), float(np.max(td.range_value[1]))] for name, td in data.items()}


def child(args: argparse.Namespace) -> None:
    runners = {
        "vampy-kl": lambda: run_vampy(args, enable_all=False),
        "vampy-kl-enable-all": lambda: run_vampy(args, enable_all=True),
        "ort-entropy": lambda: run_ort(args, "Entropy", {}),
        "ort-entropy-strided": lambda: run_ort(args, "Entropy", {"CalibStridedMinMax": 1}),
        "ort-minmax": lambda: run_ort(args, "MinMax", {}),
        "ort-minmax-maxinter1": lambda: run_ort(args, "MinMax", {"CalibMaxIntermediateOutputs": 1}),
        "ort-minmax-maxinter2": lambda: run_ort(args, "MinMax", {"CalibMaxIntermediateOutputs": 2}),
    }
    start_s = time.perf_counter()
    try:
        record: dict[str, Any] = {"ranges": runners[args.variant]()}
    except Exception as exc:  # noqa: BLE001 - a variant that fails is a result too
        record = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"}
    record["wall_s"] = time.perf_counter() - start_s
    (args.work / f"{args.variant}.json").write_text(json.dumps(record))


# --- parent ---


def measure(args: argparse.Namespace, variant: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--variant", variant, "--model", str(args.model), "--set5", str(args.set5),
               "--vdsp", str(args.vdsp), "--work", str(args.work)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    record = json.loads((args.work / f"{variant}.json").read_text()) if process.returncode == 0 else {"error": f"exit {process.returncode}"}
    record["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: kilobytes
    return record


def max_relative_difference(a: dict[str, list[float]], b: dict[str, list[float]]) -> str:
    if a.keys() != b.keys():
        return f"{len(a.keys() ^ b.keys())} tensors differ"
    worst = max(abs(x - y) / max(abs(y), 1e-12) for name in a for x, y in zip(a[name], b[name]))
    return f"{worst:.1e}"


def parent(args: argparse.Namespace) -> None:
    records = {variant: measure(args, variant) for variant in VARIANTS}
    reference = records["vampy-kl"].get("ranges", {})
    print(f"VDSR x4 1x1x256x256, 5 Set5 images, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}\n")
    print("| variant | build wall (s) | peak RSS (MB) | ranges vs vampy kl (max rel. diff) |")
    print("| --- | --- | --- | --- |")
    for variant, record in records.items():
        verdict = record["error"] if "error" in record else max_relative_difference(record["ranges"], reference)
        wall = f"{record['wall_s']:.1f}" if "wall_s" in record else "-"
        print(f"| {VARIANTS[variant]} | {wall} | {record['peak_rss_mb']:.0f} | {verdict} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("/tmp/vdsr/mod.onnx"))
    parser.add_argument("--set5", type=Path, default=ROOT.parent / "shared" / "data" / "Set5")
    parser.add_argument("--vdsp", type=Path, default=ROOT / "vdsp_params" / "official-vdsr-vdsp_params.json")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--variant", choices=sorted(VARIANTS), default=None, help="internal: run one variant in this process")
    args = parser.parse_args()
    if args.variant is not None:
        child(args)
        return
    with tempfile.TemporaryDirectory(prefix="vampy-calib-") as tmp:
        args.work = args.work or Path(tmp)
        args.work.mkdir(parents=True, exist_ok=True)
        parent(args)


if __name__ == "__main__":
    main()
