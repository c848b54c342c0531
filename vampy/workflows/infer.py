"""`vampy infer`: an image folder straight to super-resolved images and Y scores, streamed.

The seed's "runstream" step. Three stages joined by bounded queues, so reading, inference and
writing overlap and memory stays flat whatever the size of the folder:

    decode thread   read the image -> image2npz's CHW uint8 (y3, rgb or gray) -> the vdsp
                    preprocessing -> the model's plane(s); find and read the ground truth
    calling thread  group consecutive samples of one shape into batches -> session.run
    writer thread   the vendor's output reader (clip to [0, 1], x255, round) -> PSNR/SSIM and the
                    bicubic scores at the compare size -> the colourised PNG under --save_dir

Every step is the npz route's own code: imaging.image_to_chw as image2npz writes the npz,
inputs.build_plan / sample_tensor / batch_feed as `run --datalist` feeds the model, and
evaluate's reader, compare sizes and scores as `eval`. So on the same model and images the scores
equal image2npz + run --datalist + eval's. Each stage takes one item at a time in input order, so
the results come out in input order.

Compare size: the model's input size (the vdsp resize, --input_shape overriding it), as `eval
--input_shape` with the same H W; with --native each image runs at its own size and is compared
at its ground truth's size, as `run --native_size` + `eval --native`.

With --preset, infer_preset.py (the super-resolution presets) or infer_family.py (imagenet_topk and
the segmentation presets) swaps the ground-truth step and the writer for eval --preset's own.

Failures of one image (unreadable, no ground truth, preprocessing refused, a shape the model
rejects, not scorable) are recorded with their stage and every other image goes on; when none gets
through, InputError. Problems with the whole run (model, vdsp file, folders, an unwritable
--save_dir) raise.
"""
from __future__ import annotations

import glob as globlib
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vampy.config import InferConfig, device_of
from vampy.config.run import EngineChoice, InputOptions
from vampy.data.image2npz import KEEP_FOLDERS_PRESETS, effective_pattern, subfolder_hint
from vampy.data.imaging import IMAGE_SUFFIXES, colourise, decode_image_bytes, encode_image, encode_png, image_to_chw, read_image
from vampy.data.inputs import InputPlan, batch_feed, build_plan, pad_batch, sample_tensor, synthetic_raw
from vampy.engines.base import EngineOptions, get_engine
from vampy.errors import InputError, ModelError, Terminated, UsageError, first_line
from vampy.execution.request import Instance
from vampy.formats.files import make_output_dir, write_bytes_atomic
from vampy.models.info import ModelInfo, TensorInfo
from vampy.models.resolve import resolve_model
from vampy.progress import NullProgress, Progress
from vampy.quality.evaluate import FolderIndex, check_size, compare_planes, find_ground_truth, mean_metrics, output_y, score_planes
from vampy.results.schema import InferFailure, InferPresetReport, InferReport, InferTiming, ScoredImage
from vampy.workflows.infer_family import FamilyPlan, FamilyScorer, family_gt_path, family_plan, family_report
from vampy.workflows.infer_preset import PresetPlan, preset_chw, preset_gt_path, preset_plan, preset_report, score_preset, warm_score

if TYPE_CHECKING:
    from vampy.formats.vdsp import PreprocessSpec

Clock = Callable[[], int]

# Each queue holds this many batches: one being worked on downstream, one ready behind it.
QUEUE_BATCHES = 2
POLL_S = 0.1  # how often a blocked stage looks at the stop flag
PROBE_HW = (64, 64)  # the shape check's image size when nothing fixes one (native size, dynamic model)
_DONE = object()  # end of the stream, passed down the queues


@dataclass(frozen=True)
class PreparedInfer:
    cfg: InferConfig
    model_path: Path
    info: ModelInfo
    plan: InputPlan
    mode: str
    images: tuple[Path, ...]
    duplicates: dict[int, str]  # image index -> why it is skipped (a second image with the same name)
    compare_hw: tuple[int, int] | None
    intra_threads: int
    notes: tuple[str, ...] = ()
    preset: PresetPlan | None = None  # --preset / --scoring: scored as eval --preset (infer_preset.py)
    family: FamilyPlan | None = None  # a classification or segmentation --preset (infer_family.py)


