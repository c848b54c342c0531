"""`vampy eval --preset icdar_db / icdar_db_mmocr / icdar_east`: the decode and the ICDAR IoU metric in one command (textdet.py).

Datalist line i (blank lines skipped, as vamp skips them) goes with the i-th sorted *.npz output and
names the image `basename(line).replace('.npz', '.jpg')`; the ground truth is PaddleOCR's label file
beside --gt_dir (`../test_icdar2015_label.txt`, EAST `../label.txt`; `path<TAB>[{"transcription",
"points"}]` a line), and every image it lists is scored against the quads decoded from its output.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vampy.config import EvalConfig
from vampy.errors import InputError
from vampy.formats.datalist import read_datalist
from vampy.formats.files import make_output_dir
from vampy.formats.npz import load_input_npz
from vampy.progress import Progress
from vampy.quality import textdet
from vampy.quality.families import FamilyPreset, TextDetScoring
from vampy.quality.nlp import vendor_lines
from vampy.quality.zoo_io import need, output_0, read_text
from vampy.results.schema import EvalPresetReport, FileProblem, ScoredImage

MAX_MAP_VALUES = 1 << 26  # a probability map larger than this (8192x8192) is not DBNet's output (bounds the load)


def evaluate_text_detection(cfg: EvalConfig, preset: FamilyPreset, s: TextDetScoring, progress: Progress) -> EvalPresetReport:
    from vampy.quality.family_report import family_report, paired

    need("shapely.geometry", preset.name)  # refused before any work when the [zoo-eval] extra is absent
    need("pyclipper", preset.name)
    label_path = Path(os.path.join(cfg.gt_dir, "..", s.label_file))
    label_lines = [line for line in vendor_lines(read_text(label_path, "--gt_dir/../" + s.label_file)) if line.strip()]
    if cfg.draw_dir is not None:
        make_output_dir(Path(cfg.draw_dir), "--draw_dir")  # the script creates it (and draws nothing there)
    pairs, failures = paired(read_datalist(Path(cfg.datalist)), Path(cfg.outputs_dir))
    decoded: dict[str, tuple[np.ndarray, str]] = {}
    progress.start("eval", len(pairs) + len(label_lines))
    for entry, output in pairs:
        name = os.path.basename(entry.text).replace(".npz", ".jpg")
        try:
            decoded[name] = (_decode(output, s, preset.name), str(output))
        except InputError as exc:
            failures.append(FileProblem(str(output), str(exc)))
        progress.advance()
    images: list[ScoredImage] = []
    counts: list[textdet.ImageCounts] = []
    for number, line in enumerate(label_lines, 1):
        where = f"{label_path} line {number}"
        fields = line.split("\t")
        name = fields[0].split("/")[-1]
        try:
            if len(fields) < 2:
                raise InputError(f"{where}: expected 'path<TAB>json'")
            gt = textdet.gt_quads(fields[1], where)
            if gt is None:
                raise InputError(f"{where}: no ground-truth polygon (the script crashed on it)")
            if name not in decoded:
                raise InputError(f"{where}: {name} has no decoded output (not in the datalist, or its output failed)")
            boxes, output_path = decoded[name]
            own = textdet.evaluate_image(gt[0], gt[1], boxes, preset.name)
        except InputError as exc:
            failures.append(FileProblem(str(label_path), str(exc)))
        else:
            counts.append(own)
            images.append(ScoredImage(index=len(images), name=Path(name).stem, output_path=output_path, source_path=name,
                                      gt_path=str(label_path), height_px=textdet.IMAGE_HW[0], width_px=textdet.IMAGE_HW[1],
                                      metrics=textdet.combine([own])))
        progress.advance()
    progress.finish()
    return family_report(cfg, preset, images, textdet.combine(counts) if counts else {}, failures)


def _decode(output: Path, s: TextDetScoring, preset: str) -> np.ndarray:
    """One output's quads in 720x1280 pixels by the preset's decode."""
    if s.decode == "db":
        return textdet.db_boxes(textdet.probability_map(output_0(output, MAX_MAP_VALUES), s.logits, str(output)), preset)

    def check(member: str, header: object) -> str | None:
        values = getattr(header, "values", 0)
        return f"{member} declares {values} values; not EAST's maps" if values > 8 * MAX_MAP_VALUES else None

    arrays = load_input_npz(output, keys=("output_0", "output_1"), check=check)
    geo, score = arrays.get("output_0"), arrays.get("output_1")
    if geo is None or score is None or geo.ndim != 4 or score.ndim != 4 or geo.shape[:2] != (1, 8) or score.shape[:2] != (1, 1) \
            or geo.shape[2:] != score.shape[2:]:
        shapes = {k: v.shape for k, v in arrays.items()}
        raise InputError(f"{output}: EAST's outputs are output_0 geometry (1, 8, H, W) and output_1 score (1, 1, H, W); got {shapes}")
    return textdet.east_boxes(score.astype(np.float32)[0][0], geo.astype(np.float32)[0], preset)
