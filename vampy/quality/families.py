"""The zoo's other image families as data: one frozen record per scoring convention (ZOO-EVAL.md section 3).

A `FamilyPreset` names the convention, the vendor scripts it reproduces, the flags it needs, the
`metrics` keys it reports (the names the script prints, lower-cased, other characters -> `_`, in the
script's units, unrounded), the headline metric `vampy table` shows, and where vampy differs from
the script (`deviations`). The family's own steps are a sub-record (`SegScoring` for segmentation);
the scorer of each family is one module (classification.py, segmentation.py, ...), dispatched by
`family` in family_eval.py. The super-resolution presets stay in presets.py (`Scoring`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from vampy.errors import UsageError
from vampy.quality.presets import PRESETS, Scoring, get_preset

FAMILIES = ("classification", "segmentation", "sod", "colorization", "lowlight", "nlp", "text_recognition", "detection", "text_detection")
# How a script reads --input_shape A B: PIL's resize(size) and cv2.resize(dsize) take (width, height);
# stdc passes input_shape[::-1] to cv2, so A is the height; r2u_net ignores it (96x96 hard-coded).
SHAPE_ORDERS = ("wh", "hw", "fixed")
SEG_METRICS = ("voc_awesome", "cityscapes19", "binary_dice_iou", "per_image_miou", "stream2")
SEG_DECODES = ("logits", "argmax", "threshold")
GT_RULES = ("name_png", "cityscapes", "human_seg", "name_mask_gif")
GT_RESIZES = ("pil_default", "cv2_nearest", "cv2_linear", "pil_bicubic_12")
SOD_WRITERS = ("sigmoid_round", "raw_truncate")  # SOD-1 (cv2 rounds), SOD-2 (PIL F->RGB truncates)
NLP_TASKS = ("argmax_acc", "mrpc", "ner")  # NLP-4, NLP-3, NLP-1 (ZOO-EVAL.md 2.12)


@dataclass(frozen=True)
class SegScoring:
    """How one segmentation script turns output_0 and a label file into its metric (ZOO-EVAL.md 2.9)."""

    metric: str
    num_classes: int
    decode: str = "argmax"  # logits: the metric reads the raw logits (voc); threshold: a probability map >= 0.5
    gt_rule: str = "name_png"  # how the label's path follows from the datalist line
    gt_resize: str = "pil_default"
    shape_order: str = "wh"
    fixed_hw: tuple[int, int] | None = None  # shape_order fixed: the size the script hard-codes
    gt_threshold: float | None = None  # labels >= this -> 1, else 0 (binary presets); None: label values as they are
    ignore_label: int | None = 255  # a label value that is not scored

    def __post_init__(self) -> None:
        for key, value, allowed in (("metric", self.metric, SEG_METRICS), ("decode", self.decode, SEG_DECODES),
                                    ("gt_rule", self.gt_rule, GT_RULES), ("gt_resize", self.gt_resize, GT_RESIZES),
                                    ("shape_order", self.shape_order, SHAPE_ORDERS)):
            if value not in allowed:
                raise UsageError(f"segmentation scoring: {key} {value!r} is not one of {', '.join(allowed)}")
        if self.metric == "binary_dice_iou" and self.decode != "threshold":  # its 2x2 histogram counts 0/1 predictions only
            raise UsageError(f"segmentation scoring: metric binary_dice_iou needs decode 'threshold', not {self.decode!r}")


@dataclass(frozen=True)
class NlpScoring:
    """Which NLP script (ZOO-EVAL.md 2.12) and how it pairs outputs with label lines."""

    task: str
    pairing: str  # by_name: output_{i:06d}.npz with label line i (P2); sorted: the i-th sorted output (P1)

    def __post_init__(self) -> None:
        if self.task not in NLP_TASKS or self.pairing not in ("by_name", "sorted"):
            raise UsageError(f"nlp scoring: task {self.task!r} / pairing {self.pairing!r} is not one of {', '.join(NLP_TASKS)} / "
                             "by_name, sorted")


@dataclass(frozen=True)
class DetScoring:
    """DET-1/2/10: what the reader decodes and how it maps boxes from model-input pixels back to the image (ZOO-EVAL.md 2.2)."""

    inverse: str  # letterbox: gain, centred pad, clip (common npz_decode.py); stretch: x*w0/w_in, no clip (darknet)
    decode: str = "nms"  # nms: output_0/1/2 ids, scores, boxes (DET-1/2); yolox: the 9 raw heads (detection_yolox.py)

    def __post_init__(self) -> None:
        if self.inverse not in ("letterbox", "stretch"):
            raise UsageError(f"detection scoring: inverse {self.inverse!r} is not one of letterbox, stretch")
        if self.decode not in ("nms", "yolox"):
            raise UsageError(f"detection scoring: decode {self.decode!r} is not one of nms, yolox")


@dataclass(frozen=True)
class TextDetScoring:
    """TD-1/2/3: the decode (DBNet's map, EAST's score and geometry maps) and the label file beside --gt_dir."""

    decode: str  # db: output_0 (1, 1, H, W); east: output_0 geometry (1, 8, H, W) and output_1 score (1, 1, H, W)
    logits: bool = False  # db only: output_0 holds logits whose sigmoid is taken first (mmocr)
    label_file: str = "test_icdar2015_label.txt"  # read from --gt_dir/..

    def __post_init__(self) -> None:
        if self.decode not in ("db", "east"):
            raise UsageError(f"text detection scoring: decode {self.decode!r} is not one of db, east")


@dataclass(frozen=True)
class CtcScoring:
    """TR-1: how the script shapes output_0 before its greedy CTC decode (ZOO-EVAL.md 2.11)."""

    reshape: tuple[int, int]  # (steps, classes) of the reshape to (1, steps, classes)
    keep: tuple[int, int] | None = None  # crnn's [:, :25, :37] slice after the reshape; None: no slice


@dataclass(frozen=True)
class PixelScoring:
    """Colorization and low light (ZOO-EVAL.md 2.6): an SR `Scoring` (presets.py) for decode, ground truth and PSNR/SSIM,
    plus pairlie's Retinex product."""

    scoring: Scoring
    illumination_gamma: float | None = None  # pairlie: the image is L ** gamma * R (L: output_0 (1,1,H,W))
    reflectance_key: str = "output_1"  # pairlie: R (1,3,H,W)


