"""`vampy eval --preset coco_det / coco_det_stretch / coco_det_yolox`: a detection reader and eval_map.py in one command
(detection.py; detection_yolox.py for the YOLOX raw heads).

Datalist line i (blank lines skipped, as vamp skips them) goes with the i-th sorted *.npz output; its
image is `--input_image_dir / basename(line.replace('npz', 'jpg'))`, read for its size only. Each
image's `<stem>.txt` is written to `--txt` byte for byte as the script writes it (an empty file when
nothing is detected), `pred.json` beside them as eval_map.py writes it, and COCO mAP is computed from
those lines on every image of `--gt`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from vampy.config import EvalConfig
from vampy.data.imaging import read_image
from vampy.errors import InputError, UsageError
from vampy.formats.datalist import read_datalist
from vampy.formats.files import make_output_dir, write_bytes_atomic
from vampy.progress import Progress
from vampy.quality import detection, detection_yolox
from vampy.quality.families import DetScoring, FamilyPreset
from vampy.quality.nlp import vendor_lines
from vampy.quality.zoo_io import need, read_text
from vampy.results.schema import EvalPresetReport, FileProblem, ScoredImage


def evaluate_detection(cfg: EvalConfig, preset: FamilyPreset, s: DetScoring, progress: Progress) -> EvalPresetReport:
    from vampy.quality.family_report import family_report, paired

    need("pycocotools.cocoeval", preset.name)  # refused before any work when the [zoo-eval] extra is absent
    if cfg.det_format != "bbox":
        raise UsageError(f"preset {preset.name}: --format {cfg.det_format}: the readers write boxes, so only bbox is scored")
    model_hw = cfg.model_hw or (640, 640)  # the scripts' default --model_size
    yolox = s.decode == "yolox"  # DET-10: the 9 raw heads, COCO names built in (no --label_txt)
    classes = [] if yolox else [line.strip() for line in vendor_lines(read_text(Path(str(cfg.label_txt)), "--label_txt"))]
    gt = detection.load_gt(Path(str(cfg.labels_path)), preset.name)
    gt_ids = set(gt.getImgIds())
    txt_dir = Path(str(cfg.txt_dir))
    make_output_dir(txt_dir, "--txt")
    pairs, failures = paired(read_datalist(Path(cfg.datalist)), Path(cfg.outputs_dir))
    images: list[ScoredImage] = []
    results: list[dict[str, Any]] = []
    progress.start("eval", len(pairs))
    for entry, output in pairs:
        image = (detection_yolox.image_name if yolox else detection.image_name)(entry.text)
        image_path = Path(str(cfg.image_dir)) / image
        try:
            image_hw = read_image(image_path).shape[:2]
            hw = (int(image_hw[0]), int(image_hw[1]))
            found = (detection_yolox.decode(output, image, hw, model_hw) if yolox
                     else detection.decode(output, image, hw, model_hw, classes, s.inverse))
            write_bytes_atomic(txt_dir, found.txt_name, "".join(found.lines).encode("utf-8"))
            mine = detection.coco_results(found, str(txt_dir / found.txt_name))
            if mine and mine[0]["image_id"] not in gt_ids:
                raise InputError(f"{txt_dir / found.txt_name}: image id {mine[0]['image_id']!r} is not in --gt {cfg.labels_path}; "
                                 "eval_map.py's loadRes stopped on it")
        except InputError as exc:
            failures.append(FileProblem(str(output), str(exc)))
        else:
            results += mine
            images.append(ScoredImage(index=entry.index, name=Path(found.txt_name).stem, output_path=str(output),
                                      source_path=str(image_path), gt_path=str(cfg.labels_path), height_px=int(image_hw[0]),
                                      width_px=int(image_hw[1]), metrics={"detections": len(found.lines)}))
        progress.advance()
    progress.finish()
    write_bytes_atomic(txt_dir, "pred.json", detection.pred_json(results))
    metrics = detection.coco_map(gt, results, cfg.det_format, preset.name) if images else {}
    return family_report(cfg, preset, images, metrics, failures)