@dataclass
class _Item:
    index: int
    path: Path
    name: str
    source_bgr: np.ndarray | None = None
    gt_path: Path | None = None
    gt_bgr: np.ndarray | None = None
    tensors: list[np.ndarray] | None = None
    output: np.ndarray | None = None  # this image's slice of output 0, batch dimension kept
    failure: tuple[str, str] | None = None  # (stage, reason)


@dataclass
class _Busy:
    """Each stage's own work in ns, written by that stage's thread only."""

    decode_ns: int = 0
    infer_ns: int = 0
    model_ns: int = 0
    write_ns: int = 0
    start_ns: int = 0  # when every stage had warmed up: the pipeline's clock starts here
    batches: int = 0
    inferred: int = 0
    images: list[ScoredImage] = field(default_factory=list)
    failures: list[InferFailure] = field(default_factory=list)


def prepare(cfg: InferConfig) -> PreparedInfer:
    """Model, vdsp file, input plan, image list and folders: everything checked before any image is read."""
    from vampy.formats.vdsp import load_vdsp

    model_path = resolve_model(cfg.model)
    engine = get_engine(cfg.engine)
    engine.check(_engine_options(cfg, 1))
    info = engine.describe(model_path)
    spec = load_vdsp(cfg.vdsp_params) if cfg.vdsp_params else None
    if spec is not None and cfg.input_hw is not None:
        spec = spec.with_output_hw(*cfg.input_hw)
    plan, mode = _plan(cfg, spec, info)
    model_hw = None if cfg.native else plan.output_hw
    family = family_plan(cfg, model_hw)
    preset = None if family is not None else preset_plan(cfg, info, mode, model_hw)
    # imagenet_topk's images sit in synset folders: the default pattern recurses for it, as image2npz's does
    pattern = effective_pattern(cfg.pattern, family is not None and family.preset.name in KEEP_FOLDERS_PRESETS)
    images = list_images(Path(cfg.lr_dir), pattern)
    if cfg.gt_dir is not None and not Path(cfg.gt_dir).is_dir():  # None: imagenet_topk, whose labels are folder names
        raise InputError(f"--hr_image_dir {cfg.gt_dir}: no such folder")
    if cfg.save_dir is not None:
        make_output_dir(Path(cfg.save_dir), "--save_dir")
    notes = ((f"--device {cfg.device_id}: vampy runs on the CPU; the device id is only recorded",)
             if cfg.device_id and cfg.provider in (None, "cpu") else ())
    return PreparedInfer(
        cfg, model_path, info, plan, mode, tuple(images), _duplicates(images) if cfg.save_dir else {},
        model_hw, EngineChoice(threads=cfg.threads).intra_threads(1), notes, preset, family,
    )


def infer(cfg: InferConfig, progress: Progress | None = None, clock: Clock = time.perf_counter_ns) -> InferReport | InferPresetReport:
    """Run every image through the pipeline; see the module doc for the stages, sizes and failures."""
    return execute(prepare(cfg), progress, clock)