@dataclass(frozen=True)
class SodScoring:
    """SOD-1/SOD-2 (ZOO-EVAL.md 2.8): how the writer turns output_0 into a map; PySOD (SOD-0) scores the maps."""

    writer: str

    def __post_init__(self) -> None:
        if self.writer not in SOD_WRITERS:
            raise UsageError(f"sod scoring: writer {self.writer!r} is not one of {', '.join(SOD_WRITERS)}")


@dataclass(frozen=True)
class FamilyPreset:
    """One convention of a non-SR family: what it needs, what it reports, where vampy differs."""

    name: str
    convention: str
    family: str
    scripts: str
    metrics: tuple[str, ...]
    headline: str
    needs: tuple[str, ...]  # the flags (their API names) the preset cannot do without
    printed: str  # the script's result line, as a format of the metrics (the CLI prints it so logs diff)
    deviations: tuple[str, ...] = field(default=())
    seg: SegScoring | None = None
    nlp: NlpScoring | None = None
    ctc: CtcScoring | None = None
    det: DetScoring | None = None
    textdet: TextDetScoring | None = None
    pixels: PixelScoring | None = None
    sod: SodScoring | None = None
    # (API name, the script's own flag) where the script spells a need differently from the field: yolox's --save_dir
    spelled: tuple[tuple[str, str], ...] = ()

    def flag(self, need: str) -> str:
        """The flag a user types for `need`, as the preset's script spells it."""
        return dict(self.spelled).get(need, f"--{need}")

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise UsageError(f"preset {self.name}: family {self.family!r} is not one of {', '.join(FAMILIES)}")
        if self.headline not in self.metrics:
            raise UsageError(f"preset {self.name}: headline {self.headline!r} is not one of its metrics")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_PAIRING = ("outputs pair with datalist lines by position among the sorted *.npz files; the script pairs with sorted(os.listdir), "
            "so a stray non-npz file sorting before output_000000.npz made it load the wrong file (or crash)")
