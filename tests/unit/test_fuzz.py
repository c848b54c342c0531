"""Property-based fuzzing of every parser that reads what a user or a file hands vampy.

One property for all of them: for ANY input the parser returns a valid result or raises a
VampyError whose message is one non-empty line; never another exception type, never a hang
(the module timeout flags a stuck one; no Hypothesis deadline: speed is not what these test). Files go to one
module-scoped folder and are overwritten per example: hypothesis refuses tmp_path per example.
Run with VAMPY_FUZZ_EXAMPLES=5000 for a long hunt; the default keeps this file under 30 s.
"""
from __future__ import annotations

import io
import json
import math
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.lib import format as npy_format

from vampy.cli.argv import VALUE_FLAGS, normalize
from vampy.config import DEFAULT_PERCENTILES, MAX_DIM, parse_percentiles, parse_shapes
from vampy.errors import VampyError
from vampy.formats.compile_yaml import load_compile_config, parse_compile_config
from vampy.formats.datalist import read_datalist
from vampy.formats.npz import MAX_NPZ_BYTES, load_input_npz
from vampy.formats.vdsp import _OP_CONFIG_KEYS, _OP_TYPES, PreprocessSpec, load_vdsp, parse_vdsp

T = TypeVar("T")

EXAMPLES = int(os.environ.get("VAMPY_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_FILES = settings(FUZZ, max_examples=max(1, EXAMPLES * 2 // 3))
pytestmark = pytest.mark.timeout(max(120, EXAMPLES // 10))


def check_error(exc: VampyError) -> None:
    message = str(exc)
    assert message.strip(), f"{type(exc).__name__} with an empty message"
    assert len(message.splitlines()) == 1, f"{type(exc).__name__} message is not one line: {message!r}"


def result_or_error(fn: Callable[..., T], *args: Any) -> T | None:
    """fn(*args), or None after checking the VampyError; any other exception fails the example."""
    try:
        return fn(*args)
    except VampyError as exc:
        check_error(exc)
        return None


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# --- shared strategies ---

# JSON/YAML-like values, including the awkward ones: huge ints, NaN, keys with newlines.
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**30), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
)


JSON_KEYS = st.text(max_size=10)


def json_like(keys: st.SearchStrategy[str] = JSON_KEYS) -> st.SearchStrategy[Any]:
    return st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=12)


# --- command line: vamp quirks ---

ARGV_WORDS = st.one_of(
    st.sampled_from(sorted(VALUE_FLAGS) + ["run", "p", "1", "-m", "-mmodel", "-s3,8,8", "[3,", "8,", "8]", "[", "]", "x.json",
                                          "Y.YAML", "--datalist", "--json", "-q", "--resume", "--", "", "-"]),
    st.text(max_size=12),
)


@FUZZ
@given(st.lists(ARGV_WORDS, max_size=12))
def test_argv_normalize_never_raises_and_is_stable(args: list[str]) -> None:
    out, notes = normalize(list(args))
    assert all(isinstance(word, str) for word in out) and all(isinstance(n, str) and n for n in notes)
    assert normalize(out)[0] == out  # translating twice changes nothing more


# --- -s / --percentiles ---

SHAPE_TEXT = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="[]0123456789, \t", max_size=30),
    json_like().map(json.dumps),
    st.lists(st.lists(st.integers(min_value=-2, max_value=1 << 17), max_size=5), max_size=3).map(json.dumps),
)


@FUZZ
@given(SHAPE_TEXT)
@example("[" * 5000 + "]" * 5000)  # deep nesting: json recurses
@example("9" * 5000)  # over Python's int-string conversion limit
@example("[3,256,256" + "]" * 3)
def test_parse_shapes(text: str) -> None:
    shapes = result_or_error(parse_shapes, text)
    if shapes is not None:
        assert shapes and all(s and all(type(d) is int and 1 <= d <= MAX_DIM for d in s) for s in shapes)


@FUZZ
@given(st.one_of(st.text(max_size=30), st.lists(st.floats() | st.integers(), min_size=1, max_size=4).map(lambda v: ",".join(map(str, v)))))
@example("nan")
@example("1e999")
def test_parse_percentiles(text: str) -> None:
    values = result_or_error(parse_percentiles, text)
    if values is not None:
        assert list(values) == sorted(set(values)) and set(DEFAULT_PERCENTILES) <= set(values)
        assert all(0 < v <= 100 and math.isfinite(v) for v in values)


