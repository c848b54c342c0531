"""The vendor's compiler YAMLs as they are (VAMP-FORMATS.md section 6): every key group, good and bad,
other frontends refused, the typo warning, --dry_run's plan, and a property over the vocabulary."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vampy.compiler.plan import compile_plan, ignored_notes
from vampy.config import CompileConfig, ExtraOp, FloatNodes
from vampy.errors import InputError, VampyError
from vampy.formats import compile_vocab as vocab
from vampy.formats.compile_yaml import load_compile_config, parse_compile_config

REPO = Path(__file__).resolve().parents[2]
VENDOR_VDSR = REPO / "build" / "vendor" / "official_vdsr.yaml"

# A classifier file in the zoo's shape: everything a real file carries beyond the seed's.
ZOO_FILE = """\
name: resnet50_int8
frontend:
  shape: {input: [1, 3, 224, 224]}
  type: onnx
  checkpoint: /path/to/resnet50.onnx
  dtype: fp32
backend:
  type: tvm_vacc
  dtype: int8
  compile:
    cluster_mode: 0
    data_transport_mode: 1
    data_type: 2
    opt_level: 2
    enable_float_to_half: false
    output_layout: NCHW
    stream_mode: 1
    mem_inplace: true
    some_new_device_option: 7
  merge_params: true
  remove_params: [a, b]
  dynamic_params: {input: [[1, 3, 224, 224]]}
  quantize:
    calibrate_mode: percentile
    quantize_per_channel: true
    calibrate_range: 0.99999
    overflow_adaptive: 1
    calibrate_chunk_by: 16
    skip_conv_layers: [0, -1]
    skip_matmul_layers: [0]
    exclude_layers: [fc_node]
    quantize_operators: [nn.conv2d]
    quantize_dsp_ops: [softmax]
    quantize_mode: asym
    requant_suppress: true
    weight_scale: power2
    ops_usingfp: [Softmax]
graph:
  extra_ops:
    type: softmax
dataset:
  type: tvm
  path: /path/to/imagenet/val
  sampler: {suffix: JPEG, get_data_num: 100}
  process_ops:
    - type: DecodeImage
      backend: pillow
      cv2_flags: IMREAD_COLOR
    - type: Resize
      size: 256
      adaptive_side: short
      backend: pillow
      interpolation: bicubic
    - type: CenterCrop
      crop_size: 224
    - type: Pad
      pad_to_square: true
    - type: Normalize
      mean: [123.675, 116.28, 103.53]
      std: [58.395, 57.12, 57.375]
      div255: false
    - type: ToTensor