_BLANK = "blank datalist lines are skipped, as vamp skips them when it writes outputs; the script paired them with an output"
_UNPAIRED = ("datalist lines without an output (a partial run) are listed as not scored (exit 6); the script's zip() dropped them "
             "silently")

IMAGENET_TOPK = FamilyPreset(
    name="imagenet_topk", convention="CLS-1", family="classification",
    scripts="classification/common/eval/vamp_npz_decode.py + eval_topk.py (67 models' READMEs)",
    metrics=("top1_rate", "top5_rate"), headline="top1_rate", needs=("npz_txt", "npz_dir", "result_txt", "label_txt"),
    printed="[VACC]:  top1_rate: {top1_rate:.3f} top5_rate: {top5_rate:.3f}",
    deviations=(
        _PAIRING, _BLANK, _UNPAIRED,
        "an image whose datalist path has no ImageNet synset folder (…/<wnid>/<name>.npz) is listed as not scored; eval_topk.py "
        "raised KeyError and printed nothing",
        "an output with fewer than 5 scores, or more than one score vector, is listed as not scored; the script crashed",
    ),
)

_SEG_NEEDS = ("gt_dir", "npz_txt", "npz_dir", "input_shape")
_SEG_SKIP = ("an image without its label file is listed as not scored (exit 6); the script skipped it silently (`continue`), "
             "and its metric covers the rest, as vampy's does")
_SEG_DRAW = ("--draw_dir gets the predicted label map at the model's size as a grey PNG (<stem>.png); the scripts' coloured "
             "drawings need --src_dir images and a palette file, and crash on Pillow 13 before the metric (ZOO-EVAL 1.3)")
_SEG_COMMON = (_BLANK, _UNPAIRED, _SEG_SKIP, _SEG_DRAW)
_PIL_12 = ("labels are resized with Pillow <= 12.3's arithmetic (vampy/quality/pil_resize.py), whatever Pillow is installed: "
           "Pillow 13 changed its BICUBIC and NEAREST resize")


def _seg(name: str, convention: str, scripts: str, metrics: tuple[str, ...], headline: str, printed: str, seg: SegScoring,
         *extra: str) -> FamilyPreset:
    return FamilyPreset(name=name, convention=convention, family="segmentation", scripts=scripts, metrics=metrics, headline=headline,
                        needs=_SEG_NEEDS if seg.shape_order != "fixed" else _SEG_NEEDS[:3], printed=printed,
                        deviations=(*_SEG_COMMON, *extra), seg=seg)


_VOC_LINE = "{name}, validation pixAcc: {pixacc:.3f}, mIoU: {miou:.3f}"
_STREAM_LINE = "Overall Acc: {overall_acc:f}\nMean Acc: {mean_acc:f}\nFreqW Acc: {freqw_acc:f}\nMean IoU: {mean_iou:f}"
_STREAM = ("overall_acc", "mean_acc", "freqw_acc", "mean_iou")
SEGMENTATION = (
    _seg("voc_seg", "SEG-1", "deeplab_v3 vamp_eval.py (= fcn awesome/mmseg, unet bubbliiiing; awesome score.py)", ("pixacc", "miou"),
         "miou", _VOC_LINE, SegScoring(metric="voc_awesome", num_classes=21, decode="logits", gt_rule="name_png",
                                        gt_resize="pil_default", shape_order="wh"), _PIL_12),
    _seg("cityscapes_seg", "SEG-2", "stdc vamp_eval.py (19 Cityscapes classes)", ("pixacc", "miou"), "miou", _VOC_LINE,
         SegScoring(metric="cityscapes19", num_classes=19, gt_rule="cityscapes", gt_resize="cv2_nearest", shape_order="hw"),
         "runs on NumPy >= 1.24 (the script's np.int is gone there); logits are resized with torch's bilinear arithmetic in numpy"),
    _seg("r2unet_seg", "SEG-4", "r2u_net / unetpp vamp_eval.py (unet_zoo metrics.py)", ("mean_dic", "mean_iou"), "mean_iou",
         "{name}, mean DIC: {mean_dic:.3f}, mean IoU: {mean_iou:.3f}",
         SegScoring(metric="binary_dice_iou", num_classes=2, decode="threshold", gt_resize="cv2_linear", shape_order="fixed",
                    fixed_hw=(96, 96), gt_threshold=125, ignore_label=None),
         "--input_shape is accepted and ignored: the script compares at 96x96, hard-coded"),
    _seg("human_seg", "SEG-6", "human_seg vamp_eval.py", ("mean_iou",), "mean_iou", "mean iou: {mean_iou}",
         SegScoring(metric="per_image_miou", num_classes=2, gt_rule="human_seg", gt_resize="cv2_linear", shape_order="wh",
                    gt_threshold=1, ignore_label=None),
         "every image with a label is scored; the script silently skipped an image whose drawing failed (a grey or RGBA source)"),
    _seg("unet_keras_seg", "SEG-8", "unet keras-vamp_eval.py (StreamSegMetrics(2))", _STREAM, "mean_iou", _STREAM_LINE,
         SegScoring(metric="stream2", num_classes=2, decode="threshold", gt_resize="pil_default", shape_order="wh", gt_threshold=0.5,
                    ignore_label=None), _PIL_12),
    _seg("unet_milesial_seg", "SEG-9", "unet milesial-vamp_eval.py (StreamSegMetrics(2), <name>_mask.gif)", _STREAM, "mean_iou",
         _STREAM_LINE, SegScoring(metric="stream2", num_classes=2, gt_rule="name_mask_gif", gt_resize="pil_default",
                                  shape_order="wh", ignore_label=None), _PIL_12),
)

