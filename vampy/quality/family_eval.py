"""`vampy eval --preset NAME` for the non-SR families (families.py): pair, score by the family's module, report.

Pairing (ZOO-EVAL.md P1): datalist line i (blank lines skipped, as vamp skips them) goes with the
i-th of the sorted *.npz files in the outputs folder. A line without an output, or an output that
cannot be scored, is listed in `failures` naming the file, and the rest are scored (the CLI exits
6); none scored is an InputError. The report is the SR presets' shape (EvalPresetReport): per-image
rows with that image's own metrics, and `metrics` computed as the vendor script computes its final
line (for the cumulative metrics of segmentation that is not the mean of the rows).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from vampy.config import EvalConfig
from vampy.data.imaging import encode_png
from vampy.errors import InputError, OutputError
from vampy.formats.datalist import read_datalist
from vampy.formats.files import make_output_dir, write_bytes_atomic
from vampy.formats.npz import load_input_npz, read_npz_headers
from vampy.progress import NullProgress, Progress
from vampy.quality import classification, nlp, segmentation, textdet, textrec
from vampy.quality.evaluate import OUTPUT_KEY, output_header_check, output_values_limit
from vampy.quality.families import FamilyPreset, SegScoring
from vampy.quality.family_report import family_report, paired
from vampy.results.schema import EvalPresetReport, FileProblem, ScoredImage


def evaluate_family(cfg: EvalConfig, preset: FamilyPreset, progress: Progress | None = None) -> EvalPresetReport:
    if preset.family == "classification":
        return _classification(cfg, preset, progress or NullProgress())
    if preset.family == "segmentation" and preset.seg is not None:
        return _segmentation(cfg, preset, preset.seg, progress or NullProgress())
    if preset.family in ("nlp", "text_recognition"):
        from vampy.quality import nlp_eval

        if preset.nlp is not None:
            return nlp_eval.evaluate_nlp(cfg, preset, preset.nlp, progress or NullProgress())
        if preset.ctc is not None:
            return nlp_eval.evaluate_text_recognition(cfg, preset, preset.ctc, progress or NullProgress())
    if preset.family == "detection" and preset.det is not None:
        from vampy.quality.det_eval import evaluate_detection

        return evaluate_detection(cfg, preset, preset.det, progress or NullProgress())
    if preset.family == "text_detection" and preset.textdet is not None:
        from vampy.quality.textdet_eval import evaluate_text_detection

        return evaluate_text_detection(cfg, preset, preset.textdet, progress or NullProgress())
    if preset.pixels is not None:
        from vampy.quality.enhancement import evaluate_pixels

        return evaluate_pixels(cfg, preset, preset.pixels, progress or NullProgress())
    if preset.sod is not None:
        from vampy.quality.sod import evaluate_sod

        return evaluate_sod(cfg, preset, preset.sod, progress or NullProgress())
    raise InputError(f"preset {preset.name}: family {preset.family} is not implemented yet")


def _classification(cfg: EvalConfig, preset: FamilyPreset, progress: Progress) -> EvalPresetReport:
    labels = classification.read_labels(Path(str(cfg.label_txt)))
    names = classification.synset_names()
    pairs, failures = paired(read_datalist(Path(cfg.datalist)), Path(cfg.outputs_dir))
    decoded: list[classification.Decoded] = []
    images: list[ScoredImage] = []
    progress.start("eval", len(pairs))
    for entry, output in pairs:
        try:
            result = classification.decode(entry, output, labels, names)
        except InputError as exc:
            failures.append(FileProblem(str(output), str(exc)))
        else:
            decoded.append(result)
            if result.synset is None:
                failures.append(FileProblem(entry.text, f"{entry.text}: no ImageNet synset folder (…/<wnid>/<name>.npz) in the path, so "
                                                        "no ground truth; its lines are in --result_txt"))
            else:
                images.append(ScoredImage(
                    index=entry.index, name=entry.path.stem, output_path=str(output), source_path=entry.text, gt_path=result.synset,
                    height_px=1, width_px=classification.TOP_K,
                    metrics={"top1_rate": 100.0 * result.top1, "top5_rate": 100.0 * result.top5},
                ))
        progress.advance()
    progress.finish()
    result_txt = Path(str(cfg.result_txt))
    text = "".join(line + "\n" for d in decoded for line in d.lines)
    try:
        write_bytes_atomic(result_txt.parent, result_txt.name, text.encode("utf-8"))
    except OSError as exc:
        raise OutputError(f"--result_txt {result_txt}: cannot write ({exc.strerror or exc})") from None
    metrics = classification.rates_pct(decoded) if images else {}
    return family_report(cfg, preset, images, metrics, failures)


def vendor_line(preset: FamilyPreset, metrics: dict[str, float], last_file: str = "", dataset: str = "", num_bits: int = 3) -> str:
    """The vendor script's result line for these metrics, as it prints it (segmentation: after the last file's name;
    text recognition: after --datasets_name; SOD: PySOD's table, rounded to num_bits, for the dataset)."""
    if preset.family == "sod":
        from vampy.quality.sod import vendor_table

        return vendor_table(metrics, num_bits, dataset)
    if preset.family == "classification":
        return classification.vendor_line(metrics)
    if preset.name == "mrpc":
        return nlp.vendor_line_mrpc(metrics)
    if preset.family == "detection":
        from vampy.quality.detection import vendor_line as map_line

        return map_line(metrics)
    if preset.family == "text_detection":
        return textdet.vendor_line(metrics)
    if preset.family == "text_recognition":
        return textrec.vendor_line(dataset, metrics)
    if preset.name == "human_seg":  # printed with str(): a float32, so fewer digits than this float64
        return f"mean iou: {metrics['mean_iou']}"
    return preset.printed.format(name=last_file, **metrics)


