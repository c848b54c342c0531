"""The vamc compiler YAML -> CompileConfig: the seed's file, defaults, vendor keys, every error."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from vampy.config import (
    CenterCropOp,
    ChannelSplitOp,
    CompileConfig,
    CvtColorOp,
    DecodeImageOp,
    NormalizeOp,
    PadOp,
    QuantizeConfig,
    ResizeOp,
    ToTensorOp,
)
from vampy.errors import InputError, UsageError
from vampy.formats.compile_yaml import load_compile_config, parse_compile_config

SEED_YAML = """\
name: official_vdsr_run_stream_int8
frontend: {type: onnx, checkpoint: /path/to/vdsr-256.onnx, shape: {input: [1, 1, 256, 256]}, dtype: fp32}
backend:
  type: tvm_vacc
  dtype: int8            # fp16 | int8
  quantize: {calibrate_mode: kl_divergence, quantize_per_channel: true}   # max | percentile | mse | kl_divergence
dataset:
  path: /path/to/Set5_BMP/scale_4
  sampler: {suffix: bmp, get_data_num: 5}
  process_ops:
    - type: DecodeImage
    - type: CvtColor
      code: COLOR_RGB2YCrCb
    - type: Resize
      size: [256, 256]
    - type: ChannelSplit
      index: 0
    - type: Normalize
      norm_type: None
    - type: ToTensor