_UNPAIRED_P2 = ("an output without a label line, or a label line without its output, is listed as not scored (exit 6); the "
                "script crashed (IndexError, KeyError or FileNotFoundError)")
_BAD_OUTPUT = "an output of the wrong shape or a label that does not parse fails that pair only (listed, exit 6); the script crashed"
NLP = (
    FamilyPreset(
        name="imdb", convention="NLP-4", family="nlp",
        scripts="nlp/sentence_classification/common/eval/imdb_eval.py (= sst2_telecom_eval.py, cib_electra_eval.py)",
        metrics=("acc",), headline="acc", needs=("labels_path", "result_dir"), printed="acc:  {acc}",
        deviations=(
            "only vamp's output_NNNNNN.npz files in --result_dir are read; the script counted every file there, so a stray file "
            "made it look for an output that does not exist (FileNotFoundError)",
            "acc is correct / outputs scored; the script divided by the last index + 1 (the same when every output scores) and "
            "raised NameError on an empty folder",
            _UNPAIRED_P2, _BAD_OUTPUT,
        ),
        nlp=NlpScoring(task="argmax_acc", pairing="by_name"),
    ),
    FamilyPreset(
        name="mrpc", convention="NLP-3", family="nlp", scripts="nlp/sentence_classification/common/eval/mrpc_eval.py",
        metrics=("f1", "accuracy"), headline="f1", needs=("result_dir", "eval_path"), printed="F1:  {f1} Accuracy: {accuracy}",
        deviations=(
            "outputs pair with dev.tsv rows by position among the sorted *.npz files; the script loaded every file of "
            "sorted(os.listdir), so a stray non-npz file crashed it",
            _UNPAIRED_P2, _BAD_OUTPUT,
            "output/evaluate.txt (the script's per-pair log, written under the current folder) is not written; the report's "
            "rows hold each pair's accuracy",
        ),
        nlp=NlpScoring(task="mrpc", pairing="sorted"),
    ),
    FamilyPreset(
        name="ner_people_daily", convention="NLP-1", family="nlp", scripts="nlp/named_entity_recognition/common/eval/people_daily_eval.py",
        metrics=("f1", "accuracy"), headline="f1", needs=("result_dir", "label_path"), printed="F1:  {f1}\naccuracy:  {accuracy}",
        deviations=(
            "outputs pair with label lines by position among the sorted *.npz files; the script loaded every file of "
            "sorted(os.listdir), so a stray non-npz file crashed it",
            "an output without a label line, or a label line without its output, is listed as not scored (exit 6); the script "
            "ignored extra outputs and crashed (IndexError) on a missing one",
            "blank label lines are skipped; the script crashed on them (int(''))",
            _BAD_OUTPUT,
        ),
        nlp=NlpScoring(task="ner", pairing="sorted"),
    ),
)

