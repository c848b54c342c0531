"""vdsp_params parsing: every OpType, every enum value, defaults, YAML, and each bad input."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.paths import REPO_ROOT
from vampy.errors import InputError
from vampy.formats.vdsp import (
    ColorConversion,
    InputFormat,
    Norm,
    OpKind,
    PadEdges,
    PreprocessSpec,
    ResizeMethod,
    describe_vdsp,
    load_vdsp,
    parse_vdsp,
)

VDSR_FILE = REPO_ROOT / "vdsp_params" / "official-vdsr-vdsp_params.json"
MINIMAL = {"IimageFormat": "RGB_PLANAR", "NormaType": "DIV255", "ColorCvtCode": "NO_CHANGE", "ResizeType": "BILINEAR_CV"}
SOURCE = "t.json"


def spec_of(op_type: str, **config: Any) -> PreprocessSpec:
    return parse_vdsp({"OpType": op_type, "OpConfig": config}, SOURCE)


def rgb(op_type: str = "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR", **config: Any) -> PreprocessSpec:
    return spec_of(op_type, **{**MINIMAL, **config})


def error_of(obj: object) -> str:
    with pytest.raises(InputError) as info:
        parse_vdsp(obj, SOURCE)
    message = str(info.value)
    assert "\n" not in message and message.startswith(SOURCE)
    return message


def config_error(**config: Any) -> str:
    return error_of({"OpType": "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR", "OpConfig": {**MINIMAL, **config}})


# --- the shipped file and the happy paths ------------------------------------------------------


def test_shipped_vdsr_file_loads() -> None:
    spec = load_vdsp(VDSR_FILE)
    assert spec.op_type == "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR" and spec.kind is OpKind.RESIZE
    assert spec.input_format is InputFormat.RGB_CHW and spec.input_layout == "chw"
    assert spec.output_hw == (256, 256) and spec.nominal_input_chw == (3, 256, 256)
    assert spec.norm is Norm.UNIT and spec.color is ColorConversion.NONE
    assert spec.resize_method is ResizeMethod.OPENCV_BILINEAR
    # fp16-rounded values are used exactly as written
    assert spec.mean == (0.485107421875, 0.4560546875, 0.406005859375)
    assert spec.std == (0.22900390625, 0.2239990234375, 0.2249755859375)
    assert spec.input_pitch_hw == (256, 256) and not spec.passthrough


def test_shipped_vdsr_file_is_the_documented_json() -> None:
    obj = json.loads(VDSR_FILE.read_text())
    assert obj == {
        "OpType": "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR",
        "OpConfig": {"IimageFormat": "RGB_PLANAR", "IimageWidth": 256, "IimageHeight": 256,
                     "OimageWidth": 256, "OimageHeight": 256, "IimageWidthPitch": 256, "IimageHeightPitch": 256,
                     "Mean": [0.485107421875, 0.4560546875, 0.406005859375],
                     "Std": [0.22900390625, 0.2239990234375, 0.2249755859375],
                     "NormaType": "DIV255", "ColorCvtCode": "NO_CHANGE", "ResizeType": "BILINEAR_CV"},
    }


def test_describe_vdsr() -> None:
    assert describe_vdsp(load_vdsp(VDSR_FILE)) == [
        "input: RGB planar uint8 (3,H,W), any size (file says 256x256)",
        "resize to 256x256 (OpenCV bilinear)",
        "colour: unchanged",
        "normalise: x / 255",
        "tensor: float32 (3,256,256)",
        "recorded, no effect on the tensor: input pitch 256x256",
    ]


RGB_OPS = {
    "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR": OpKind.RESIZE,
    "FUSION_OP_RGB_RESIZE_CVTCOLOR_CROP_NORM_TENSOR": OpKind.RESIZE_CROP,
    "FUSION_OP_RGB_CROP_RESIZE_CVTCOLOR_NORM_TENSOR": OpKind.CROP_RESIZE,
    "FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR": OpKind.LETTERBOX,
    "FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR_EXT": OpKind.RESIZE_PAD,
    "FUSION_OP_RGB_CVTCOLOR_NORM_TENSOR": OpKind.COLOR_ONLY,
}
NV12_OPS = {
    "FUSION_OP_YUV_NV12_RESIZE_2RGB_NORM_TENSOR": OpKind.RESIZE,
    "FUSION_OP_YUV_NV12_CVTCOLOR_RESIZE_NORM_TENSOR": OpKind.RESIZE,
    "FUSION_OP_YUV_NV12_RESIZE_CVTCOLOR_CROP_NORM_TENSOR": OpKind.RESIZE_CROP,
    "FUSION_OP_YUV_NV12_CVTCOLOR_RESIZE_CROP_NORM_TENSOR": OpKind.RESIZE_CROP,
    "FUSION_OP_YUV_NV12_CROP_CVTCOLOR_RESIZE_NORM_TENSOR": OpKind.CROP_RESIZE,
    "FUSION_OP_YUV_NV12_CVTCOLOR_LETTERBOX_NORM_TENSOR": OpKind.LETTERBOX,
    "FUSION_OP_YUV_NV12_LETTERBOX_2RGB_NORM_TENSOR": OpKind.LETTERBOX,
}
SINGLE_OPS = {
    "SINGLE_OP_RESIZE": OpKind.SINGLE_RESIZE,
    "SINGLE_OP_CROP": OpKind.SINGLE_CROP,
    "SINGLE_OP_CVT_COLOR": OpKind.SINGLE_COLOR,
}


@pytest.mark.parametrize(("op_type", "kind"), RGB_OPS.items())
def test_rgb_op_types(op_type: str, kind: OpKind) -> None:
    spec = rgb(op_type)
    assert spec.kind is kind and spec.op_type == op_type and spec.input_layout == "chw" and not spec.passthrough


@pytest.mark.parametrize(("op_type", "kind"), NV12_OPS.items())
def test_nv12_op_types_default_to_nv12_input_and_rgb_conversion(op_type: str, kind: OpKind) -> None:
    spec = spec_of(op_type, NormaType="EQUAL")
    assert spec.kind is kind and spec.input_format is InputFormat.NV12 and spec.input_layout == "nv12"
    assert spec.color is ColorConversion.NV12_TO_RGB


@pytest.mark.parametrize(("op_type", "kind"), SINGLE_OPS.items())
def test_single_ops_do_not_normalise(op_type: str, kind: OpKind) -> None:
    spec = spec_of(op_type)
    assert spec.kind is kind and spec.norm is Norm.NONE and spec.color is ColorConversion.NONE
    assert spec_of(op_type, NormaType="EQUAL").norm is Norm.NONE


def test_single_cvt_color_with_nv12_code_takes_nv12_input() -> None:
    spec = spec_of("SINGLE_OP_CVT_COLOR", ColorCvtCode="YUV2RGB_NV12", ColorSpace="BT601")
    assert spec.input_layout == "nv12" and spec.color is ColorConversion.NV12_TO_RGB


@pytest.mark.parametrize("config", [None, {}])
def test_bert_passes_through(config: dict[str, Any] | None) -> None:
    obj: dict[str, Any] = {"OpType": "BERT_EMBEDDING_OP"}
    if config is not None:
        obj["OpConfig"] = config
    spec = parse_vdsp(obj, SOURCE)
    assert spec.passthrough and spec.kind is OpKind.PASSTHROUGH
    assert describe_vdsp(spec) == ["input: token ids passed to the model unchanged (BERT_EMBEDDING_OP)"]


@pytest.mark.parametrize(("value", "fmt", "layout"), [
    ("RGB_PLANAR", InputFormat.RGB_CHW, "chw"),
    ("BGR_PLANAR", InputFormat.BGR_CHW, "chw"),
    ("RGB888", InputFormat.RGB_HWC, "hwc"),
    ("BGR888", InputFormat.BGR_HWC, "hwc"),
])
def test_image_formats(value: str, fmt: InputFormat, layout: str) -> None:
    spec = rgb(IimageFormat=value)
    assert spec.input_format is fmt and spec.input_layout == layout


def test_yuv_nv12_format() -> None:
    spec = spec_of("FUSION_OP_YUV_NV12_RESIZE_2RGB_NORM_TENSOR", IimageFormat="YUV_NV12", NormaType="DIV255",
                   ColorCvtCode="YUV2RGB_NV12")
    assert spec.input_format is InputFormat.NV12 and spec.input_layout == "nv12"


@pytest.mark.parametrize(("value", "norm"), [
    ("DIV255_MINUSMEAN_DIVSTD", Norm.UNIT_MEAN_STD),
    ("DIV255", Norm.UNIT),
    ("MINUSMEAN_DIVSTD", Norm.MEAN_STD),
    ("EQUAL", Norm.NONE),
    ("DIV1275_MINUSONE", Norm.SYMMETRIC),
])
def test_norm_types(value: str, norm: Norm) -> None:
    assert rgb(NormaType=value, Mean=[1, 2, 3], Std=[1, 1, 1]).norm is norm


@pytest.mark.parametrize(("value", "color"), [
    ("NO_CHANGE", ColorConversion.NONE),
    ("BGR2RGB", ColorConversion.BGR_TO_RGB),
    ("RGB2BGR", ColorConversion.RGB_TO_BGR),
])
def test_color_codes(value: str, color: ColorConversion) -> None:
    assert rgb(ColorCvtCode=value).color is color


@pytest.mark.parametrize(("value", "method"), [
    ("BILINEAR_CV", ResizeMethod.OPENCV_BILINEAR),
    ("BILINEAR", ResizeMethod.OPENCV_BILINEAR),
    ("BILINEAR_PILLOW", ResizeMethod.PILLOW_BILINEAR),
])
def test_resize_types(value: str, method: ResizeMethod) -> None:
    assert rgb(ResizeType=value).resize_method is method


def test_minimal_file_has_no_sizes_and_with_output_hw_sets_them() -> None:
    spec = rgb()
    assert spec.output_hw is None and spec.nominal_input_chw is None and spec.input_hw is None
    sized = spec.with_output_hw(224, 320)
    assert sized.output_hw == (224, 320) and spec.output_hw is None  # frozen: a copy
    assert describe_vdsp(spec)[1] == "resize to the model's input size (OpenCV bilinear); native size kept when the model has none"
    assert describe_vdsp(sized)[-1] == "tensor: float32 (3,224,320)"


def test_defaults_when_enums_are_missing() -> None:
    spec = spec_of("FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR", NormaType="EQUAL")
    assert spec.input_format is InputFormat.RGB_CHW and spec.color is ColorConversion.NONE
    assert spec.resize_method is ResizeMethod.OPENCV_BILINEAR and spec.pad_value == (114, 114, 114)


def test_all_section3_keys_and_recorded_vendor_keys_are_accepted() -> None:
    spec = rgb(
        "FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR_EXT",
        IimageWidth=832, IimageHeight=960, IimageWidthPitch=832, IimageHeightPitch=960,
        OimageWidth=512, OimageHeight=512, OimageWidthPitch=512, OimageHeightPitch=512, OimageFormat="RGB_PLANAR",
        ResizeWidth=500, ResizeHeight=500, CropX=0, CropY=0, CropWidth=10, CropHeight=10,
        Mean=[0.5, 0.5, 0.5], Std=[0.5, 0.5, 0.5], Padding=[127, 127, 127],
        PaddingLeft=6, PaddingRight=6, PaddingTop=7, PaddingBottom=5,
        Scale=[1.0, 2], TensorType0="UINT8", ColorSpace="BT601", EdgePaddingType="CONSTANT",
    )
    assert spec.output_hw == (512, 512) and spec.pad_edges == PadEdges(7, 5, 6, 6)
    assert spec.scale == (1.0, 2.0) and spec.tensor_type == "UINT8" and spec.output_format is InputFormat.RGB_CHW
    assert spec.output_pitch_hw == (512, 512) and spec.crop_hw == (10, 10) and spec.pad_value == (127, 127, 127)
    assert "recorded, no effect on the tensor: input pitch 832x960; output pitch 512x512; scale 1, 2; tensor type UINT8" \
        in describe_vdsp(spec)


def test_ext_output_size_follows_resize_and_padding() -> None:
    spec = rgb("FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR_EXT", ResizeWidth=500, ResizeHeight=400,
               PaddingLeft=6, PaddingRight=4, PaddingTop=7, PaddingBottom=5)
    assert spec.output_hw == (412, 510)
    assert spec.with_output_hw(412, 510).output_hw == (412, 510)


def test_scale_may_be_a_single_number() -> None:
    assert rgb(Scale=2).scale == (2.0,)


def test_yaml_is_accepted_and_equals_json(tmp_path: Path) -> None:
    obj = json.loads(VDSR_FILE.read_text())
    for name in ("v.yaml", "v.yml"):
        path = tmp_path / name
        path.write_text(yaml.safe_dump(obj))
        from_yaml = load_vdsp(path).to_dict()
        from_json = load_vdsp(VDSR_FILE).to_dict()
        assert from_yaml.pop("source") == str(path) and from_json.pop("source") == str(VDSR_FILE)
        assert from_yaml == from_json


def test_to_dict_is_json_able_with_our_names() -> None:
    spec = rgb("FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR_EXT", ResizeWidth=4, ResizeHeight=4,
               PaddingLeft=1, PaddingRight=0, PaddingTop=0, PaddingBottom=0)
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["kind"] == "resize_pad" and data["input_format"] == "rgb_chw" and data["norm"] == "unit"
    assert data["pad_edges"] == {"top": 0, "bottom": 0, "left": 1, "right": 0}
    assert data["output_hw"] == [4, 5] and data["op_type"] == "FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR_EXT"


def test_describe_classification_crop() -> None:
    spec = rgb("FUSION_OP_RGB_RESIZE_CVTCOLOR_CROP_NORM_TENSOR", ResizeWidth=256, ResizeHeight=256,
               OimageWidth=224, OimageHeight=224, CropX=16, CropY=16, NormaType="DIV255_MINUSMEAN_DIVSTD",
               Mean=[0.5, 0.25, 0.125], Std=[0.5, 0.5, 0.5], ColorCvtCode="BGR2RGB")
    assert describe_vdsp(spec) == [
        "input: RGB planar uint8 (3,H,W), any size",
        "resize to 256x256 (OpenCV bilinear)",
        "crop 224x224 at x=16, y=16",
        "colour: swap channels 0 and 2 (BGR -> RGB)",
        "normalise: (x / 255 - mean) / std, mean=(0.5, 0.25, 0.125), std=(0.5, 0.5, 0.5)",
        "tensor: float32 (3,224,224)",
    ]


def test_describe_letterbox_and_nv12_order() -> None:
    lines = describe_vdsp(spec_of("FUSION_OP_YUV_NV12_CVTCOLOR_LETTERBOX_NORM_TENSOR", NormaType="DIV1275_MINUSONE",
                                  OimageWidth=640, OimageHeight=320, ResizeType="BILINEAR_PILLOW"))
    assert lines[1].startswith("colour: NV12 -> RGB")
    assert lines[2] == "letterbox into 640x320: keep aspect ratio (Pillow bilinear, antialiased), pad centred with (114, 114, 114)"
    assert lines[3] == "normalise: x / 127.5 - 1"


# --- bad input -----------------------------------------------------------------------------------


def test_unknown_op_type_lists_supported() -> None:
    message = error_of({"OpType": "FUSION_OP_MAGIC", "OpConfig": MINIMAL})
    assert "'FUSION_OP_MAGIC'" in message and "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR" in message
    assert "BERT_EMBEDDING_OP" in message


@pytest.mark.parametrize("op_type", [None, 3, ["FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR"]])
def test_op_type_must_be_a_known_string(op_type: object) -> None:
    assert "OpType" in error_of({"OpType": op_type, "OpConfig": MINIMAL})


def test_missing_op_type() -> None:
    assert "OpType missing" in error_of({"OpConfig": MINIMAL})


def test_unknown_top_level_key() -> None:
    message = error_of({"OpType": "BERT_EMBEDDING_OP", "Extra": 1})
    assert "'Extra'" in message and "OpType, OpConfig" in message


def test_unknown_op_config_key_names_the_path_and_the_known_keys() -> None:
    message = config_error(Foo=1)
    assert "OpConfig.Foo" in message and "IimageFormat" in message and "TensorType0" in message


@pytest.mark.parametrize(("key", "supported"), [
    ("IimageFormat", "RGB_PLANAR, BGR_PLANAR, RGB888, BGR888, YUV_NV12"),
    ("NormaType", "DIV255_MINUSMEAN_DIVSTD, DIV255, MINUSMEAN_DIVSTD, EQUAL, DIV1275_MINUSONE"),
    ("ColorCvtCode", "NO_CHANGE, BGR2RGB, RGB2BGR, YUV2RGB_NV12"),
    ("ResizeType", "BILINEAR_CV, BILINEAR, BILINEAR_PILLOW"),
    ("ColorSpace", "BT601"),
    ("EdgePaddingType", "CONSTANT"),
])
def test_unknown_enum_value_lists_supported_values(key: str, supported: str) -> None:
    message = config_error(**{key: "NEAREST_MAGIC"})
    assert f"OpConfig.{key} = 'NEAREST_MAGIC'" in message and supported in message


@pytest.mark.parametrize(("config", "needle"), [
    ({"OimageWidth": "256", "OimageHeight": 256}, "OpConfig.OimageWidth = '256' is a string"),
    ({"OimageWidth": 256.0, "OimageHeight": 256}, "OpConfig.OimageWidth = 256.0 is a number"),
    ({"OimageWidth": True, "OimageHeight": 256}, "OpConfig.OimageWidth = True is a boolean"),
    ({"Mean": [0.5, 0.5]}, "OpConfig.Mean = [0.5, 0.5] must be a list of 3 values"),
    ({"Mean": 0.5}, "OpConfig.Mean = 0.5 must be a list of 3 values"),
    ({"Mean": [0.5, "x", 0.5]}, "OpConfig.Mean[1] = 'x' is not a finite number"),
    ({"Mean": [0.5, float("nan"), 0.5]}, "OpConfig.Mean[1] = nan is not a finite number"),
    ({"Std": [0.5, 0, 0.5]}, "OpConfig.Std[1] = 0 must be > 0"),
    ({"Padding": [114, 300, 114]}, "OpConfig.Padding[1] = 300 is out of range"),
    ({"TensorType0": 8}, "OpConfig.TensorType0 = 8 is an integer"),
    ({"NormaType": 3}, "OpConfig.NormaType = 3 is not supported"),
])
def test_wrong_value_types(config: dict[str, Any], needle: str) -> None:
    assert needle in config_error(**config)


@pytest.mark.parametrize(("key", "value"), [
    ("OimageWidth", 0), ("OimageWidth", -5), ("ResizeHeight", 16385), ("CropX", -1), ("PaddingLeft", 20000),
])
def test_sizes_out_of_range(key: str, value: int) -> None:
    message = config_error(**{"OimageWidth": 4, "OimageHeight": 4, key: value})
    assert f"OpConfig.{key} = {value} is out of range" in message and "16384" in message


def test_absurd_area_is_refused() -> None:
    message = config_error(OimageWidth=16384, OimageHeight=16384)
    assert "OimageWidth x OimageHeight = 16384 x 16384" in message and "3072 MiB" in message and "512 MiB" in message


def test_width_without_height() -> None:
    assert "OpConfig.OimageWidth is set but OpConfig.OimageHeight is missing" in config_error(OimageWidth=4)


def test_fused_op_needs_norma_type() -> None:
    message = error_of({"OpType": "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR", "OpConfig": {}})
    assert "OpConfig.NormaType is missing" in message and "DIV255" in message


@pytest.mark.parametrize("norm", ["DIV255_MINUSMEAN_DIVSTD", "MINUSMEAN_DIVSTD"])
def test_mean_std_norms_need_mean_and_std(norm: str) -> None:
    assert "needs OpConfig.Mean" in config_error(NormaType=norm, Std=[1, 1, 1])
    assert "needs OpConfig.Std" in config_error(NormaType=norm, Mean=[1, 1, 1])


def test_single_op_refuses_normalisation_and_colour() -> None:
    assert "OpConfig.NormaType = DIV255" in error_of({"OpType": "SINGLE_OP_RESIZE", "OpConfig": {"NormaType": "DIV255"}})
    message = error_of({"OpType": "SINGLE_OP_CROP", "OpConfig": {"ColorCvtCode": "BGR2RGB"}})
    assert "OpConfig.ColorCvtCode = BGR2RGB" in message and "NO_CHANGE" in message


def test_nv12_op_with_rgb_format() -> None:
    message = error_of({"OpType": "FUSION_OP_YUV_NV12_RESIZE_2RGB_NORM_TENSOR",
                        "OpConfig": {"IimageFormat": "RGB_PLANAR", "NormaType": "EQUAL"}})
    assert "OpConfig.IimageFormat = RGB_PLANAR" in message and "YUV_NV12" in message


def test_rgb_op_with_nv12_format() -> None:
    assert "OpConfig.IimageFormat = YUV_NV12" in config_error(IimageFormat="YUV_NV12", ColorCvtCode="YUV2RGB_NV12")


def test_nv12_needs_the_nv12_colour_code() -> None:
    message = error_of({"OpType": "FUSION_OP_YUV_NV12_RESIZE_2RGB_NORM_TENSOR",
                        "OpConfig": {"ColorCvtCode": "BGR2RGB", "NormaType": "EQUAL"}})
    assert "OpConfig.ColorCvtCode = BGR2RGB" in message and "YUV2RGB_NV12" in message


def test_crop_that_cannot_fit_the_resized_image() -> None:
    message = error_of({"OpType": "FUSION_OP_RGB_RESIZE_CVTCOLOR_CROP_NORM_TENSOR", "OpConfig": {
        **MINIMAL, "ResizeWidth": 256, "ResizeHeight": 256, "OimageWidth": 224, "OimageHeight": 224,
        "CropX": 40, "CropY": 16}})
    assert "CropX=40" in message and "256x256" in message


def test_ext_oimage_disagreeing_with_resize_and_padding() -> None:
    message = error_of({"OpType": "FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR_EXT", "OpConfig": {
        **MINIMAL, "ResizeWidth": 500, "ResizeHeight": 500, "PaddingLeft": 6, "PaddingRight": 6,
        "OimageWidth": 500, "OimageHeight": 500}})
    assert "500 x 500" in message and "512 x 500" in message


def test_with_output_hw_checks_geometry_and_values() -> None:
    crop = rgb("FUSION_OP_RGB_RESIZE_CVTCOLOR_CROP_NORM_TENSOR", ResizeWidth=256, ResizeHeight=256)
    assert crop.with_output_hw(224, 224).output_hw == (224, 224)
    with pytest.raises(InputError, match="does not fit inside ResizeWidth x ResizeHeight = 256x256"):
        crop.with_output_hw(300, 300)
    ext = rgb("FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR_EXT", ResizeWidth=8, ResizeHeight=8, PaddingLeft=2)
    with pytest.raises(InputError, match="Resize \\+ Padding give 10x8 but the model's input size is 16x16"):
        ext.with_output_hw(16, 16)
    with pytest.raises(InputError, match="output height 0 is out of range"):
        rgb().with_output_hw(0, 4)


@pytest.mark.parametrize(("text", "needle"), [
    ("[1, 2]", "not a list"),
    ('"FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR"', "not a string"),
    ("null", "not null"),
    ('{"OpType": "BERT_EMBEDDING_OP", "OpConfig": [1]}', "OpConfig must be an object of keys, not a list"),
])
def test_non_object_json(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "v.json"
    path.write_text(text)
    with pytest.raises(InputError, match=needle) as info:
        load_vdsp(path)
    assert str(path) in str(info.value)


def test_corrupt_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "v.json"
    path.write_text('{"OpType": "BERT_EMBEDDING_OP",\n "OpConfig": {,}}')
    with pytest.raises(InputError) as info:
        load_vdsp(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "not valid JSON (line 2" in message and "\n" not in message


def test_corrupt_yaml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text("OpType: [unclosed\nOpConfig: {a: 1\n")
    with pytest.raises(InputError) as info:
        load_vdsp(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "not valid YAML (line" in message and "\n" not in message


def test_yaml_tags_are_not_executed(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text("!!python/object/apply:os.system ['true']\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_vdsp(path)


def test_duplicate_json_key(tmp_path: Path) -> None:
    path = tmp_path / "v.json"
    path.write_text('{"OpType": "BERT_EMBEDDING_OP", "OpType": "SINGLE_OP_CROP"}')
    with pytest.raises(InputError, match="duplicate key 'OpType'"):
        load_vdsp(path)


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "v.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="not UTF-8"):
        load_vdsp(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such vdsp_params file; check the --vdsp_params path") as info:
        load_vdsp(tmp_path / "absent.json")
    assert "absent.json" in str(info.value)
    with pytest.raises(InputError, match="is a folder"):
        load_vdsp(tmp_path)
