"""`vampy infer --preset NAME` for the classification and segmentation presets (vampy/quality/families.py).

The pipeline of vampy/workflows/infer.py is unchanged; a `FamilyPlan` swaps its ground-truth step and
its writer for the family's own scorer, so the figures equal image2npz + run --datalist + eval --preset:

    decode   as plain infer: image2npz --mode's tensor (rgb for a 3-channel model; these families have no
             image2npz --preset recipe) and the vdsp file, as run --datalist feeds it; segmentation: the
             label file's path by the preset's rule (segmentation.gt_relative) from the image's path with
             .npz for its suffix, the datalist line image2npz would write for it
    model    output_0, as eval reads it
    write    classification.decode_vector on the output (the result lines start with the image's path:
             its parent folder is the synset, where eval reads the datalist line's), or
             segmentation.score_image (label at the compare size, decode, the script's running tally);
             --save_dir gets eval --draw_dir's label picture

Segmentation compares at the model's input size (the vdsp file's, --input_shape H W, or the model's
fixed H W; r2unet_seg's hard-coded 96x96): eval --input_shape gives the same size in the order the
preset's script reads it (voc_seg: W H). The scorer is the writer thread's alone, so the tally runs
in input order, as eval's runs in datalist order.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vampy.config import InferConfig
from vampy.data.imaging import encode_png
from vampy.errors import InputError, OutputError, UsageError
from vampy.formats.files import write_bytes_atomic
from vampy.quality import classification, segmentation
from vampy.quality.families import FamilyPreset, family_preset
from vampy.results.schema import InferFailure, InferPresetReport, InferTiming, ScoredImage


@dataclass(frozen=True)
class FamilyPlan:
    preset: FamilyPreset
    compare_hw: tuple[int, int] | None  # segmentation: the size labels are read at; None for classification
    labels: tuple[str, ...] = ()  # classification: --label_txt's lines (class id = line number)


def family_plan(cfg: InferConfig, model_hw: tuple[int, int] | None) -> FamilyPlan | None:
    """The plan for a classification or segmentation --preset (InferConfig refused the others); None otherwise.

    model_hw: the size the vdsp file (or --input_shape) resizes the images to; None when nothing fixes it.
    """
    preset = family_preset(cfg.preset)
    if preset is None:
        return None
    if preset.seg is None:
        return FamilyPlan(preset, None, tuple(classification.read_labels(Path(str(cfg.label_txt)))))
    hw = preset.seg.fixed_hw if preset.seg.shape_order == "fixed" else model_hw
    if hw is None:
        raise UsageError(f"--preset {preset.name} compares the labels at the model's input size, and nothing fixes it: "
                         "give --vdsp_params (its resize size; --input_shape H W overrides it)")
    return FamilyPlan(preset, hw)


def family_gt_path(fp: FamilyPlan, gt_dir: str | None, image: Path) -> Path | None:
    """Segmentation: the label file eval would read for this image (InputError when missing); classification: None."""
    s = fp.preset.seg
    if s is None:
        return None
    path = Path(str(gt_dir)) / segmentation.gt_relative(_line(image), s)
    if not path.is_file():
        raise InputError(f"{path}: no label file for {image} (preset {fp.preset.name}: {segmentation.GT_RULE_PATTERNS[s.gt_rule]})")
    return path


def _line(image: Path) -> str:
    """The datalist line image2npz writes for this image (its folder kept): what the preset's path rule reads."""
    return image.with_suffix(".npz").as_posix()


class FamilyScorer:
    """The family's scorer on each in-memory output, in input order; called from the writer thread only."""

    def __init__(self, fp: FamilyPlan) -> None:
        self.fp = fp
        self.tally = segmentation.Tally(fp.preset.seg) if fp.preset.seg is not None else None
        self.names = classification.synset_names() if fp.preset.seg is None else {}
        self.labels = list(fp.labels)
        self.decoded: list[classification.Decoded] = []

    def score(self, index: int, image: Path, gt_path: Path | None, output: np.ndarray, save_dir: str | None) -> ScoredImage:
        """One image's row; InputError when it cannot be scored (listed with stage score, the rest go on)."""
        where = f"{image}: model output output_0"
        if self.tally is None:
            return self._classify(index, image, output, where)
        assert gt_path is not None and self.fp.compare_hw is not None
        hw = self.fp.compare_hw
        own, pred = segmentation.score_image(self.tally, gt_path, output, hw, where)
        saved = None
        if save_dir is not None:
            picture = encode_png(segmentation.picture(pred, self.tally.s))
            saved = str(write_bytes_atomic(Path(save_dir), f"{image.stem}.png", picture))
        return ScoredImage(index=index, name=image.stem, output_path=saved, source_path=str(image), gt_path=str(gt_path),
                           height_px=hw[0], width_px=hw[1], metrics=own)

    def _classify(self, index: int, image: Path, output: np.ndarray, where: str) -> ScoredImage:
        vector = classification.score_vector(output, where)
        result = classification.decode_vector(image.as_posix(), vector, self.labels, self.names, where)
        self.decoded.append(result)  # its lines go to --result_txt even when it has no synset, as eval's do
        if result.synset is None:
            raise InputError(f"{image}: no ImageNet synset folder (…/<wnid>/<name>) in the path, so no ground truth")
        return ScoredImage(index=index, name=image.stem, output_path=None, source_path=str(image), gt_path=result.synset,
                           height_px=1, width_px=classification.TOP_K,
                           metrics={"top1_rate": 100.0 * result.top1, "top5_rate": 100.0 * result.top5})

    def metrics(self) -> dict[str, float]:
        """The script's final figures over the images scored."""
        return classification.rates_pct(self.decoded) if self.tally is None else self.tally.metrics()

    def per_class_iou(self) -> dict[str, float | None] | None:
        return None if self.tally is None else self.tally.per_class_iou()

    def write_result_txt(self, path: str) -> None:
        """vamp_npz_decode.py's result file, each image's 5 lines starting with its path (eval's: the datalist line)."""
        text = "".join(line + "\n" for d in self.decoded for line in d.lines)
        target = Path(path)
        try:
            write_bytes_atomic(target.parent, target.name, text.encode("utf-8"))
        except OSError as exc:
            raise OutputError(f"--result_txt {target}: cannot write ({exc.strerror or exc})") from None


def family_report(
    scorer: FamilyScorer, base: dict[str, Any], images: Sequence[ScoredImage], failures: Sequence[InferFailure], timing: InferTiming,
) -> InferPresetReport:
    """eval --preset's report shape; `base` holds config, model, mode, intra_threads, notes and engine as infer's report has them."""
    preset = scorer.fp.preset
    result_txt = base["config"].get("result_txt")
    if result_txt:
        scorer.write_result_txt(result_txt)
    return InferPresetReport(
        config=base["config"], model=base["model"], mode=base["mode"], intra_threads=base["intra_threads"], preset=preset.name,
        scoring=preset.to_dict(), images=tuple(images), metrics=scorer.metrics(), failures=tuple(failures), timing=timing,
        saved=sum(1 for i in images if i.output_path), deviations=preset.deviations, notes=base["notes"], engine=base["engine"],
        per_class_iou=scorer.per_class_iou(),
    )
