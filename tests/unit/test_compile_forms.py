"""Each value form of the zoo's compiler YAMLs (VAMP-FORMATS.md section 6b), as the files write it:
`vampy compile FILE --dry_run` accepts it (exit 0, no "unknown key", no traceback) and the plan
shows what vampy does with it; the process ops mean what vamc means (the letterbox is the vdsp
letterbox, number for number; gray and Pillow decoding; [height, width] sizes)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from vampy.cli import main
from vampy.config import CenterCropOp, DecodeImageOp, NormalizeOp, PadOp, ResizeOp, ToTensorOp
from vampy.data.preprocess import preprocess
from vampy.data.process_ops import apply_op, image_tensor
from vampy.formats.vdsp import parse_vdsp

# The yolov5 file of VAMP-FORMATS.md 6b (letterbox, div255 with norm_type null, *_nms extra op).
LETTERBOX = """\
name: ultralytics_yolov5s_int8
frontend:
  checkpoint: /path/to/yolov5s-640.onnx
  shape:
    images: [1, 3, 640, 640]
  type: onnx
  dtype: fp32
graph:
  extra_ops:
    type: yolov5_nms
    params:
      num_classes: 80
      nms_threshold: 0.65
      confidence_threshold: 0.001
      anchor: [10, 13, 16, 30, 33, 23, 30, 61, 62, 45, 59, 119, 116, 90, 156, 198, 373, 326]
      strides: [8, 16, 32]
dataset:
  type: tvm
  path: path/to/coco/det_coco_calib
  sampler:
    suffix: jpg
    get_data_num: 50
  process_ops:
    - type: DecodeImage
    - type: Resize
      size: [640, -1]
      adaptive_side: long
    - type: Pad
      pad_to_square: true
    - type: Normalize
      div255: true
      norm_type: null
    - type: ToTensor
backend:
  type: tvm_vacc
  dtype: int8
  compile:
    data_transport_mode: 3
    cluster_mode: 0
  quantize:
    calibrate_mode: max
    quantize_per_channel: true
workspace:
  path: ./deploy_weights/
"""

# fairmot: fit inside [height, width] keeping the ratio; yolox: div255 false with norm_type null (raw 0..255).
FIT_INSIDE_BOX = """\
name: official_fairmot_run_stream_int8
frontend:
  shape:
    input: [1, 3, 608, 1088]
  type: onnx
  checkpoint: /path/to/fairmot_yolov5s.onnx
  dtype: fp32
backend:
  type: tvm_vacc
  dtype: int8
  compile: {data_transport_mode: 1}
  quantize: {calibrate_mode: kl_divergence, quantize_per_channel: true}
dataset:
  type: tvm
  path: /path/to/mot/MOT17/calib/
  sampler: {suffix: jpg, get_data_num: 50}
  process_ops:
    - type: DecodeImage
    - type: Resize
      size: [608, 1088]
      adaptive_side: long
    - type: Normalize
      div255: false
      norm_type: null
    - type: ToTensor
workspace:
  path: ./deploy_weights/
"""

# rtdetr / grounding_dino: fp16, a dataset with process_ops and no path.
NO_DATASET_PATH = """\
name: official_rtdetr_run_stream_fp16
frontend:
  checkpoint: /path/to/rtdetr_r18vd_dec3_6x_coco_from_paddle.onnx
  shape:
    images: [1, 3, 640, 640]
  type: onnx
  dtype: fp32
backend:
  type: tvm_vacc
  dtype: fp16
  compile:
    opt_level: 2
    data_transport_mode: 1
    output_layout : ['0:YX','1:YX']
  quantize:
    calibrate_mode: kl_divergence
    quantize_per_channel: true
dataset:
  process_ops:
    - type: DecodeImage
    - type: Resize
      size: [640, 640]
    - type: Normalize
      div255: true
      norm_type: null
    - type: ToTensor
workspace:
  path: ./deploy_weights/
