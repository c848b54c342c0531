"""What every non-SR family's scorer shares: the vendor's pairing of datalist lines with outputs, and
the one report shape. Apart from family_eval.py (the dispatcher), so each family's module can use
these without importing the dispatcher that imports it.
"""
from __future__ import annotations

from pathlib import Path

from vampy.config import EvalConfig
from vampy.errors import InputError
from vampy.formats.datalist import DatalistEntry
from vampy.quality.families import FamilyPreset
from vampy.results.schema import EvalPresetReport, FileProblem, ScoredImage


def paired(entries: list[DatalistEntry], outputs_dir: Path) -> tuple[list[tuple[DatalistEntry, Path]], list[FileProblem]]:
    """(line, output) by position among the sorted *.npz files; lines past the last output are failures."""
    if not outputs_dir.is_dir():
        raise InputError(f"{outputs_dir}: no such folder of output npz files")
    outputs = sorted(p for p in outputs_dir.glob("*.npz") if p.is_file())
    pairs = list(zip(entries, outputs))
    missing = [FileProblem(e.text, f"{e.text}: datalist line {e.index} has no output ({len(outputs)} npz files in {outputs_dir})")
               for e in entries[len(outputs):]]
    return pairs, missing


def family_report(cfg: EvalConfig, preset: FamilyPreset, images: list[ScoredImage], metrics: dict[str, float],
            failures: list[FileProblem], drawn: int = 0, per_class_iou: dict[str, float | None] | None = None) -> EvalPresetReport:
    """per_class_iou: the segmentation presets' IoU of each class (segmentation.Tally.per_class_iou), None for the others."""
    if not images:
        first = failures[0].reason if failures else "the datalist is empty"
        raise InputError(f"no image could be scored ({len(failures)} failed); the first: {first}")
    return EvalPresetReport(config=cfg.to_dict(), preset=preset.name, scoring=preset.to_dict(), images=tuple(images),
                            metrics=metrics, failures=tuple(failures), drawn=drawn, deviations=preset.deviations,
                            per_class_iou=per_class_iou)


def per_class_text(per_class_iou: dict[str, float | None] | None) -> str | None:
    """The report's per-class IoU as one printed line (None: not a segmentation report); absent classes say so."""
    if not per_class_iou:
        return None
    cells = ", ".join(f"{c}: {'absent' if v is None else f'{v:.4f}'}" for c, v in per_class_iou.items())
    return f"IoU per class (absent: no pixel in the ground truth or the prediction): {cells}"