_CTC_DEVIATIONS = (
    "every datalist line is scored with its output_{i:06d}.npz and all_num counts them; the script looped over the label file's "
    "entries, so a label file longer than the datalist crashed (IndexError) and a shorter one left lines unscored",
    "a label key with an extension (word_1.png) also matches the datalist name without it (word_1); the script raised KeyError",
    "a datalist line without its output or its label, or an output of the wrong size, is listed as not scored (exit 6); the "
    "script crashed",
    "the per-image print(pred_str) lines are not printed; each image row has acc (1 or 0) and conf (the script's confidence)",
)
TEXT_RECOGNITION = (
    FamilyPreset(
        name="ctc_crnn", convention="TR-1", family="text_recognition", scripts="cv/text_recognition/crnn/build_in/vsx/python/vamp_eval.py",
        metrics=("right_num", "all_num", "acc"), headline="acc", needs=("label_file", "pred_npz_dir", "npz_datalist"),
        printed="{name} right_num, all_num, acc =  {right_num} {all_num} {acc}", deviations=_CTC_DEVIATIONS,
        ctc=CtcScoring(reshape=(32, 48), keep=(25, 37)),
    ),
    FamilyPreset(
        name="ctc_ppocr_v4_rec", convention="TR-1", family="text_recognition",
        scripts="cv/text_recognition/ppocr_v4_rec/build_in/vsx/python/vamp_eval.py",
        metrics=("right_num", "all_num", "acc"), headline="acc", needs=("label_file", "pred_npz_dir", "npz_datalist"),
        printed="{name} right_num, all_num, acc =  {right_num} {all_num} {acc}", deviations=_CTC_DEVIATIONS,
        ctc=CtcScoring(reshape=(25, 37)),
    ),
)

_PIXEL_NEEDS = ("gt_dir", "npz_txt", "npz_dir")
_PIXEL_COMMON = (
    _BLANK,
    "datalist lines without an output (a partial run) are listed as not scored (exit 6); the script raised IndexError at the first",
    "an image without its ground truth is listed as not scored (exit 6); the script crashed in cv2.resize (cv2.imread gave None)",
    "--input_shape is accepted and ignored, as by the script: the ground truth is resized to the output's size",
)
_PIXEL_LINE = "mean psnr: {mean_psnr}, mean ssim: {mean_ssim}"
_JPEG_DRAW = "--draw_dir gets <name>.png (lossless); the script wrote its drawing as <name>.jpg (JPEG), not what it scored"


def _pixels(name: str, convention: str, family: str, scripts: str, pixels: PixelScoring, *extra: str) -> FamilyPreset:
    return FamilyPreset(name=name, convention=convention, family=family, scripts=scripts, metrics=("mean_psnr", "mean_ssim"),
                        headline="mean_psnr", needs=_PIXEL_NEEDS, printed=_PIXEL_LINE, deviations=(*_PIXEL_COMMON, *extra),
                        pixels=pixels)


# CZ-1 is the SR gpen script byte for byte; LLE-1 is SR bicubic_plusplus's with <name>.jpg ground truth; LLE-2 the same
# after L ** 0.2 * R with <name>.png ground truth (ZOO-EVAL.md 2.6).
_LOWLIGHT = dataclasses.replace(PRESETS["bicubic_plusplus"], name="lowlight", convention="LLE-1", families="usuir", gt_suffix=".jpg",
                                name_rule="same", vendor_suffix=None, deviations=())