"""

# grounding_dino's text encoder: fp16, no dataset at all, token inputs.
NO_DATASET = """\
name: text_encoder_build_run_stream_fp16
frontend:
  shape:
    input_ids: [1, 195]
    position_ids: [1, 195]
    token_type_ids: [1, 195]
    text_token_mask: [1, 195, 195]
  checkpoint: /path/to/text_encoder_groundingdino_swint_ogc.onnx
  type: onnx
  dtype: fp32
backend:
  type: tvm_vacc
  dtype: fp16
  compile: {opt_level: 2, data_transport_mode: 1, enable_float_to_half: true}
workspace:
  path: ./deploy_weights
"""

# nlp/text2vec: an npz folder, no process_ops.
NPZ_TOKENS = """\
name: bge-m3-512-int8
frontend:
  checkpoint: /path/to/bge-m3/bge-m3-512-sim.onnx
  shape:
    input_ids: [1, 512]
    attention_mask: [1, 512]
    token_type_ids: [1, 512]
backend:
  type: tvm_vacc
  dtype: int8
  compile:
    cluster_mode: 0
    data_type: 0
    output_layout : ["0:YX"]
  quantize:
    calibrate_mode: max
    quantize_per_channel: false
    overflow_adaptive: 1
    calibrate_range: 0.99999
dataset:
  type: tvm
  path: /path/to/quant_dir
  sampler:
    suffix: npz
    get_data_num: 10
workspace:
  path: ./vacc_deploy
"""

# point_pillars: an npz folder named by neither suffix nor process_ops.
NPZ_POINTS = """\
name: pointpillar_int8
frontend:
  checkpoint: /path/to/pointpillar_openpcdet.onnx
  shape:
    voxels: [16000, 32, 10]
    voxel_coords: [3, 16000]
    mask: [1, 16000]
  type: onnx
  dtype: fp32
backend:
  type: tvm_vacc
  dtype: int8
  compile: {cluster_mode: 0}
  quantize: {calibrate_mode: percentile, quantize_per_channel: true, skip_conv_layers: [0]}
graph:
  extra_ops:
    type: pointpillar_nms
    params: {num_classes: 3, voxel_size: [0.16, 0.16, 4.0]}
dataset:
  type: tvm
  path: /path/to/fov_pointcloud_float32_npz
  sampler: {get_data_num: 100}
workspace:
  path: ./deploy_weights/
"""

# text recognition cnn_ctc: gray decode, [height, width], a 1-value mean without div255, workspace.work_dir.
GRAY = """\
name: resnet_fc_without_reshape
frontend:
  shape:
    input: [1, 1, 32, 100]
  checkpoint: /path/to/resnet_fc_without_reshape.onnx
backend:
  type: tvm_vacc
  dtype: int8
  compile: {data_transport_mode: 1, cluster_mode: 0}
  quantize: {calibrate_mode: percentile, quantize_per_channel: true}
dataset:
  path: /path/to/iii5k
  sampler:
    get_data_num: 100
  process_ops:
  - type: DecodeImage
    cv2_flags: 0
  - type: Resize
    size: [32, 100]
  - type: Normalize
    mean: [0.5]
    std: [0.5]
  - type: ToTensor
workspace:
  work_dir: ./workspace/weights
  save_log: false
"""

# face SR pfsrnet: Pillow decode, crop and resize.
PILLOW = """\
name: official_pfsrnet_run_stream_int8
frontend:
  shape:
    input: [1, 3, 16, 16]
  type: onnx
  checkpoint: /path/to/pfsrnet-16.onnx
  dtype: fp32
backend:
  type: tvm_vacc
  dtype: int8
  compile: {data_transport_mode: 1}
  quantize: {calibrate_mode: kl_divergence, quantize_per_channel: true}