def execute(
    prepared: PreparedInfer, progress: Progress | None = None, clock: Clock = time.perf_counter_ns
) -> InferReport | InferPresetReport:
    progress = progress or NullProgress()
    t_setup = clock()
    session = get_engine(prepared.cfg.engine).open(prepared.model_path, _engine_options(prepared.cfg, prepared.intra_threads))
    t_warm = clock()
    notes = list(prepared.notes)
    warm_output = _warm_up(session, prepared, notes)
    progress.start("infer", len(prepared.images))
    pipeline = _Pipeline(prepared, session, progress, clock, warm_output)
    interrupted = None
    try:
        busy = pipeline.run()
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: the images scored so far make the report, marked INCOMPLETE
        busy = pipeline.busy
        if not busy.images:
            raise
        interrupted = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted (Ctrl-C)"
        notes.append(f"INCOMPLETE: {interrupted} after {len(busy.images)} of {len(prepared.images)} images; the figures cover those")
    t_start = busy.start_ns
    wall_ns = clock() - t_start
    progress.finish()
    if not busy.images:
        first = busy.failures[0].reason if busy.failures else "no image"
        raise InputError(f"no image could be processed ({len(busy.failures)} failed); the first: {first}")
    pipeline_s = wall_ns / 1e9
    timing = InferTiming(
        images=busy.inferred, batches=busy.batches, pipeline_s=pipeline_s,
        throughput_ips=busy.inferred / pipeline_s if pipeline_s > 0 else 0.0,
        decode_busy_s=busy.decode_ns / 1e9, infer_busy_s=busy.infer_ns / 1e9, model_s=busy.model_ns / 1e9,
        write_busy_s=busy.write_ns / 1e9, warmup_s=(t_start - t_warm) / 1e9, setup_s=(t_warm - t_setup) / 1e9,
    )
    base = {"config": prepared.cfg.to_dict(), "model": _model_dict(prepared), "mode": prepared.mode,
            "intra_threads": prepared.intra_threads, "notes": tuple(notes), "engine": session.info.to_dict()}
    report = _report(prepared, pipeline, busy, timing, base, notes, session.info.to_dict())
    return replace(report, incomplete_reason=interrupted) if interrupted else report


def _report(prepared: PreparedInfer, pipeline: _Pipeline, busy: _Busy, timing: InferTiming, base: dict[str, Any], notes: list[str],
            engine: dict[str, Any]) -> InferReport | InferPresetReport:
    if pipeline.scorer is not None:
        return family_report(pipeline.scorer, base, busy.images, busy.failures, timing)
    if prepared.preset is not None:
        return preset_report(prepared.preset, base, busy.images, busy.failures, timing)
    return InferReport(
        config=prepared.cfg.to_dict(), model=_model_dict(prepared), mode=prepared.mode,
        compare_hw=list(prepared.compare_hw) if prepared.compare_hw else None, intra_threads=prepared.intra_threads,
        images=tuple(busy.images), metrics=mean_metrics(busy.images), failures=tuple(busy.failures), timing=timing,
        saved=sum(1 for image in busy.images if image.output_path), notes=tuple(notes), engine=engine,
    )


# --- preparation ---


def _engine_options(cfg: InferConfig, intra_threads: int) -> EngineOptions:
    # No spinning: ONNX Runtime's idle threads would spin on the cores the decode and writer
    # threads need; on 2 cores the pipeline was faster without it in 6 of 8 pairs (docs/infer.md).
    return EngineOptions(device=device_of(cfg.provider), device_id=cfg.device_id, intra_threads=intra_threads,
                         allow_spinning=False, precision=cfg.infer_precision)