ENHANCEMENT = (
    _pixels("colorization_gpen", "CZ-1", "colorization", "cv/image_colorization/gpen/build_in/vdsp_params/vamp_eval.py",
            PixelScoring(dataclasses.replace(PRESETS["gpen"], name="colorization_gpen", convention="CZ-1",
                                             families="image_colorization/gpen (vamp_eval)")), _JPEG_DRAW),
    _pixels("lowlight_usuir", "LLE-1", "lowlight", "cv/low_light_image_enhancement/usuir/build_in/vdsp_params/official-vamp_eval.py",
            PixelScoring(dataclasses.replace(_LOWLIGHT, name="lowlight_usuir")), _JPEG_DRAW),
    _pixels("lowlight_pairlie", "LLE-2", "lowlight", "cv/low_light_image_enhancement/pairlie/build_in/vdsp_params/official-vamp_eval.py",
            PixelScoring(dataclasses.replace(_LOWLIGHT, name="lowlight_pairlie", convention="LLE-2", families="pairlie",
                                             gt_suffix=".png"), illumination_gamma=0.2),
            "a negative illumination value (L < 0, int8 noise) is taken as 0 before L ** 0.2; the script's np.power gave NaN, so "
            "that image's PSNR/SSIM and the means printed nan"),
)

SOD_METRICS = ("mae", "maxfmeasure", "avgfmeasure", "adpfmeasure", "maxprecision", "avgprecision", "maxrecall", "avgrecall",
               "maxem", "avgem", "adpem", "sm", "wfm")
_SOD_NEEDS = ("gt_dir", "npz_txt", "npz_dir", "draw_dir")
_SOD_COMMON = (
    _BLANK,
    "datalist lines without an output (a partial run) are listed as not scored (exit 6); the writer raised IndexError at the first",
    "both stages in one command: the maps go to --draw_dir as the writer writes them (<name>.png), and PySOD's two JSON configs "
    "are the folders they name (masks --gt_dir, maps --draw_dir); its --num-bits is --num_bits and rounds the printed table only",
    "only this run's maps are scored, each with --gt_dir/<name>.png; PySOD scored every name in both folders, so stale maps in "
    "--draw_dir counted and a map without its mask was skipped silently (here: listed as not scored, exit 6)",
    "an output holding NaN or infinite values, or not of shape (1, 1, H, W), is listed as not scored; the writer wrote a "
    "meaningless map",
    "PySOD's sums run in the datalist's order instead of the sorted names' (float rounding only, far below --num_bits)",
)
SOD = (
    FamilyPreset(
        name="sod_f3net", convention="SOD-1 + SOD-0", family="sod",
        scripts="f3net vamp_eval.py (= basnet salod, dhsnet, egnet, gcpanet, scrn) + salient_object_detection/common/eval/eval.py",
        metrics=SOD_METRICS, headline="maxfmeasure", needs=_SOD_NEEDS, printed="", deviations=(
            *_SOD_COMMON, "sigmoid without torch: 1 / (1 + exp(-x)) in float32 as torch's CPU kernel, exp taken in float64 and rounded "
            "(the maps agreed with torch 2.13's on 4M random values; a value within one float32 step of a .5 boundary could still "
            "differ)"),
        sod=SodScoring(writer="sigmoid_round"),
    ),
    FamilyPreset(
        name="sod_basnet", convention="SOD-2 + SOD-0", family="sod",
        scripts="basnet official_vamp_eval.py (= isnet) + salient_object_detection/common/eval/eval.py",
        metrics=SOD_METRICS, headline="maxfmeasure", needs=_SOD_NEEDS, printed="", deviations=_SOD_COMMON,
        sod=SodScoring(writer="raw_truncate"),
    ),
)

_MAP = ("bbox_map", "bbox_map_50", "bbox_map_75", "bbox_map_s", "bbox_map_m", "bbox_map_l")
_DET_NEEDS = ("label_txt", "input_image_dir", "vamp_datalist_path", "vamp_output_dir", "txt", "gt")
_DET_UNPAIRED = ("datalist lines without an output (a partial run) are listed as not scored (exit 6); the script decoded the "
                 "outputs there and said nothing of the rest")
_DET_ZERO = ("eval_map.py crashed on zero detections in total (pycocotools loadRes([]) -> IndexError); vampy scores them as no "
             "detections: 0 where the ground truth has objects, -1 where it has none")
_DET_UNROUNDED = ("metrics are COCOeval's stats unrounded; eval_map.py's printed dict rounds them to 3 decimals (the CLI prints "
                  "that dict too)")