dataset:
  type: tvm
  path: /path/to/sr/CelebA/Img/img_align_celeba_1k
  sampler: {suffix: jpg, get_data_num: 50}
  process_ops:
    - type: DecodeImage
      backend: pillow
    - type: CenterCrop
      crop_size: [178, 178]
      backend: pillow
    - type: Resize
      size: [128, 128]
      backend: pillow
    - type: Resize
      size: [16, 16]
      backend: pillow
    - type: Normalize
      mean: [0.5, 0.5, 0.5]
      std: [0.5, 0.5, 0.5]
    - type: ToTensor
workspace:
  path: ./deploy_weights/
"""

# image compression elic: a dynamic range, an input named like an internal tensor, dynamic_params.
DYNAMIC = """\
name: elic_dynamic_gs_run_stream_fp16
frontend:
  shape:
    /9/Add_output_0: [[1, 192, 128, 128], [1, 192, 512, 512]]
  checkpoint: /path/to/gs-dynamic.onnx
  type: onnx
  dtype: fp32
backend:
  type: tvm_vacc
  dtype: fp16
  compile: {data_type: 0, opt_level: 2}
  dynamic_params:
    is_elic_gs: true
    enable_graph_partition: true
workspace:
  path: ./deploy_weights
"""

# vgg, dbnet, ppocr rec: more quantize keys; hrnet pose: more workspace keys.
MORE_KEYS = """\
name: timm_vgg_int8
frontend:
  shape: {input: [1, 3, 224, 224]}
  type: onnx
  checkpoint: /path/to/vgg11.onnx
  dtype: fp32
backend:
  type: tvm_vacc
  dtype: int8
  compile: {data_transport_mode: 1, cluster_mode: 0, dense_special_config: [1, 4096, 4096]}
  quantize:
    calibrate_mode: max
    quantize_per_channel: true
    dense_special_config: [1, 4096, 4096]
    stream_mode: true
    calibrate_chunk_by: -1
    requant_suppress: true
    quantize_mode: force_auto
    nearest_interpol_on_dsp: true
    quantize_operators: ["!nn.vacc_matmul", "nn.conv2d"]
    skip_conv_layers: [0, 1]
    ops_usingfp: [concatenate]
graph:
  extra_ops: {type: softmax}
dataset:
  type: tvm
  path: /path/to/ILSVRC2012_img_calib
  sampler: {suffix: JPEG, get_data_num: 50}
  process_ops:
    - type: DecodeImage
    - type: Resize
      size: [256, 256]
    - type: CenterCrop
      crop_size: [224, 224]
    - type: Normalize
      mean: [0.485, 0.456, 0.406]
      std: [0.229, 0.224, 0.225]
    - type: ToTensor
workspace:
  work_dir: ./vacc
  enable_ir: false
  save_log: true
  env_recheck: false