workspace: {path: ./deploy_weights/}
"""


def zoo() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(ZOO_FILE))


def parse(data: object, **flags: Any) -> CompileConfig:
    return parse_compile_config(data, "z.yaml", **flags)


def error(data: object) -> str:
    with pytest.raises(InputError) as info:
        parse(data)
    return str(info.value)


# --- good: every key group of a real file ---


def test_a_zoo_file_is_read_whole() -> None:
    cfg = parse(zoo())
    assert cfg.precision == "int8" and cfg.quantize.calibrate_mode == "percentile" and cfg.quantize.per_channel
    assert cfg.quantize.calibrate_range == 0.99999
    assert cfg.quantize.float_nodes == (
        FloatNodes("backend.quantize.skip_conv_layers", "conv", (0, -1)),
        FloatNodes("backend.quantize.skip_matmul_layers", "matmul", (0,)),
        FloatNodes("backend.quantize.exclude_layers", "all", ("fc_node",)),
        FloatNodes("backend.quantize.ops_usingfp", "op_type", ("Softmax",)),
    )
    assert cfg.extra_ops == (ExtraOp("softmax", -1),)
    ignored = dict(zip(cfg.ignored_keys, cfg.ignored_reasons))
    for key in ("backend.type", "backend.compile.cluster_mode", "backend.compile.some_new_device_option", "backend.merge_params",
                "backend.remove_params", "backend.dynamic_params", "backend.quantize.overflow_adaptive",
                "backend.quantize.calibrate_chunk_by", "backend.quantize.quantize_operators", "backend.quantize.quantize_dsp_ops",
                "backend.quantize.quantize_mode", "backend.quantize.requant_suppress", "backend.quantize.weight_scale", "dataset.type"):
        assert key in ignored and ignored[key], key
    assert ignored["backend.compile.output_layout"] == "device memory layout of the outputs"
    assert ignored["backend.compile.some_new_device_option"] == vocab.VENDOR_SECTIONS["backend.compile"]
    assert cfg.warnings == () and cfg.notes == ()
    assert cfg.dataset is not None and [type(op).__name__ for op in cfg.dataset.ops] == [
        "DecodeImageOp", "ResizeOp", "CenterCropOp", "PadOp", "NormalizeOp", "ToTensorOp"]
    assert cfg.dataset.ops[4].norm == "mean_std"  # div255: false with 0-255 means


def test_ignored_keys_are_grouped_into_one_note_per_reason() -> None:
    notes = ignored_notes(parse(zoo()))
    memory = [n for n in notes if n.startswith("ignored vendor-only keys backend.merge_params, backend.remove_params:")]
    assert len(memory) == 1 and memory[0].endswith("how the vendor packs weights into device memory")
    assert all("\n" not in n for n in notes) and len(notes) < len(parse(zoo()).ignored_keys)


def test_missing_frontend_type_with_an_onnx_checkpoint_means_onnx() -> None:
    data = zoo()
    del data["frontend"]["type"]
    assert parse(data).checkpoint == "/path/to/resnet50.onnx"
    data["frontend"]["checkpoint"] = "/path/to/model.pt"
    assert "frontend.type: missing, and frontend.checkpoint str '/path/to/model.pt' is not an .onnx file" in error(data)


@pytest.mark.parametrize("frontend", ["pytorch", "huggingface", "keras", "tensorflow", "darknet"])
def test_other_frontends_are_refused_in_one_line(frontend: str) -> None:
    data = zoo()
    data["frontend"] = {"type": frontend, "checkpoint": "/path/to/m", "model_kwargs": {"tp": 1}, "quantize": {"type": "w8a16_gptq"},
                        "weird_key": 1}
    message = error(data)
    assert message.startswith(f"z.yaml: frontend.type: str '{frontend}': vampy compiles ONNX models only; export the model to ONNX first")
    assert "point frontend.checkpoint at the .onnx file" in message and "\n" not in message


def test_frontend_dtype_int64_and_named_inputs_with_slashes_and_colons() -> None:
    text = ZOO_FILE.replace("  shape: {input: [1, 3, 224, 224]}\n", "  shape:\n    input_ids: [1, 128]\n    /9/Add_output_0: [1, 128]\n"
                            "    onnx::Reshape_2979: [1, 128]\n").replace("  dtype: fp32\n", "  dtype: int64\n", 1)
    cfg = parse(yaml.safe_load(text))
    assert cfg.frontend_dtype == "int64"
    assert cfg.input_shapes == (("input_ids", (1, 128)), ("/9/Add_output_0", (1, 128)), ("onnx::Reshape_2979", (1, 128)))


def test_extra_ops_as_a_list_nms_and_odma_are_noted_not_applied() -> None:
    data = zoo()
    data["graph"] = {"extra_ops": [{"type": "retinaface_nms", "params": {"confidence_threshold": 0.25, "anchor": [10, 13]}},
                                   {"type": "insert_odma"}, {"type": "Softmax", "params": {"axis": 1, "temperature": 1}}]}
    cfg = parse(data)
    assert cfg.extra_ops == (ExtraOp("softmax", 1),)
    assert len(cfg.notes) == 2 and "retinaface_nms: not applied" in cfg.notes[0] and "insert_odma: not applied" in cfg.notes[1]
    assert "graph.extra_ops[2].params.temperature" in cfg.ignored_keys


def test_a_misspelt_key_is_a_warning_naming_the_likely_key() -> None:
    data = zoo()
    data["backend"]["quantize"] = {"alibrate_mode": "max", "quantize_per_channel": True}
    cfg = parse(data)
    assert len(cfg.warnings) == 1
    assert "backend.quantize.alibrate_mode: not a key vampy knows, probably a misspelling of calibrate_mode" in cfg.warnings[0]
    assert cfg.quantize.calibrate_mode == "kl_divergence"  # ignored, as the vendor's compiler ignores it
    assert "backend.quantize.alibrate_mode" in cfg.ignored_keys


# --- bad ---


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["backend"]["quantize"].update(skip_conv_layers=[True]), "skip_conv_layers[0]: expected a node name or an index"),
        (lambda d: d["backend"]["quantize"].update(ops_usingfp=[3]), "ops_usingfp[0]: expected an operator type"),
        (lambda d: d["backend"]["quantize"].update(exclude_layers=[{"a": 1}]), "exclude_layers[0]: expected a node name"),
        (lambda d: d["backend"]["quantize"].update(calibrate_range=5), "calibrate_range: 5 must be a fraction in [0.5, 1]"),
        (lambda d: d["backend"]["quantize"].update(calibrate_mode="entropy"), "calibrate_mode: str 'entropy' is not one of"),
        (lambda d: d["backend"]["quantize"].update(zzz_option=1), "backend.quantize.zzz_option: unknown key"),
        (lambda d: d["backend"].update(accelerator=1), "backend.accelerator: unknown key"),
        (lambda d: d["graph"].update(extra_ops={"type": "argmax"}), "graph.extra_ops.type: 'argmax' is not an extra op vampy knows"),
        (lambda d: d["graph"].update(extra_ops={"params": {}}), "graph.extra_ops.type: missing"),
        (lambda d: d["graph"].update(extra_ops="softmax"), "graph.extra_ops: expected a mapping such as {type: softmax}"),
        (lambda d: d["graph"].update(extra_ops={"type": "softmax", "params": {"axis": "x"}}),
         "graph.extra_ops.params.axis: expected a whole"),
        (lambda d: d["graph"].update(extra_ops={"type": "softmax", "params": [1]}), "graph.extra_ops.params: expected a mapping"),
        (lambda d: d["graph"].update(fuse=True), "graph.fuse: unknown key"),
        (lambda d: d["frontend"].update(dtype="int4"), "frontend.dtype: str 'int4' is not one of"),
        (lambda d: d["dataset"]["process_ops"][0].update(cv2_flags=2), "process_ops[0].cv2_flags: int 2 is not a flag vampy decodes with"),
        (lambda d: d["dataset"]["process_ops"][0].update(backend="turbojpeg"), "process_ops[0].backend: str 'turbojpeg' is not one of"),
        (lambda d: d["dataset"].update(loader=1), "dataset.loader: unknown key"),
    ],
)
def test_bad_vendor_keys_name_the_key_path(mutate: Any, message: str) -> None:
    data = zoo()
    mutate(data)
    text = error(data)
    assert text.startswith("z.yaml: ") and message in text and "\n" not in text


# --- the shipped vendor-format file and --dry_run ---


def test_the_shipped_vendor_vdsr_file_is_the_spec_with_paths_replaced() -> None:
    shipped = yaml.safe_load(VENDOR_VDSR.read_text())
    spec = (REPO.parent / "shared" / "VAMP-FORMATS.md")
    if spec.is_file():
        text = spec.read_text()
        block = text[text.index("## 6."):].split("```yaml\n", 1)[1].split("```", 1)[0]
        expected = yaml.safe_load(block)
        expected["frontend"]["checkpoint"] = shipped["frontend"]["checkpoint"]
        expected["dataset"]["path"] = shipped["dataset"]["path"]
        assert shipped == expected
    cfg = load_compile_config(VENDOR_VDSR)
    assert cfg.precision == "int8" and cfg.quantize.calibrate_mode == "kl_divergence" and cfg.quantize.per_channel
    assert set(cfg.ignored_keys) == {"backend.type", "backend.compile.data_transport_mode", "dataset.type"}


def test_dry_run_plan_reads_no_file_and_reports_missing_ones(tmp_path: Path) -> None:
    data = zoo()
    data["frontend"]["checkpoint"] = str(tmp_path / "absent.onnx")
    data["dataset"]["path"] = str(tmp_path)
    plan = compile_plan(parse(data, vdsp_params=str(tmp_path / "no.json")))
    assert plan["precision"] == "int8" and plan["output_dir"] == "deploy_weights/resnet50_int8"
    assert plan["missing_files"] == [f"frontend.checkpoint {tmp_path / 'absent.onnx'}", f"--vdsp_params {tmp_path / 'no.json'}"]
    assert plan["files"]["dataset.path"] == {"path": str(tmp_path), "exists": True}
    assert plan["calibration"]["method"] == "percentile" and plan["calibration"]["percentile"] == pytest.approx(99.999)
    assert [f["key"] for f in plan["calibration"]["nodes_kept_in_float"]][0] == "backend.quantize.skip_conv_layers"
    assert plan["extra_ops_applied"] == [{"type": "softmax", "axis": -1}]
    assert {"key": "dataset.type", "reason": vocab.VENDOR_KEYS["dataset.type"]} in plan["ignored_keys"]
    json.dumps(plan)  # plain data


# --- property: any mapping built from the vendor vocabulary -> a config or one VampyError line ---

VOCAB = sorted({*vocab.TOP_KEYS, *vocab.FRONTEND_KEYS, *vocab.BACKEND_KEYS, *vocab.QUANTIZE_KEYS, *vocab.DATASET_KEYS, *vocab.SAMPLER_KEYS,
                *vocab.GRAPH_KEYS, *vocab.EXTRA_OP_KEYS, "compile", "alibrate_mode", "model_kwargs",
                *(k.rsplit(".", 1)[-1] for k in vocab.VENDOR_KEYS), *vocab.COMPILE_KEY_REASONS})
VALUES = st.sampled_from(["onnx", "pytorch", "m.onnx", "int8", "fp16", "fp32", "int64", "softmax", "yolov5_nms", "insert_odma",
                          "kl_divergence", "percentile", "tvm", "tvm_vacc", "None", "DecodeImage", "Resize", "x/y", "a:b"]) | \
    st.integers(-3, 300) | st.booleans() | st.none() | st.floats(allow_nan=True) | st.sampled_from([0.99999, 0.5, 2.0])


def _tree(depth: int) -> st.SearchStrategy[Any]:
    leaf = VALUES | st.lists(VALUES, max_size=3)
    if depth == 0:
        return leaf
    child = _tree(depth - 1)
    return (leaf | st.dictionaries(st.sampled_from(VOCAB), child, max_size=5)
            | st.lists(st.dictionaries(st.sampled_from(VOCAB), child, max_size=3), max_size=3))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(VOCAB), _tree(3), max_size=7), st.booleans())
def test_any_vendor_vocabulary_mapping_gives_a_config_or_one_error_line(data: dict[str, Any], with_real_skeleton: bool) -> None:
    if with_real_skeleton:
        data = {**zoo(), **data}
    try:
        cfg = parse(data)
    except VampyError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    json.dumps(compile_plan(cfg))
    assert all("\n" not in n for n in ignored_notes(cfg))


def test_api_compile_dry_run_returns_the_plan(tmp_path: Path) -> None:
    import vampy

    plan = vampy.compile(config=VENDOR_VDSR, dry_run=True, json=tmp_path / "p.json")
    assert isinstance(plan, dict) and plan["name"] == "official_vdsr_int8" and plan["calibration"]["method"] == "kl_divergence"
    assert json.loads((tmp_path / "p.json").read_text()) == plan