# --- vdsp ---

VDSP_ENUMS = ["RGB_PLANAR", "BGR_PLANAR", "RGB888", "YUV_NV12", "DIV255", "EQUAL", "MINUSMEAN_DIVSTD", "DIV255_MINUSMEAN_DIVSTD",
              "NO_CHANGE", "BGR2RGB", "YUV2RGB_NV12", "BILINEAR_CV", "BT601", "CONSTANT", "UINT8"]
VDSP_VALUES = st.one_of(
    st.integers(min_value=-2, max_value=20_000), st.sampled_from([10**9, 2**63, 10**400]), st.sampled_from(VDSP_ENUMS),
    st.lists(st.floats(allow_nan=True) | st.integers(min_value=-1, max_value=300), max_size=4), SCALARS,
)
VDSP_OBJECTS = st.one_of(
    json_like(),
    st.fixed_dictionaries(
        {"OpType": st.sampled_from(sorted(_OP_TYPES)) | st.text(max_size=8)},
        optional={"OpConfig": st.dictionaries(st.sampled_from(sorted(_OP_CONFIG_KEYS)) | st.text(max_size=8), VDSP_VALUES, max_size=8)},
    ),
)


@FUZZ
@given(VDSP_OBJECTS)
@example({"OpType": "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR",
          "OpConfig": {"NormaType": "DIV255", "OimageWidth": 10**9, "OimageHeight": 8}})
@example({"OpType": "SINGLE_OP_RESIZE", "OpConfig": {"bad\nkey": 1}})
@example({"OpType": "SINGLE_OP_RESIZE", "OpConfig": {"Scale": 10**400}})
def test_parse_vdsp(obj: object) -> None:
    spec = result_or_error(parse_vdsp, obj, "fuzz.json")
    if spec is not None:
        assert isinstance(spec, PreprocessSpec)
        for hw in (spec.output_hw, spec.resize_hw, spec.input_hw):
            assert hw is None or all(1 <= d <= 20_000 for d in hw)


def billion_laughs(depth: int = 9, width: int = 9) -> str:
    """YAML whose aliases expand to width**depth items: small on disk, enormous if ever printed."""
    lines = ["a0: &a0 [1]"]
    lines += [f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * width)}]" for k in range(1, depth + 1)]
    return "\n".join(lines) + "\n"


YAML_TOKENS = st.sampled_from([
    "OpType: ", "OpConfig:\n", "  ", "- ", ": ", "&a ", "*a", "[", "]", "{", "}", ",", "!!python/object/apply:os.system ['true']",
    "!!binary ", "!!int ", "!!float ", "!!timestamp ", "2020-13-45", "0x", "1e999", "9" * 5000, "~", "'", '"', "\t", "\n", "#",
    "? ", "<<: ", "!!set ", "!!omap ", "---\n", "...\n", "%YAML 1.1\n", "\x00", "\ufeff", "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR",
])
YAML_TEXT = st.lists(YAML_TOKENS | st.text(max_size=5), max_size=25).map("".join)
FILE_BYTES = st.one_of(st.binary(max_size=300), YAML_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")))


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


@FUZZ_FILES
@given(FILE_BYTES, st.sampled_from(["v.json", "v.yaml", "v.yml"]))
@example(b"[" * 5000, "v.json")
@example(b"[" * 100_000, "v.yaml")
@example(b"[" * 5000, "v.yaml")
@example(("9" * 5000).encode(), "v.json")
@example(b"x: 2020-13-45\n", "v.yaml")
@example(b"OpType: !!int 'abc'\n", "v.yaml")
@example(b"OpType: !!int ''\n", "v.yaml")
@example(b"\x01", "v.yaml")
@example(f"{billion_laughs()}OpType: SINGLE_OP_RESIZE\nOpConfig: {{Mean: *a9}}\n".encode(), "v.yaml")
@example(f"{billion_laughs()}OpType: *a9\n".encode(), "v.yaml")
def test_load_vdsp_bytes(work_dir: Path, data: bytes, name: str) -> None:
    spec = result_or_error(load_vdsp, write(work_dir, name, data))
    assert spec is None or isinstance(spec, PreprocessSpec)


# --- compiler YAML ---

COMPILE_KEYS = st.sampled_from(["name", "frontend", "backend", "dataset", "workspace", "compile", "checkpoint", "dtype", "quantize",
                                "calibrate_mode", "calibrate_range", "skip_layers", "num_bins", "path", "sampler", "process_ops",
                                "type", "size", "mean", "std", "norm_type", "shape", "graph", "extra_ops", "params", "axis",
                                "skip_conv_layers", "skip_matmul_layers", "exclude_layers", "ops_usingfp", "alibrate_mode",
                                "merge_params", "model_kwargs", "cv2_flags", "div255"]) | st.text(max_size=6)


def _op() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"type": st.sampled_from(["DecodeImage", "Resize", "Normalize", "ToTensor", "Pad", "CenterCrop", "x"])},
                                 optional={"size": SCALARS | st.lists(SCALARS, max_size=3), "mean": st.lists(SCALARS, max_size=4),
                                           "std": st.lists(SCALARS, max_size=4), "norm_type": SCALARS, "crop_size": SCALARS})


