"""`vampy eval --preset` for the NLP (NLP-1/3/4) and text-recognition (TR-1) records of families.py.

Each output is paired with its label line as the script pairs it (nlp.py, textrec.py say how); a
pair that cannot be scored is listed in `failures` naming the file and the rest are scored (the CLI
exits 6). `metrics` are computed over the scored pairs as the script computes its printed line.
"""
from __future__ import annotations

from pathlib import Path

from vampy.config import EvalConfig
from vampy.errors import InputError
from vampy.formats.datalist import read_datalist
from vampy.progress import Progress
from vampy.quality import nlp, textrec
from vampy.quality.families import CtcScoring, FamilyPreset, NlpScoring
from vampy.quality.zoo_io import need, numbered_outputs, read_text, sorted_outputs
from vampy.results.schema import EvalPresetReport, FileProblem, ScoredImage

_LABEL_FLAG = {"argmax_acc": "--labels_path", "mrpc": "--eval_path", "ner": "--label_path"}


def evaluate_nlp(cfg: EvalConfig, preset: FamilyPreset, s: NlpScoring, progress: Progress) -> EvalPresetReport:
    from vampy.quality.family_report import family_report

    if s.task == "ner":
        need("seqeval.metrics", preset.name)  # refused before any work when the [zoo-eval] extra is absent
    flag = _LABEL_FLAG[s.task]
    labels_path = Path(str(cfg.labels_path))
    text = read_text(labels_path, flag)
    lines = nlp.mrpc_labels(text) if s.task == "mrpc" else nlp.vendor_lines(text)
    if s.task == "ner":
        lines = [line for line in lines if line.strip()]
    outputs = _paired_outputs(Path(cfg.outputs_dir), s.pairing)
    failures = [FileProblem(str(path), f"{path}: no {flag} line {i + 1} for it ({len(lines)} lines in {labels_path})")
                for i, path in outputs.items() if i >= len(lines)]
    if s.pairing == "sorted":  # a label line past the last output has no output (by_name: its number is simply absent)
        failures += [FileProblem(str(labels_path), f"{flag} {labels_path} line {i + 1}: no output for it ({len(outputs)} npz files)")
                     for i in range(len(outputs), len(lines))]
    else:
        failures += [FileProblem(str(labels_path), f"{flag} {labels_path} line {i + 1}: no output_{i:06d}.npz in {cfg.outputs_dir}")
                     for i in range(len(lines)) if i not in outputs]
    pairs = [(i, path) for i, path in outputs.items() if i < len(lines)]
    progress.start("eval", len(pairs))
    images, metrics = _score_nlp(s.task, pairs, lines, f"{flag} {labels_path}", failures, progress, preset.name)
    progress.finish()
    return family_report(cfg, preset, images, metrics, failures)


def _paired_outputs(folder: Path, pairing: str) -> dict[int, Path]:
    if pairing == "by_name":
        return numbered_outputs(folder, "--result_dir")
    return dict(enumerate(sorted_outputs(folder, "--result_dir")))


def _row(i: int, output: Path, where: str, metrics: dict[str, float], width: int = 1) -> ScoredImage:
    return ScoredImage(index=i, name=output.stem, output_path=str(output), source_path=f"{where} line {i + 1}", gt_path=where,
                       height_px=1, width_px=width, metrics=metrics)


def _score_nlp(task: str, pairs: list[tuple[int, Path]], lines: list[str], where: str, failures: list[FileProblem],
               progress: Progress, preset: str) -> tuple[list[ScoredImage], dict[str, float]]:
    images: list[ScoredImage] = []
    confusion = nlp.Confusion()
    y_true: list[list[str]] = []
    y_pred: list[list[str]] = []
    for i, output in pairs:
        here = f"{where} line {i + 1}"
        try:
            if task == "argmax_acc":
                right = nlp.argmax_class(output) == nlp.int_label(lines[i], here)
                images.append(_row(i, output, where, {"acc": float(right)}))
            elif task == "mrpc":
                predicted, label = nlp.mrpc_prediction(output), nlp.int_label(lines[i], here)
                confusion.add(predicted, label)
                images.append(_row(i, output, where, {"accuracy": float(predicted == label)}))
            else:
                sentence = nlp.ner_sentence(nlp.ner_label_ids(lines[i], here), nlp.ner_predicted_ids(output), here)
                if sentence is not None:  # a line without the end id is dropped, as the script drops it
                    y_true.append(sentence[0])
                    y_pred.append(sentence[1])
                    hits = sum(t == p for t, p in zip(*sentence))
                    images.append(_row(i, output, where, {"accuracy": hits / len(sentence[0])} if sentence[0] else {},
                                       len(sentence[0])))
        except InputError as exc:
            failures.append(FileProblem(str(output), str(exc)))
        progress.advance()
    if not images:
        return images, {}
    if task == "argmax_acc":
        return images, {"acc": sum(row.metrics["acc"] for row in images) / len(images)}
    if task == "mrpc":
        return images, confusion.metrics()
    return images, nlp.ner_metrics(y_true, y_pred, preset)


def evaluate_text_recognition(cfg: EvalConfig, preset: FamilyPreset, s: CtcScoring, progress: Progress) -> EvalPresetReport:
    from vampy.quality.family_report import family_report

    labels_path = Path(str(cfg.labels_path))
    labels = textrec.read_labels(read_text(labels_path, "--label_file"), f"--label_file {labels_path}")
    stripped = textrec.stripped_keys(labels)
    entries = read_datalist(Path(cfg.datalist))
    folder = Path(cfg.outputs_dir)
    if not folder.is_dir():
        raise InputError(f"--pred_npz_dir {folder}: no such folder of output npz files")
    images: list[ScoredImage] = []
    failures: list[FileProblem] = []
    progress.start("eval", len(entries))
    for entry in entries:
        output = folder / f"output_{entry.index:06d}.npz"
        key = textrec.lookup_key(entry.text)
        label = textrec.label_for(key, labels, stripped)
        try:
            if label is None:
                raise InputError(f"{entry.text}: no label for {key!r} in --label_file {labels_path}")
            if not output.is_file():
                raise InputError(f"{output}: no such output for datalist line {entry.line_no} ({entry.text})")
            found = textrec.ctc_greedy(textrec.step_scores(output, s.reshape, s.keep), str(output))
        except InputError as exc:
            failures.append(FileProblem(str(output), str(exc)))
        else:
            right = textrec.normalize_text(found.text) == textrec.normalize_text(label)
            images.append(ScoredImage(index=entry.index, name=key, output_path=str(output), source_path=entry.text,
                                      gt_path=str(labels_path), height_px=1, width_px=len(found.text),
                                      metrics={"acc": float(right), "conf": found.confidence}))
        progress.advance()
    progress.finish()
    right_num = sum(int(row.metrics["acc"]) for row in images)
    metrics = {"right_num": float(right_num), "all_num": float(len(images)), "acc": right_num / len(images)} if images else {}
    return family_report(cfg, preset, images, metrics, failures)