_DET_DEVIATIONS = (
    _BLANK,
    _DET_UNPAIRED,
    "--txt is created when missing and each <stem>.txt (and pred.json) is overwritten; the script deleted the whole folder first "
    "(shutil.rmtree). Stage 2 scores this run's detections only, where eval_map.py read every *.txt in the folder",
    _DET_ZERO,
    "an image that is missing or undecodable, an output without output_0/1/2 or whose -1 filtering leaves fewer ids or scores "
    "than boxes, a label not among eval_map.py's 80 COCO names, or an image id not in --gt is listed as not scored (exit 6); "
    "the scripts crashed",
    _DET_UNROUNDED,
    "--format other than bbox is refused (the readers write boxes); --model_size takes two numbers H W (the script also took "
    "one for a square)",
)
_YOLOX_DEVIATIONS = (
    "the score written is the objectness alone (box[4]), not objectness x class score, as the script writes it; its txt files "
    "are the product, so eval_map.py ranks detections by objectness",
    "the script does not run as shipped: its image path reads `os.path.basename(.strip().replace(...))` (a SyntaxError); vampy "
    "does what it means: datalist line i with '.npz' (with the dot) replaced by '.jpg', then the basename",
    _BLANK, _DET_UNPAIRED,
    "--save_dir (= --txt) is created when missing and each <stem>.txt (and pred.json) is overwritten; the script deleted the "
    "whole folder first (shutil.rmtree). Stage 2 scores this run's detections only, where eval_map.py read every *.txt there",
    "--draw_image is accepted and nothing is drawn: the script's type=bool made any value True, so it always drew the boxes "
    "into --save_dir/<image> in random colours (not reproducible); eval_map.py reads only the *.txt files",
    _DET_ZERO,
    "an image that is missing or undecodable, an output without output_0..8 or whose heads are not (1,80|4|1,h,w) on the "
    "hard-coded 80/40/20 grids, a kept box with a NaN coordinate, or an image id not in --gt is listed as not scored "
    "(exit 6); the scripts crashed (on a missing image only when it had detections: else it wrote an empty txt)",
    _DET_UNROUNDED,
    "--format other than bbox is refused (the reader writes boxes); --model_size takes two numbers H W, as the script asserts; "
    "it only undoes the letterbox: the grids stay those of a 640 input, as in the script",
    "torch's float32 arithmetic is reproduced in numpy: the sigmoid bit for bit as torch computes it on an AVX-512 CPU (SLEEF "
    "expf, the last n mod 32 values of a head through glibc's expf; on an AVX2-only CPU torch puts the last 16 objectness "
    "values of the 20x20 head through SLEEF too, which can change a written score in its last digits), the unstable "
    "score sort of batched_nms's per-class path in std::sort's order; exp of the box sizes is correctly rounded, where "
    "torch's own exp (MKL's, on x86) is one ulp off in about 1% of values, so a box edge can differ by one float32 ulp "
    "before .round() (a written integer changes only at .5); where torch splits a head over threads at a boundary off a "
    "multiple of 32 (a thread count that is not a power of two), a few values take the other exp path",
)
DETECTION = (
    FamilyPreset(
        name="coco_det", convention="DET-1 + DET-0", family="detection",
        scripts="cv/detection/common/utils/npz_decode.py (= yolor, yolov4 tianxiaomo_e2e) + cv/detection/common/eval/eval_map.py",
        metrics=_MAP, headline="bbox_map", needs=_DET_NEEDS, printed="", deviations=_DET_DEVIATIONS, det=DetScoring("letterbox"),
    ),
    FamilyPreset(
        name="coco_det_stretch", convention="DET-2 + DET-0", family="detection",
        scripts="cv/detection/yolov4/build_in/vdsp_params/darknet_npz_decode.py + cv/detection/common/eval/eval_map.py",
        metrics=_MAP, headline="bbox_map", needs=_DET_NEEDS, printed="", deviations=_DET_DEVIATIONS, det=DetScoring("stretch"),
    ),
    FamilyPreset(
        name="coco_det_yolox", convention="DET-10 + DET-0", family="detection",
        scripts="cv/detection/yolox/build_in/vsx/python/npz_decode.py + cv/detection/common/eval/eval_map.py",
        metrics=_MAP, headline="bbox_map", needs=("input_image_dir", "vamp_datalist_path", "vamp_output_dir", "txt", "gt"),
        printed="", deviations=_YOLOX_DEVIATIONS, det=DetScoring("letterbox", decode="yolox"), spelled=(("txt", "--save_dir"),),
    ),
)