COMPILE_OBJECTS = st.one_of(
    json_like(COMPILE_KEYS),
    st.fixed_dictionaries(
        {"name": st.sampled_from(["m", "a/b", "..", "x\n"]) | SCALARS,
         "frontend": st.fixed_dictionaries({"checkpoint": st.just("m.onnx") | SCALARS},
                                           optional={"shape": st.dictionaries(st.text(max_size=4), st.lists(SCALARS, max_size=4) | SCALARS,
                                                                              max_size=2),
                                                     "type": SCALARS, "dtype": SCALARS}),
         "backend": st.fixed_dictionaries({"dtype": st.sampled_from(["fp32", "fp16", "int8"]) | SCALARS},
                                          optional={"quantize": st.dictionaries(COMPILE_KEYS, SCALARS | st.lists(SCALARS, max_size=3),
                                                                                max_size=4)})},
        optional={"dataset": st.fixed_dictionaries({"path": st.just("imgs") | SCALARS},
                                                   optional={"process_ops": st.lists(_op(), max_size=4) | SCALARS,
                                                             "sampler": st.dictionaries(COMPILE_KEYS, SCALARS, max_size=3)}),
                  "workspace": json_like(COMPILE_KEYS)},
    ),
)


@FUZZ
@given(COMPILE_OBJECTS)
@example({"name": "m", "frontend": {"checkpoint": "m.onnx"}, "backend": {"dtype": "int8", "quantize": {"calibrate_range": 10**400}}})
@example({"name": "m", "frontend": {"checkpoint": "m.onnx", "shape": {"in\nput": [1]}}, "backend": {"dtype": "fp32"}})
@example({"name": "m", "frontend": {"checkpoint": "m.onnx"}, "backend": {"dtype": "fp32"}, "bad\nkey": 1})
def test_parse_compile_config(obj: object) -> None:
    result_or_error(parse_compile_config, obj, "fuzz.yaml")


@FUZZ_FILES
@given(FILE_BYTES)
@example(b"[" * 5000)
@example(b"[" * 100_000)
@example(b"x: 2020-13-45\n")
@example(b"name: !!float 'abc'\n")
@example(b"name: !!float ''\n")
@example(b"name: !!timestamp x\n")
@example(b"\x01")
@example(f"{billion_laughs()}name: *a9\n".encode())
@example(f"{billion_laughs()}frontend: {{checkpoint: *a9}}\nname: m\nbackend: {{dtype: fp32}}\n".encode())
def test_load_compile_config_bytes(work_dir: Path, data: bytes) -> None:
    result_or_error(load_compile_config, write(work_dir, "c.yaml", data))


# --- datalist ---

DATALIST_BYTES = st.one_of(
    st.binary(max_size=200),
    st.lists(st.sampled_from(["a.npz", "../../x.npz", "/abs/y.npz", "~/z.npz", "~nosuchuser_vampy/z.npz", "x" * 5000, " ", "\r", "\x85"])
             | st.text(max_size=10), max_size=6).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass")),
)