workspace: {path: ./deploy_weights/}
"""


def seed() -> dict[str, Any]:
    import yaml

    return copy.deepcopy(yaml.safe_load(SEED_YAML))


def parse(data: object, **flags: Any) -> CompileConfig:
    return parse_compile_config(data, "c.yaml", **flags)


def error(data: object, **flags: Any) -> str:
    with pytest.raises(InputError) as info:
        parse(data, **flags)
    return str(info.value)


# --- good input ---


def test_the_seed_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(SEED_YAML)
    cfg = load_compile_config(path, vdsp_params="v.json")
    assert cfg.name == "official_vdsr_run_stream_int8" and cfg.precision == "int8"
    assert cfg.checkpoint == "/path/to/vdsr-256.onnx" and cfg.input_shapes == (("input", (1, 1, 256, 256)),)
    assert cfg.quantize == QuantizeConfig(calibrate_mode="kl_divergence", per_channel=True)
    assert cfg.workspace == "./deploy_weights/" and cfg.output_dir == Path("deploy_weights/official_vdsr_run_stream_int8")
    assert cfg.dataset is not None and cfg.dataset.suffixes == ("bmp",) and cfg.dataset.max_samples == 5
    assert cfg.dataset.ops == (DecodeImageOp(), CvtColorOp("COLOR_RGB2YCrCb"), ResizeOp((256, 256)), ChannelSplitOp(0),
                               NormalizeOp("none"), ToTensorOp())
    assert cfg.ignored_keys == ("backend.type",) and cfg.unused_keys == () and cfg.vdsp_params == "v.json"
    assert cfg.source == str(path)


def test_defaults_and_vendor_compile_section() -> None:
    data = {"name": "m", "frontend": {"checkpoint": "m.onnx"}, "backend": {"dtype": "FP16"}, "compile": {"opt_level": 3}}
    cfg = parse(data)
    assert cfg.precision == "fp16" and cfg.frontend_dtype == "fp32" and cfg.workspace == "deploy_weights"
    assert cfg.input_shapes == () and cfg.dataset is None and cfg.ignored_keys == ("compile",)


def test_keys_this_precision_does_not_use_are_reported() -> None:
    data = seed()
    data["backend"]["dtype"] = "fp32"
    assert parse(data).unused_keys == ("backend.quantize", "dataset")
    assert parse(seed(), calib_datalist="l.txt").unused_keys == ("dataset (replaced by --calib_datalist)",)


def test_int8_without_dataset_needs_a_datalist() -> None:
    data = seed()
    del data["dataset"]
    assert "dataset: missing; backend.dtype int8 needs calibration images" in error(data)
    assert parse(data, calib_datalist="l.txt").dataset is None
    with pytest.raises(UsageError):
        CompileConfig(source="x", name="n", checkpoint="c", precision="int8", workspace="w")


def test_quantize_options() -> None:
    data = seed()
    data["backend"]["quantize"] = {"calibrate_mode": "percentile", "calibrate_range": 0.9999, "skip_layers": ["conv0", 19],
                                   "activation_type": "int8", "num_bins": 2048}
    q = parse(data).quantize
    assert q == QuantizeConfig("percentile", False, 0.9999, ("conv0", 19), "int8", 2048)


def test_sampler_pattern_and_suffix_list() -> None:
    data = seed()
    data["dataset"]["sampler"] = {"suffix": [".BMP", "png"], "pattern": "*_scale_4.*"}
    ds = parse(data).dataset
    assert ds is not None and ds.suffixes == ("bmp", "png") and ds.pattern == "*_scale_4.*" and ds.max_samples is None


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ({"type": "Normalize", "norm_type": "div255"}, NormalizeOp("unit")),
        ({"type": "Normalize", "norm_type": None}, NormalizeOp("none")),
        ({"type": "Normalize", "norm_type": "DIV255_MINUSMEAN_DIVSTD", "mean": [0.5], "std": [0.25]},
         NormalizeOp("unit_mean_std", (0.5,), (0.25,))),
        ({"type": "Normalize", "norm_type": "minusmean_divstd", "mean": [1, 2, 3], "std": [4, 5, 6]},
         NormalizeOp("mean_std", (1.0, 2.0, 3.0), (4.0, 5.0, 6.0))),
        ({"type": "Normalize", "div255": True}, NormalizeOp("unit")),
        ({"type": "Normalize", "div255": True, "mean": [0.5], "std": [0.5]}, NormalizeOp("unit_mean_std", (0.5,), (0.5,))),
        ({"type": "Resize", "size": 224, "interpolation": "bicubic", "backend": "pillow", "adaptive_side": "short"},
         ResizeOp((224, 224), "bicubic", "pillow", "short")),
        ({"type": "Resize", "size": [240, 320]}, ResizeOp((320, 240))),  # vamc: [height, width]; kept as (width, height)
        ({"type": "Resize", "size": [640, -1], "adaptive_side": "long"}, ResizeOp((640, 640), adaptive_side="long")),
        ({"type": "Resize", "size": [32, -1]}, ResizeOp((0, 32))),  # the width follows the aspect ratio
        ({"type": "CenterCrop", "crop_size": [200, 224], "backend": "pillow"}, CenterCropOp((224, 200), "pillow")),
        ({"type": "Pad", "pad_to_square": True, "value": 114}, PadOp(True, None, 114.0)),
        ({"type": "Pad", "size": [48, 64]}, PadOp(False, (64, 48), None)),
        ({"type": "Normalize"}, NormalizeOp("unit")),  # vamc divides by 255 unless told not to
        ({"type": "Normalize", "mean": [0.5], "std": [0.5]}, NormalizeOp("unit_mean_std", (0.5,), (0.5,))),
        ({"type": "Normalize", "div255": None, "mean": [127.5], "std": [128]}, NormalizeOp("mean_std", (127.5,), (128.0,))),
        ({"type": "Normalize", "div255": True, "norm_type": None}, NormalizeOp("unit")),
        ({"type": "Normalize", "div255": False, "norm_type": None}, NormalizeOp("none", raw_by_choice=True)),
    ],
)
def test_process_ops(op: dict[str, Any], expected: object) -> None:
    data = seed()
    data["dataset"]["process_ops"][1] = op
    ds = parse(data).dataset
    assert ds is not None and ds.ops[1] == expected


# --- bad input: one line naming the key path ---


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(extra=1), "c.yaml: extra: unknown key"),
        (lambda d: d["frontend"].update(weights="w"), "frontend.weights: unknown key"),
        (lambda d: d["backend"]["quantize"].update(calib_mode="max"), "backend.quantize.calib_mode: unknown key"),
        (lambda d: d["dataset"]["sampler"].update(shuffle=True), "dataset.sampler.shuffle: unknown key"),
        (lambda d: d["dataset"]["process_ops"][2].update(width=[1, 1]), r"dataset.process_ops[2].width: unknown key"),
        (lambda d: d["workspace"].update(tmp="x"), "workspace.tmp: unknown key"),
        (lambda d: d["dataset"]["process_ops"].append({"type": "Flip"}), "dataset.process_ops[6].type: unknown operation 'Flip'"),
        (lambda d: d.pop("name"), "name: missing"),
        (lambda d: d["frontend"].pop("checkpoint"), "frontend.checkpoint: missing"),
        (lambda d: d["backend"].update(dtype="int4"), "backend.dtype: str 'int4' is not one of fp32, fp16, int8"),
        (lambda d: d["backend"]["quantize"].update(calibrate_mode="minmax"), "backend.quantize.calibrate_mode"),
        (lambda d: d["backend"]["quantize"].update(quantize_per_channel="yes"), "quantize_per_channel: expected true or false"),
        (lambda d: d["backend"]["quantize"].update(calibrate_range=99.999), "calibrate_range: 99.999 must be a fraction"),
        (lambda d: d["backend"]["quantize"].update(skip_layers=[True]), r"skip_layers[0]: expected a node name or a Conv index"),
        (lambda d: d["backend"]["quantize"].update(num_bins=10), "num_bins: expected a whole number from 128"),
        (lambda d: d["frontend"].update(type="pytorch"), "frontend.type: str 'pytorch': vampy compiles ONNX models only"),
        (lambda d: d["frontend"].update(dtype="int8"), "frontend.dtype"),
        (lambda d: d["frontend"].update(shape={"input": [1, "x"]}), "frontend.shape.input: expected a whole number"),
        (lambda d: d["frontend"].update(shape=[1, 1, 256, 256]), "frontend.shape: expected a mapping of input name to shape"),
        (lambda d: d.update(name="../up"), "name: '../up' must be a plain folder name"),
        (lambda d: d["dataset"]["sampler"].update(get_data_num=0), "get_data_num: expected a whole number from 1"),
        (lambda d: d["dataset"]["sampler"].update(pattern="sub/*.bmp"), "dataset.sampler.pattern"),
        (lambda d: d["dataset"].update(process_ops=[]), "dataset.process_ops: expected a list"),
        (lambda d: d["dataset"]["process_ops"].pop(0), "DecodeImage must come first"),
        (lambda d: d["dataset"]["process_ops"].insert(2, {"type": "ToTensor"}), r"dataset.process_ops[2]: ToTensor must be the last"),
        (lambda d: d["dataset"]["process_ops"][1].update(code="RGB2YCrCb"), "is not an OpenCV colour code name"),
        (lambda d: d["dataset"]["process_ops"][2].update(size=[1, 2, 3]), r"process_ops[2].size: expected one number or [height, width]"),
        (lambda d: d["dataset"]["process_ops"][2].update(size=[-1, -1], adaptive_side="long"), "one of them may be -1"),
        (lambda d: d["dataset"]["process_ops"][3].update(index=-1), r"process_ops[3].index"),
        (lambda d: d["dataset"]["process_ops"][4].update(norm_type="div256"), r"process_ops[4].norm_type"),
        (lambda d: d["dataset"]["process_ops"][4].update(norm_type="minusmean_divstd"), "this norm_type needs both mean and std"),
        (lambda d: d["dataset"]["process_ops"].__setitem__(4, {"type": "Normalize", "div255": "yes"}), "div255: expected true or false"),
        (lambda d: d["dataset"]["process_ops"][4].update(norm_type="div255", div255=False), "contradicts"),
        (lambda d: d["dataset"]["process_ops"].__setitem__(4, {"type": "Normalize", "mean": [1, 2], "std": [1]}), "same number of values"),
        (lambda d: d["dataset"]["process_ops"].__setitem__(1, {"type": "Pad"}), "give either pad_to_square: true or size"),
        (lambda d: d["dataset"]["process_ops"].__setitem__(1, {"type": "CenterCrop"}), r"process_ops[1].crop_size: missing"),
        (lambda d: d["dataset"]["process_ops"].__setitem__(1, "DecodeImage"), r"process_ops[1]: expected a mapping with a 'type'"),
    ],
)
def test_errors_name_the_key_path(edit: Any, message: str) -> None:
    data = seed()
    edit(data)
    assert message in error(data)


@pytest.mark.parametrize(("text", "message"), [("[1, 2]", "the top level: expected a mapping"), ("a: [", "not valid YAML at line"),
                                               ("", "is empty"), (" \n", "is empty")])
def test_not_a_config(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=message.replace("[", r"\[")):
        load_compile_config(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such compiler YAML file"):
        load_compile_config(tmp_path / "absent.yaml")
    with pytest.raises(InputError, match="is a folder"):
        load_compile_config(tmp_path)


def test_yaml_is_data_not_code(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("!!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_compile_config(path)
