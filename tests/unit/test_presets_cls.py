"""imagenet_topk (CLS-1): both vendor stages in one command, against an independent transcription of them."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import vampy
from vampy.errors import PartialResult, UsageError
from vampy.quality.classification import synset_names

ATM = "cash machine, cash dispenser, automated teller machine, automatic teller machine, automated teller"
# The names eval_topk.py's imagenet_info gives these synsets (WordNet lemmas).
GT_NAMES = {"n01440764": "tench, Tinca tinca", "n02977058": ATM + ", automatic teller, ATM", "n02012849": "crane",
            "n03126707": "crane"}


def _labels(path: Path) -> None:
    names = [f"class {i}" for i in range(1000)]
    names[0], names[134], names[480], names[517] = GT_NAMES["n01440764"], "crane", ATM, "crane"
    path.write_text("\n".join(names) + "\n")


def _vendor(datalist: Path, npz_dir: Path, labels: Path) -> tuple[str, float, float]:
    """vamp_npz_decode.py then eval_topk.py, written out again here (listdir pairing, string compare)."""
    classes = [c.strip() for c in labels.read_text().splitlines()]
    lines = [c.strip() for c in datalist.read_text().splitlines()]
    out = []
    for file, result in zip(lines, sorted(os.listdir(npz_dir))):
        data = np.squeeze(np.load(npz_dir / result)["output_0"])
        ids = data.argsort()[-5:][::-1]
        out += [file + ": " + f"Relay top-{k} id: {ids[k]}, prob: {data[ids][k]:.8f}, class name: {classes[ids[k]]}\n" for k in range(5)]
    top1 = top5 = total = 0
    for i in range(0, len(out), 5):
        total += 1
        matches = [GT_NAMES[line.split("/")[-2]] == line.rstrip("\n").split(":")[4].strip() for line in out[i:i + 5]]
        top1 += matches[0]
        top5 += any(matches)
    return "".join(out), top1 / total * 100, top5 / total * 100


def _case(tmp_path: Path, spikes: list[int], synsets: list[str], dtype: type = np.float32) -> dict[str, str]:
    out = tmp_path / "out"
    out.mkdir()
    rows = []
    # Decoy: the input names' lexical order (c, b, a) is not the datalist order; outputs follow the datalist.
    for i, (spike, synset) in enumerate(zip(spikes, synsets)):
        rows.append(f"/data/input_npz/{synset}/ILSVRC_{'cba'[i % 3]}{i}.npz")
        scores = np.linspace(0, 0.5, 1000).astype(dtype).reshape(1, 1000)
        scores[0, spike] = 10.0
        scores[0, (spike + 7) % 1000] = 9.5  # a runner-up, so top-5 differs from top-1
        np.savez(out / f"output_{i:06d}.npz", output_0=scores)
    datalist = tmp_path / "npz_datalist.txt"
    datalist.write_text("\n".join(rows) + "\n")
    labels = tmp_path / "imagenet.txt"
    _labels(labels)
    return dict(npz_txt=str(datalist), npz_dir=str(out), result_txt=str(tmp_path / "result.txt"), label_txt=str(labels))


def test_rates_and_result_file_equal_the_vendor_two_stages(tmp_path: Path) -> None:
    flags = _case(tmp_path, [0, 480, 517], ["n01440764", "n02977058", "n02012849"])
    text, top1, top5 = _vendor(Path(flags["npz_txt"]), Path(flags["npz_dir"]), Path(flags["label_txt"]))
    report = vampy.evaluate(preset="imagenet_topk", **flags)
    assert Path(flags["result_txt"]).read_bytes() == text.encode()
    # ATM (480) never matches its own synset's name; crane 517 matches a 134 image.
    assert report.metrics == {"top1_rate": top1, "top5_rate": top5}
    assert round(top1, 3) == round(top5, 3) == 66.667
    assert [image.metrics["top1_rate"] for image in report.images] == [100.0, 0.0, 100.0]
    assert report.to_dict()["metrics"] == report.metrics and report.to_dict()["schema_version"] == 2


def test_top5_rescue_fp16_and_a_stray_file(tmp_path: Path) -> None:
    flags = _case(tmp_path, [3, 0, 134], ["n01440764", "n01440764", "n03126707"], dtype=np.float16)
    # The first image: tench (0) only as the runner-up, so top-5 alone counts it.
    scores = np.linspace(0, 0.5, 1000).astype(np.float16).reshape(1, 1000)
    scores[0, 993], scores[0, 0] = 10.0, 9.5
    np.savez(Path(flags["npz_dir"]) / "output_000000.npz", output_0=scores)
    (Path(flags["npz_dir"]) / "zz_notes.txt").write_text("a stray file after the outputs, as the vendor's listdir tolerates it")
    text, top1, top5 = _vendor(Path(flags["npz_txt"]), Path(flags["npz_dir"]), Path(flags["label_txt"]))
    report = vampy.evaluate(preset="imagenet_topk", **flags)
    assert Path(flags["result_txt"]).read_bytes() == text.encode()
    assert report.metrics == {"top1_rate": top1, "top5_rate": top5}
    assert (round(top1, 3), top5) == (66.667, 100.0)


def test_a_flat_path_and_a_missing_output_are_listed_not_crashed(tmp_path: Path) -> None:
    flags = _case(tmp_path, [0, 0], ["n01440764", "n01440764"])
    datalist = Path(flags["npz_txt"])
    datalist.write_text(datalist.read_text().replace("/n01440764/ILSVRC_b1", "/ILSVRC_b1") + "/data/x/n01440764/more.npz\n")
    with pytest.raises(PartialResult) as caught:
        vampy.evaluate(preset="imagenet_topk", **flags)
    report = caught.value.report  # type: ignore[attr-defined]
    assert report.metrics == {"top1_rate": 100.0, "top5_rate": 100.0}
    assert len(report.failures) == 2 and "no ImageNet synset" in report.failures[1].reason
    assert len(Path(flags["result_txt"]).read_text().splitlines()) == 10  # both decoded images' lines, as stage 1 writes


def test_flags_it_needs_and_its_vendor_spellings(tmp_path: Path) -> None:
    flags = _case(tmp_path, [0], ["n01440764"])
    with pytest.raises(UsageError, match="--label_txt"):
        vampy.evaluate(preset="imagenet_topk", **{**flags, "label_txt": None})
    # --input_npz_path/--out_npz_dir stand for --npz_txt/--npz_dir.
    alias = dict(flags, input_npz_path=flags.pop("npz_txt"), out_npz_dir=flags.pop("npz_dir"))
    assert vampy.evaluate(preset="imagenet_topk", **alias).metrics["top1_rate"] == 100.0


def test_synset_table_is_the_ilsvrc_1000() -> None:
    names = synset_names()
    assert len(names) == 1000 and list(names) == sorted(names)
    assert {k: names[k] for k in GT_NAMES} == GT_NAMES
    assert not any(":" in n or "/" in n for n in names.values())  # eval_topk's split(':') and split('/') hold


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "no such label file"),
    (lambda p: (p.mkdir(), p)[1], "is a folder, not a label file"),
    (lambda p: Path("/dev/zero"), "is a device, not a file"),
    (lambda p: (p.write_bytes(b"\xff\xfetench\n"), p)[1], r"not UTF-8 text \(byte 0\)"),
])
def test_label_file_is_read_as_bounded_text(tmp_path: Path, make: object, message: str) -> None:
    from vampy.errors import InputError
    from vampy.quality.classification import read_labels

    path = make(tmp_path / "imagenet.txt")  # type: ignore[operator]
    with pytest.raises(InputError, match=message) as info:
        read_labels(path)
    assert str(info.value).startswith(f"--label_txt {path}: ")