@FUZZ_FILES
@given(DATALIST_BYTES)
@example(b"~nosuchuser_vampy/a.npz\n")
@example(b"x" * 5000 + b"\n")
@example(b"\xef\xbb\xbf\n\n")
def test_read_datalist_bytes(work_dir: Path, data: bytes) -> None:
    entries = result_or_error(read_datalist, write(work_dir, "list.txt", data))
    if entries is not None:
        assert [e.index for e in entries] == list(range(len(entries)))
        assert all(e.path.is_absolute() and e.text and e.text == e.text.strip() for e in entries)


# --- npz ---


def check_npz_result(arrays: dict[str, np.ndarray] | None, max_bytes: int = MAX_NPZ_BYTES) -> None:
    if arrays is not None:
        assert all(isinstance(v, np.ndarray) and not v.dtype.hasobject for v in arrays.values())
        assert sum(v.nbytes for v in arrays.values()) <= max_bytes


def valid_npz(compressed: bool) -> bytes:
    buffer = io.BytesIO()
    save = np.savez_compressed if compressed else np.savez
    save(buffer, input_0=np.arange(48, dtype=np.uint8).reshape(3, 4, 4), input_1=np.linspace(0, 1, 6, dtype=np.float32))
    return buffer.getvalue()


VALID_NPZ = {False: valid_npz(False), True: valid_npz(True)}
VALID_NPY = zipfile.ZipFile(io.BytesIO(VALID_NPZ[False])).read("input_0.npy")


@st.composite
def mutated_npz(draw: st.DrawFn) -> bytes:
    data = bytearray(VALID_NPZ[draw(st.booleans())])
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        position = draw(st.integers(min_value=0, max_value=len(data) - 1))
        data[position] = draw(st.integers(min_value=0, max_value=255))
    cut = draw(st.integers(min_value=0, max_value=len(data)))
    return bytes(data[:cut] if draw(st.booleans()) else data)


def npz_of(members: dict[str, bytes], compressed: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return buffer.getvalue()


def npy_bytes(header: dict[str, Any], body: bytes, version: tuple[int, int] = (1, 0)) -> bytes:
    """A .npy header written by hand (numpy's writer would refuse the forged ones), then body."""
    length_bytes = 2 if version == (1, 0) else 4
    text = repr(header).encode("latin1")
    prefix = len(npy_format.magic(*version)) + length_bytes
    padded = text + b" " * (-(prefix + len(text) + 1) % 64) + b"\n"
    return npy_format.magic(*version) + len(padded).to_bytes(length_bytes, "little") + padded + body


DESCRS = st.sampled_from(["|u1", "<f4", "<f8", "|O", "V0", "|S0", "<U0", "|V1000000000000", "<c16", [("a", "<f4")], [("o", "|O")],
                          "bogus", 7])


@st.composite
def crafted_npy(draw: st.DrawFn) -> bytes:
    """A real .npy header (any version) declaring any shape and dtype, followed by few or no bytes."""
    header = {"descr": draw(DESCRS), "fortran_order": draw(st.booleans()),
              "shape": tuple(draw(st.lists(st.integers(min_value=-1, max_value=2**62), max_size=4)))}
    body = draw(st.binary(max_size=64))
    return npy_bytes(header, body, draw(st.sampled_from([(1, 0), (2, 0)])))


@st.composite
def raw_header_npy(draw: st.DrawFn) -> bytes:
    """The magic, then a header text that need not be a valid dict at all."""
    text = draw(st.one_of(st.text(max_size=60), st.just("{'descr': '<f4', 'fortran_order': False, 'shape': (") .map(
        lambda s: s + draw(st.text(alphabet="0123456789,() -", max_size=20)) + "), }")))
    encoded = text.encode("latin1", "replace")
    return npy_format.magic(1, 0) + len(encoded).to_bytes(2, "little") + encoded + draw(st.binary(max_size=16))


NPZ_BYTES = st.one_of(
    st.binary(max_size=200),
    mutated_npz(),
    st.builds(lambda m, c: npz_of(m, c), st.dictionaries(st.sampled_from(["input_0.npy", "a", "dir/", "x.npy/", "../up.npy"]),
                                                          crafted_npy() | raw_header_npy() | st.binary(max_size=32), max_size=3),
              st.booleans()),
)


@FUZZ_FILES
@given(NPZ_BYTES)
@example(npz_of({"input_0.npy": npy_bytes({"descr": "|u1", "fortran_order": False, "shape": (10**12,)}, b"")}))
@example(npz_of({"input_0.npy": VALID_NPY, "d/": npy_bytes({"descr": "|u1", "fortran_order": False, "shape": (10**12,)}, b"")}))
@example(b'PK\x01\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
          b'\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
          b'PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x009\x00\x00\x00\x00\x00\x00\x00\x00\x00')  # a member with an empty name
@example(npz_of({"input_0.npy": npy_bytes({"descr": "V0", "fortran_order": False, "shape": (2**62, 2**62)}, b"")}))
@example(npz_of({"input_0.npy": npy_bytes({"descr": "|u1", "fortran_order": False, "shape": (-1,)}, b"")}))
@example(npz_of({"input_0.npy": npy_bytes({"descr": "|u1", "fortran_order": False, "shape": (-1, 1281, 79376276513, 180996)}, b"")}))
def test_load_input_npz_bytes(work_dir: Path, data: bytes) -> None:
    check_npz_result(result_or_error(load_input_npz, write(work_dir, "x.npz", data)))


@FUZZ_FILES
@given(crafted_npy(), st.integers(min_value=1, max_value=1 << 20))
def test_load_input_npz_respects_the_limit(work_dir: Path, member: bytes, max_bytes: int) -> None:
    path = write(work_dir, "limit.npz", npz_of({"input_0.npy": member}))
    check_npz_result(result_or_error(load_input_npz, path, max_bytes), max_bytes)


@FUZZ_FILES
@given(st.dictionaries(st.from_regex(r"input_[0-9]", fullmatch=True),
                       hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(min_dims=0, max_dims=3, max_side=6)), min_size=1, max_size=3),
       st.booleans(), st.integers(min_value=0, max_value=2048))