_TD_DEVIATIONS = (
    _BLANK, _UNPAIRED,
    "a ground-truth image without a decoded output, a label line without polygons or not PaddleOCR's json, or an output that is "
    "not (1, 1, H, W) is listed as not scored (exit 6) and the rest scored; the script crashed (KeyError, TypeError)",
    "runs on NumPy >= 1.24: the zoo's db_postprocess.py calls np.int (removed there) in box_score_fast; vampy uses int",
    "--input_shape is accepted and ignored, and every image is taken to be 720x1280, as the script's hard-coded shape_list does; "
    "--draw_dir is created and nothing is drawn, as the script does; blank label lines are skipped",
)
TEXT_DETECTION = (
    FamilyPreset(
        name="icdar_db", convention="TD-1", family="text_detection",
        scripts="cv/text_detection/dbnet/build_in/vdsp_params/vamp_eval.py (ppocr DBPostProcess + DetMetric)",
        metrics=("precision", "recall", "hmean"), headline="hmean", needs=("gt_dir", "npz_txt", "npz_dir"), printed="",
        deviations=_TD_DEVIATIONS, textdet=TextDetScoring("db"),
    ),
    FamilyPreset(
        name="icdar_db_mmocr", convention="TD-2", family="text_detection",
        scripts="cv/text_detection/dbnet/build_in/vdsp_params/mmocr_vamp_eval.py (sigmoid, then as icdar_db)",
        metrics=("precision", "recall", "hmean"), headline="hmean", needs=("gt_dir", "npz_txt", "npz_dir"), printed="",
        deviations=_TD_DEVIATIONS, textdet=TextDetScoring("db", logits=True),
    ),
    FamilyPreset(
        name="icdar_east", convention="TD-3", family="text_detection",
        scripts="cv/text_detection/east/build_in/vdsp_params/vamp_eval.py (ppocr EASTPostProcess, Python NMS, + DetMetric)",
        metrics=("precision", "recall", "hmean"), headline="hmean", needs=("gt_dir", "npz_txt", "npz_dir"), printed="",
        deviations=(
            _BLANK, _UNPAIRED,
            "a ground-truth image without a decoded output, a label line without polygons or not PaddleOCR's json, or an output "
            "without output_0 (1, 8, H, W) and output_1 (1, 1, H, W) is listed as not scored (exit 6) and the rest scored; the "
            "script crashed (KeyError, TypeError)",
            "--input_shape is accepted and ignored, and every image is taken to be 720x1280 fed at 704x1280, as the script's "
            "hard-coded shape_list does; --draw_dir is created and nothing is drawn, as the script does; blank label lines are skipped",
            "the NMS is always the script's Python nms_locality, the path it takes when lanms is not installed (with lanms the "
            "numbers can differ slightly); the ground truth is --gt_dir/../label.txt",
        ),
        textdet=TextDetScoring("east", label_file="label.txt"),
    ),
)

FAMILY_PRESETS: dict[str, FamilyPreset] = {p.name: p for p in (IMAGENET_TOPK, *SEGMENTATION, *NLP, *TEXT_RECOGNITION, *DETECTION,
                                                                *TEXT_DETECTION,
                                                                *ENHANCEMENT, *SOD)}


def family_preset(name: str | None) -> FamilyPreset | None:
    """The family record named `name`; None for an SR preset or no preset."""
    return FAMILY_PRESETS.get(name) if name else None


def check_preset_name(name: str | None) -> None:
    """UsageError listing every preset when `name` is neither an SR nor a family preset: checked before the flags a
    preset needs, so a typo is named as a typo and not as a missing flag."""
    if name is not None and name not in FAMILY_PRESETS:
        get_preset(name, tuple(FAMILY_PRESETS))


def family_rows() -> list[tuple[str, ...]]:
    """The --list_presets rows of the family presets: name, convention, flags, metrics, scripts."""
    return [(p.name, p.convention, " ".join(p.flag(n) for n in p.needs), ", ".join(p.metrics), p.scripts)
            for p in FAMILY_PRESETS.values()]