def _segmentation(cfg: EvalConfig, preset: FamilyPreset, s: SegScoring, progress: Progress) -> EvalPresetReport:
    hw = segmentation.compare_hw(s, cfg.input_hw or (0, 0))
    pairs, failures = paired(read_datalist(Path(cfg.datalist)), Path(cfg.outputs_dir))
    if cfg.draw_dir is not None:
        make_output_dir(Path(cfg.draw_dir), "--draw_dir")
    tally = segmentation.Tally(s)
    images: list[ScoredImage] = []
    progress.start("eval", len(pairs))
    for entry, output in pairs:
        gt_path = Path(cfg.gt_dir) / segmentation.gt_relative(entry.text, s)
        try:
            own, pred = segmentation.score_image(tally, gt_path, _output_0(output, hw), hw, str(output))
        except InputError as exc:
            failures.append(FileProblem(str(output), str(exc)))
        else:
            images.append(ScoredImage(index=entry.index, name=entry.path.stem, output_path=str(output), source_path=entry.text,
                                      gt_path=str(gt_path), height_px=hw[0], width_px=hw[1], metrics=own))
            if cfg.draw_dir is not None:
                write_bytes_atomic(Path(cfg.draw_dir), f"{entry.path.stem}.png", encode_png(segmentation.picture(pred, s)))
        progress.advance()
    progress.finish()
    return family_report(cfg, preset, images, tally.metrics() if images else {}, failures, len(images) if cfg.draw_dir else 0,
                         tally.per_class_iou() if images else None)


def _output_0(output: Path, hw: tuple[int, int]) -> np.ndarray:
    """output_0, refused from its header when not (N, C, H, W) or far larger than the compare size allows."""
    limit = output_values_limit((hw[0], hw[1]), None) * 64  # logits: up to a thousand classes at the label's size
    arrays = load_input_npz(output, keys=(OUTPUT_KEY,), check=output_header_check(OUTPUT_KEY, limit))
    if OUTPUT_KEY not in arrays:
        raise InputError(f"{output}: no key {OUTPUT_KEY} (keys: {', '.join(sorted(read_npz_headers(output)))})")
    return arrays[OUTPUT_KEY]