def test_real_arrays_load_exactly_under_the_limit_and_are_refused_over_it(
    work_dir: Path, arrays: dict[str, np.ndarray], compressed: bool, max_bytes: int
) -> None:
    path = work_dir / "real.npz"
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    total_bytes = sum(a.nbytes for a in arrays.values())
    loaded = result_or_error(load_input_npz, path, max_bytes)
    assert (loaded is not None) == (total_bytes <= max_bytes)  # no false refusal, no limit bypass
    if loaded is not None:
        assert sorted(loaded) == sorted(arrays)
        for key, array in arrays.items():
            np.testing.assert_array_equal(loaded[key], array, strict=True)


def test_valid_npz_still_loads(work_dir: Path) -> None:
    for compressed in (False, True):
        arrays = load_input_npz(write(work_dir, "ok.npz", VALID_NPZ[compressed]))
        assert sorted(arrays) == ["input_0", "input_1"] and arrays["input_0"].shape == (3, 4, 4)


def test_yaml_fixtures_are_what_they_claim() -> None:
    # The billion-laughs example must really expand: otherwise the examples above test nothing.
    doc = yaml.safe_load(billion_laughs(depth=3, width=3))
    assert len(doc["a3"]) == 3 and doc["a3"][0] is doc["a3"][1]



def test_integers_past_the_digit_limit_give_one_line_errors(tmp_path: Path) -> None:
    """Found by hypothesis: a hex literal parses fine but cannot be shown in decimal."""
    from vampy.formats.compile_yaml import load_compile_config
    from vampy.formats.vdsp import load_vdsp

    huge = "0x" + "f" * 4000
    cases = [
        (load_vdsp, f"OpType: {huge}"),
        (load_vdsp, f"OpType: FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR\nOpConfig: {{OimageWidth: {huge}}}"),
        (load_compile_config, f"name: {huge}\nfrontend: {{type: onnx}}"),
        (load_compile_config, f"name: x\nfrontend: {{type: onnx, checkpoint: a.onnx, shape: {{input: [{huge}]}}}}"),
    ]
    for load, text in cases:
        path = tmp_path / "f.yaml"
        path.write_text(text)
        with pytest.raises(VampyError) as info:
            load(path)
        message = str(info.value)
        assert "\n" not in message and len(message) < 2000