"""

FORMS = {"letterbox": LETTERBOX, "fit_inside_box": FIT_INSIDE_BOX, "no_dataset_path": NO_DATASET_PATH, "no_dataset": NO_DATASET,
         "npz_tokens": NPZ_TOKENS, "npz_points": NPZ_POINTS, "gray": GRAY, "pillow": PILLOW, "dynamic": DYNAMIC, "more_keys": MORE_KEYS}


def dry_run(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    path = tmp_path / "form.yaml"
    path.write_text(text)
    with pytest.raises(SystemExit) as info:
        main(["compile", str(path), "--dry_run"])
    captured = capsys.readouterr()
    assert info.value.code in (0, None), captured.err
    assert "unknown key" not in captured.out + captured.err and "Traceback" not in captured.err
    plan: dict[str, Any] = json.loads(captured.out)
    return plan


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_passes_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], form: str) -> None:
    plan = dry_run(tmp_path, FORMS[form], capsys)
    assert plan["warnings"] == [] and all(entry["reason"] for entry in plan["ignored_keys"])


def test_letterbox_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ops = dry_run(tmp_path, LETTERBOX, capsys)["calibration"]["data"]["process_ops"]
    assert ops[1] == {"type": "Resize", "size_wh": [640, 640], "interpolation": "bilinear", "backend": "cv2", "adaptive_side": "long"}
    assert ops[2] == {"type": "Pad", "pad_to_square": True, "size_wh": None, "value": None}
    assert ops[3]["norm"] == "unit"


def test_fit_inside_box_and_raw_pixels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ops = dry_run(tmp_path, FIT_INSIDE_BOX, capsys)["calibration"]["data"]["process_ops"]
    assert ops[1]["size_wh"] == [1088, 608] and ops[1]["adaptive_side"] == "long"
    assert ops[2]["norm"] == "none" and ops[2]["raw_by_choice"]


def test_no_dataset_or_no_path_needs_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for text in (NO_DATASET_PATH, NO_DATASET):
        plan = dry_run(tmp_path, text, capsys)
        assert plan["calibration"] is None and "dataset.path" not in plan["files"]
    assert dry_run(tmp_path, NO_DATASET_PATH, capsys)["unused_keys"] == ["backend.quantize", "dataset"]
    int8 = NO_DATASET_PATH.replace("dtype: fp16", "dtype: int8")
    path = tmp_path / "int8.yaml"
    path.write_text(int8)
    with pytest.raises(SystemExit) as info:
        main(["compile", str(path), "--dry_run"])
    assert info.value.code == 3 and "dataset.path: missing; backend.dtype int8 needs calibration" in capsys.readouterr().err


def test_npz_calibration_sets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for text in (NPZ_TOKENS, NPZ_POINTS):
        data = dry_run(tmp_path, text, capsys)["calibration"]["data"]
        assert data["kind"] == "npz" and data["process_ops"] == []


def test_gray_and_pillow_and_work_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gray = dry_run(tmp_path, GRAY, capsys)
    assert gray["output_dir"] == "workspace/weights/resnet_fc_without_reshape"
    ops = gray["calibration"]["data"]["process_ops"]
    assert ops[0]["grayscale"] and ops[1]["size_wh"] == [100, 32] and ops[2]["norm"] == "unit_mean_std"
    ops = dry_run(tmp_path, PILLOW, capsys)["calibration"]["data"]["process_ops"]
    assert {op.get("backend") for op in ops if "backend" in op} == {"pillow"}


def test_dynamic_range_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = dry_run(tmp_path, DYNAMIC, capsys)
    assert plan["input_shape_ranges"] == {"/9/Add_output_0": {"min": [1, 192, 128, 128], "max": [1, 192, 512, 512]}}
    assert plan["input_shapes"] == {} and any("dynamic, [1, 192, 128, 128] .. [1, 192, 512, 512]" in n for n in plan["notes"])


def test_more_quantize_and_workspace_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = dry_run(tmp_path, MORE_KEYS, capsys)
    ignored = {entry["key"] for entry in plan["ignored_keys"]}
    assert {"backend.quantize.dense_special_config", "backend.quantize.stream_mode", "backend.quantize.calibrate_chunk_by",
            "backend.quantize.nearest_interpol_on_dsp", "backend.quantize.quantize_operators", "workspace.enable_ir",
            "workspace.save_log", "workspace.env_recheck"} <= ignored
    kept = {entry["key"]: entry["items"] for entry in plan["calibration"]["nodes_kept_in_float"]}
    assert kept["backend.quantize.ops_usingfp"] == ["Concat"] and kept["backend.quantize.quantize_operators"] == ["MatMul"]


def test_unknown_keys_stay_errors_and_typos_name_the_likely_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(LETTERBOX.replace("      adaptive_side: long\n", "      adaptive_side: long\n      keep_ratio: true\n"))
    with pytest.raises(SystemExit) as info:
        main(["compile", str(path), "--dry_run"])
    err = capsys.readouterr().err
    assert info.value.code == 3 and "dataset.process_ops[1].keep_ratio: unknown key (expected one of: size," in err
    plan = dry_run(tmp_path, LETTERBOX.replace("adaptive_side: long", "adaptive_sid: long"), capsys)
    assert "dataset.process_ops[1].adaptive_sid: not a key vampy knows, probably a misspelling of adaptive_side" in plan["warnings"][0]


# --- what the ops mean ---


def _photo(height_px: int, width_px: int) -> np.ndarray:
    """An RGB image with structure in both directions, so a one-pixel shift shows."""
    y, x = np.mgrid[0:height_px, 0:width_px]
    return np.stack([x * 255 // max(width_px - 1, 1), y * 255 // max(height_px - 1, 1), (x * y) % 256], axis=2).astype(np.uint8)


@pytest.mark.parametrize("hw", [(24, 40), (40, 24), (31, 17), (32, 32)])
def test_yaml_letterbox_is_the_vdsp_letterbox(tmp_path: Path, hw: tuple[int, int]) -> None:
    """Resize [32, -1] long + Pad pad_to_square + div255 gives the vdsp LETTERBOX's numbers exactly
    (its scaled size, its centred edges, its pad value 114)."""
    image = _photo(*hw)
    cv2.imwrite(str(tmp_path / "a.png"), image[:, :, ::-1])
    ops = (DecodeImageOp(), ResizeOp((32, 32), adaptive_side="long"), PadOp(pad_to_square=True), NormalizeOp("unit"), ToTensorOp())
    spec = parse_vdsp({"OpType": "FUSION_OP_RGB_LETTERBOX_CVTCOLOR_NORM_TENSOR",
                       "OpConfig": {"IimageFormat": "RGB_PLANAR", "OimageWidth": 32, "OimageHeight": 32, "NormaType": "DIV255",
                                    "ColorCvtCode": "NO_CHANGE", "ResizeType": "BILINEAR_CV"}}, "l.json")
    expected = preprocess(spec, np.ascontiguousarray(image.transpose(2, 0, 1)))
    np.testing.assert_array_equal(image_tensor(tmp_path / "a.png", ops, "x.yaml"), expected)


def test_resize_sizes_are_height_width_and_minus_one_follows_the_ratio() -> None:
    image = _photo(20, 40)
    assert apply_op(image, ResizeOp((100, 32))).shape[:2] == (32, 100)  # parsed from [32, 100]
    assert apply_op(image, ResizeOp((0, 10))).shape[:2] == (10, 20)  # [10, -1]
    assert apply_op(image, ResizeOp((16, 16), adaptive_side="short")).shape[:2] == (16, 32)
    assert apply_op(image, ResizeOp((1088, 608), adaptive_side="long")).shape[:2] == (544, 1088)


def test_gray_decode_is_opencv_grayscale(tmp_path: Path) -> None:
    image = _photo(12, 30)
    cv2.imwrite(str(tmp_path / "g.png"), image)
    ops = (DecodeImageOp(grayscale=True), ResizeOp((20, 8)), NormalizeOp("unit_mean_std", (0.5,), (0.5,)), ToTensorOp())
    decoded = cv2.imread(str(tmp_path / "g.png"), cv2.IMREAD_GRAYSCALE)
    assert decoded is not None
    gray = cv2.resize(decoded, (20, 8), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(image_tensor(tmp_path / "g.png", ops, "x.yaml"), ((gray / 255.0 - 0.5) / 0.5)[None], atol=1e-6)


def test_pillow_decode_crop_and_resize_are_pillows(tmp_path: Path) -> None:
    """As torchvision's PIL pipeline: Image.open().convert('RGB'), CenterCrop (rounded corner), resize (antialiased bilinear)."""
    Image.fromarray(_photo(37, 29)).save(tmp_path / "p.jpg", quality=90)
    ops = (DecodeImageOp(backend="pillow"), CenterCropOp((20, 20), "pillow"), ResizeOp((8, 8), backend="pillow"), ToTensorOp())
    with Image.open(tmp_path / "p.jpg") as im:
        left, top = round((29 - 20) / 2.0), round((37 - 20) / 2.0)
        expected = np.asarray(im.convert("RGB").crop((left, top, left + 20, top + 20)).resize((8, 8), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(image_tensor(tmp_path / "p.jpg", ops, "x.yaml"), expected.transpose(2, 0, 1).astype(np.float32))