def list_images(lr_dir: Path, pattern: str) -> list[Path]:
    """Image files matching pattern under lr_dir, in image2npz's order (relative path, as text)."""
    if not lr_dir.is_dir():
        raise InputError(f"--lr_image_dir {lr_dir}: no such folder")
    matches = (Path(p) for p in globlib.glob(os.path.join(globlib.escape(str(lr_dir)), pattern), recursive=True))
    files = sorted((p for p in matches if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                   key=lambda p: p.relative_to(lr_dir).as_posix())
    if not files:
        raise InputError(f"--pattern {pattern!r}: no image file in {lr_dir} matches (image suffixes: {', '.join(IMAGE_SUFFIXES)})"
                         f"{subfolder_hint(lr_dir, pattern)}")
    return files


def _duplicates(images: list[Path]) -> dict[int, str]:
    """With --save_dir, a second image with the same name (a.png, a.jpg, or a.JPEG in another synset folder) would
    overwrite the first's PNG: skipped, as image2npz does. Without it nothing is written by name, so none is skipped."""
    first: dict[str, Path] = {}
    skipped: dict[int, str] = {}
    for index, path in enumerate(images):
        if path.stem in first:
            skipped[index] = f"{path}: same name {path.stem} as {first[path.stem]}; rename one of them"
        else:
            first[path.stem] = path
    return skipped


def _plan(cfg: InferConfig, spec: PreprocessSpec | None, info: ModelInfo) -> tuple[InputPlan, str]:
    """run's own input plan for one image input, checked against the model as `vampy run` checks it."""
    if len(info.inputs) != 1:
        names = ", ".join(t.name for t in info.inputs)
        raise UsageError(f"model has {len(info.inputs)} inputs ({names}); vampy infer feeds one image input")
    mode = cfg.mode or _auto_mode(info.inputs[0])
    channels = 1 if mode == "gray" else 3
    inputs = InputOptions(
        vdsp_params=cfg.vdsp_params, batch_size=cfg.batch_size, shapes=((channels, *_probe_hw(cfg, spec, info.inputs[0])),),
        native_size=cfg.native,
    )
    plan = build_plan(inputs, spec, info)
    if plan.slots[0].kind != "image":
        slot = plan.slots[0]
        raise UsageError(f"model input '{slot.name}' takes {slot.dtype} tokens; vampy infer feeds images (a float N,C,H,W input)")
    return plan, mode


def _auto_mode(tensor: TensorInfo) -> str:
    """What image2npz --mode the model wants: rgb for a 3-channel input, else y3 (the SR models' Y)."""
    return "rgb" if len(tensor.shape) == 4 and tensor.shape[1] == 3 else "y3"


def _probe_hw(cfg: InferConfig, spec: PreprocessSpec | None, tensor: TensorInfo) -> tuple[int, int]:
    """The image size for the up-front shape check and the warm-up; real images keep their own."""
    if cfg.input_hw is not None:
        return cfg.input_hw
    if len(tensor.shape) == 4 and tensor.shape[2] is not None and tensor.shape[3] is not None:
        return (int(tensor.shape[2]), int(tensor.shape[3]))
    if spec is not None and spec.input_hw is not None:
        return spec.input_hw
    return PROBE_HW


def _warm_up(session: Any, prepared: PreparedInfer, notes: list[str]) -> np.ndarray | None:
    """One synthetic batch before the clock starts, as `vampy run` warms up (first-run allocations).

    Returns its first output (the writer stage warms up on it), None when the model refused the probe.
    """
    plan = prepared.plan
    slot = plan.slots[0]
    sample = [sample_tensor(slot, plan, synthetic_raw(slot, plan.spec, np.random.default_rng(0)))]
    try:
        outputs = session.run(batch_feed(plan, [sample] * plan.batch_size))
    except Exception as exc:  # noqa: BLE001 - ORT raises several pybind types for a bad input
        reason = first_line(exc)
        if not plan.native_size:
            raise ModelError(f"model {prepared.model_path}: fails on a {tuple(sample[0].shape)} input: {reason}") from None
        # At native size the images bring their own shapes; each one that fails is listed.
        notes.append(f"warm-up skipped: the model fails on a {tuple(sample[0].shape)} probe input ({reason})")
        return None
    first = np.asarray(outputs[0]) if outputs else None
    return first[:1] if first is not None and first.ndim else None


def _model_dict(prepared: PreparedInfer) -> dict[str, Any]:
    def tensor(t: TensorInfo) -> dict[str, Any]:
        return {"name": t.name, "shape": [d if d is not None else "dynamic" for d in t.shape], "dtype": str(t.dtype)}

    return {
        "path": str(prepared.model_path),
        "inputs": [tensor(t) for t in prepared.info.inputs],
        "outputs": [tensor(t) for t in prepared.info.outputs],
        "plan": prepared.plan.to_dict(),
    }



# --- the pipeline ---


class _Pipeline:
    """decode thread -> (bounded queue) -> calling thread: model -> (bounded queue) -> writer thread."""

    def __init__(self, prepared: PreparedInfer, session: Any, progress: Progress, clock: Clock,
                 warm_output: np.ndarray | None = None) -> None:
        self.prep = prepared
        self.warm_output = warm_output
        # listed once, before the clock; the presets name their ground truth themselves
        self.ground_truth = FolderIndex(Path(prepared.cfg.gt_dir)) if prepared.cfg.gt_dir and not prepared.family else None
        self.scorer = FamilyScorer(prepared.family) if prepared.family is not None else None
        self.session = session
        # The model stage runs a batch as a run's timed request runs it (request.Instance: a device
        # session's copies timed apart on the same clock); the rest of the timed request does not fit here:
        # preprocessing is the decode stage's, overlapped on its own thread, and a failure names its stage.
        self.instance = Instance(session, clock)
        self.progress = progress
        self.clock = clock
        depth = QUEUE_BATCHES * prepared.plan.batch_size
        self.decoded: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.inferred: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        # The three stages start the clock together, once each has paid its first-call costs; the
        # barrier's action reads the clock before any stage is released, so no image is read first.
        self.ready = threading.Barrier(3, action=self._start_clock)
        self.errors: list[BaseException] = []
        self.busy = _Busy()
        self.output_name = prepared.info.outputs[0].name if prepared.info.outputs else "output_0"

    def run(self) -> _Busy:
        threads = [
            threading.Thread(target=self._guard, args=(self._decode_all,), name="vampy-infer-decode", daemon=True),
            threading.Thread(target=self._guard, args=(self._write_all,), name="vampy-infer-write", daemon=True),
        ]
        try:
            for thread in threads:
                thread.start()
            if self._ready():
                self._infer_all()
        except BaseException:
            self.stop.set()  # Ctrl-C or a failure here: the other stages stop within POLL_S
            self.ready.abort()
            raise
        finally:
            for thread in threads:
                if thread.is_alive():
                    thread.join()
        if self.errors:
            raise self.errors[0]
        return self.busy

    def _guard(self, stage: Callable[[], None]) -> None:
        try:
            stage()
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread, which re-raises it
            self.errors.append(exc)
            self.stop.set()
            self.ready.abort()

    def _start_clock(self) -> None:
        self.busy.start_ns = self.clock()

    def _ready(self) -> bool:
        """Wait for the other stages' warm-up; False when one of them failed (or Ctrl-C) first."""
        try:
            self.ready.wait()
            return True
        except threading.BrokenBarrierError:
            return False

    def _put(self, target: queue.Queue[Any], item: Any) -> bool:
        while not self.stop.is_set():
            try:
                target.put(item, timeout=POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, source: queue.Queue[Any]) -> Any:
        """The next item, or None once the pipeline is stopping."""
        while not self.stop.is_set():
            try:
                return source.get(timeout=POLL_S)
            except queue.Empty:
                continue
        return None

    # decode stage

    def _decode_all(self) -> None:
        _warm_decode(self.prep)
        if not self._ready():
            return
        for index, path in enumerate(self.prep.images):
            t0 = self.clock()
            item = self._decode(index, path)
            self.busy.decode_ns += self.clock() - t0
            if not self._put(self.decoded, item):
                return
        self._put(self.decoded, _DONE)

    def _decode(self, index: int, path: Path) -> _Item:
        cfg, plan = self.prep.cfg, self.prep.plan
        item = _Item(index, path, path.stem)
        if index in self.prep.duplicates:
            item.failure = ("read", self.prep.duplicates[index])
            return item
        try:
            item.source_bgr = read_image(path)
        except InputError as exc:
            item.failure = ("read", str(exc))
            return item
        preset = self.prep.preset
        try:
            if self.prep.family is not None:  # read by the family's scorer, at the size it compares at
                item.gt_path = family_gt_path(self.prep.family, cfg.gt_dir, path)
            elif preset is None:
                assert self.ground_truth is not None
                item.gt_path = find_ground_truth(self.ground_truth, cfg.gt_pattern, item.name, path.name)
                item.gt_bgr = read_image(item.gt_path)
            else:  # read by the writer, at the size the preset compares at
                item.gt_path = preset_gt_path(preset, Path(str(cfg.gt_dir)), item.name)
        except InputError as exc:
            item.failure = ("ground truth", str(exc))
            return item
        try:
            chw = image_to_chw(item.source_bgr, self.prep.mode, cfg.ycbcr) if preset is None else preset_chw(preset, path, item.source_bgr)
            item.tensors = [sample_tensor(slot, plan, chw) for slot in plan.slots]
        except Exception as exc:  # noqa: BLE001 - one image the preprocessing refuses must not stop the rest
            item.failure = ("preprocess", f"{path}: preprocessing failed: {exc}")
            return item
        if (mismatch := self._size_mismatch(item.tensors[0])) is not None:
            item.failure = ("preprocess", f"{path}: {mismatch}")
        return item

    def _size_mismatch(self, tensor: np.ndarray) -> str | None:
        """Why a model with a fixed H W cannot take this image (no resize brought it there), or None.

        Said here, by name and with the fix, instead of the runtime's own message at the model stage."""
        shape = self.prep.info.inputs[0].shape
        if len(shape) != 4 or not isinstance(shape[2], int) or not isinstance(shape[3], int):
            return None
        h, w = tensor.shape[-2:]
        if (h, w) == (shape[2], shape[3]):
            return None
        return (f"the image is {h}x{w} (H x W) after preprocessing and the model takes {shape[2]}x{shape[3]}: give --vdsp_params "
                f"with a resize to that size")

    # model stage (the calling thread)

    def _infer_all(self) -> None:
        pending: list[_Item] = []
        while True:
            item = self._get(self.decoded)
            if item is None:
                return
            if item is _DONE:
                if self._flush(pending):
                    self._put(self.inferred, _DONE)
                return
            good = [p for p in pending if p.failure is None]
            if item.failure is None and good and good[0].tensors is not None and item.tensors is not None \
                    and [t.shape for t in good[0].tensors] != [t.shape for t in item.tensors]:
                # Only samples of one shape make a batch, as in run --datalist.
                if not self._flush(pending):
                    return
                pending, good = [], []
            pending.append(item)
            ready = len(good) + (item.failure is None) >= self.prep.plan.batch_size or (item.failure is not None and not good)
            if ready:
                if not self._flush(pending):
                    return
                pending = []

    def _flush(self, pending: list[_Item]) -> bool:
        good = [item for item in pending if item.failure is None]
        if good:
            self._run_batch(good)
        return all(self._put(self.inferred, item) for item in pending)

    def _run_batch(self, good: list[_Item]) -> None:
        plan = self.prep.plan
        t0 = self.clock()
        samples = [item.tensors or [] for item in good]
        feed = batch_feed(plan, pad_batch(samples, plan.batch_size) if plan.fixed_batch else samples)
        t1 = self.clock()
        try:
            outputs, _ = self.instance.run(feed)
        except Exception as exc:  # noqa: BLE001 - ORT raises several pybind types for a shape it rejects
            shape = tuple(samples[0][0].shape)
            for item in good:
                item.failure = ("model", f"{item.path}: the model rejected the input {shape}: {first_line(exc)}")
        else:
            first = np.asarray(outputs[self.prep.preset.output_index if self.prep.preset else 0])
            for j, item in enumerate(good):
                item.output = first[j : j + 1] if first.ndim else first
            self.busy.inferred += len(good)
        t2 = self.clock()
        for item in good:
            item.tensors = None  # the queue behind holds images, not float tensors too
        self.busy.model_ns += t2 - t1
        self.busy.infer_ns += t2 - t0
        self.busy.batches += 1

    # write stage

    def _write_all(self) -> None:
        _warm_write(self.prep, self.warm_output)
        if not self._ready():
            return
        while True:
            item = self._get(self.inferred)
            if item is None or item is _DONE:
                return
            t0 = self.clock()
            if item.failure is None:
                try:
                    self.busy.images.append(self._finish_any(item))
                except InputError as exc:
                    item.failure = ("score", str(exc))
            if item.failure is not None:
                self.busy.failures.append(InferFailure(item.index, str(item.path), *item.failure))
            self.busy.write_ns += self.clock() - t0
            self.progress.advance()

    def _finish_any(self, item: _Item) -> ScoredImage:
        if self.scorer is not None:
            assert item.output is not None
            return self.scorer.score(item.index, item.path, item.gt_path, item.output, self.prep.cfg.save_dir)
        return self._finish(item) if self.prep.preset is None else self._finish_preset(item, self.prep.preset)

    def _finish_preset(self, item: _Item, preset: PresetPlan) -> Any:
        assert item.output is not None and item.gt_path is not None and item.source_bgr is not None
        return score_preset(preset, item.index, item.path, item.source_bgr, item.gt_path, item.output, self.prep.cfg.save_dir)

    def _finish(self, item: _Item) -> ScoredImage:
        cfg = self.prep.cfg
        assert item.output is not None and item.source_bgr is not None and item.gt_bgr is not None and item.gt_path is not None
        sr_y = output_y(item.output, f"{item.path}: model output '{self.output_name}'")
        source_y, gt_y = compare_planes(item.source_bgr, item.gt_bgr, self.prep.compare_hw, cfg.ycbcr, cfg.shave_px)
        rule = "the model's input size (the vdsp file or --input_shape)" if self.prep.compare_hw else "--native: the ground truth's size"
        check_size(f"{item.path} (model output)", sr_y, gt_y, rule)
        check_size(item.path, source_y, gt_y, "--native: the ground truth's size")
        scores = score_planes(sr_y, source_y, gt_y, cfg.shave_px, item.gt_path)
        output_path = None
        if cfg.save_dir is not None:
            png = encode_png(colourise(sr_y, item.source_bgr, cfg.ycbcr))
            output_path = str(write_bytes_atomic(Path(cfg.save_dir), f"{item.name}.png", png))
        height_px, width_px = gt_y.shape
        return ScoredImage(index=item.index, name=item.name, output_path=output_path, source_path=str(item.path), gt_path=str(item.gt_path),
                           height_px=height_px, width_px=width_px, metrics=scores.to_metrics())


# --- each stage's warm-up, in its own thread before the clock (as `vampy run` excludes its warm-up) ---
# Without them the first image paid the image codec's and OpenCV's first calls and the writer
# thread's first allocations (its scratch planes): 2-3 ms each, 3% of a 5-image int8 run.


def _warm_decode(prep: PreparedInfer) -> None:
    """A synthetic image through the decode stage's calls: the codec of the first image's format,
    image2npz's conversion and the vdsp preprocessing."""
    try:
        synthetic = np.zeros((*PROBE_HW, 3), np.uint8)
        decode_image_bytes(encode_image(synthetic, prep.images[0].suffix))
        chw = image_to_chw(synthetic, prep.mode, prep.cfg.ycbcr)
        sample_tensor(prep.plan.slots[0], prep.plan, chw)
    except Exception:  # noqa: BLE001 - best effort: the images' own problems are reported as they come
        return


def _warm_write(prep: PreparedInfer, warm_output: np.ndarray | None) -> None:
    """The model's warm-up output through the writer's calls: reader, compare sizes, scores, PNG."""
    if prep.family is not None:
        return  # the family's scorer keeps a running tally: a warm-up output must not enter it
    if warm_output is None or prep.preset is not None:
        if prep.preset is not None:
            warm_score(prep.preset, warm_output)
        return
    try:
        sr_y = output_y(warm_output, "warm-up output")
        source = np.zeros((*sr_y.shape, 3), np.uint8)
        source_y, gt_y = compare_planes(source, source, prep.compare_hw, prep.cfg.ycbcr, prep.cfg.shave_px)
        if sr_y.shape == gt_y.shape:
            score_planes(sr_y, source_y, gt_y, prep.cfg.shave_px, Path("warm-up"))
        if prep.cfg.save_dir is not None:
            encode_png(colourise(sr_y, source, prep.cfg.ycbcr))
    except Exception:  # noqa: BLE001 - best effort, as above
        return
