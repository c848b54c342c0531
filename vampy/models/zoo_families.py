"""`vampy zoo db-text | ctc-rec | token-cls | classifier | segmenter`: tiny models of the zoo families' output
shapes, seeded random weights (mod.json: `accuracy_meaningful: false`, `warning`), so each family's
`vampy eval --preset` has a model of the right layout to run on. The detector is zoo_yolo.py.

- db-text: DBNet's probability map. Input `x` (1, 3, H, W), H and W multiples of 32 (DBNet's rule;
  ppocr's (RGB/255 - ImageNet mean) / std), output (1, 1, H, W) after a sigmoid: what `icdar_db` reads
  as output_0 (vampy/quality/textdet.py).
- ctc-rec: a CRNN-like recogniser. Input `x` (1, 3, 32, 4T) ((RGB/255 - 0.5)/0.5), output the softmax
  over `blank + 0-9a-z` per time step, (1, T, classes) in row order as the scripts reshape output_0:
  ctc_ppocr_v4_rec (1, 25, 37); ctc_crnn (1, 32, 48), of which the script keeps [:, :25, :37].
- token-cls: a BERT-like token classifier. Inputs input_ids, attention_mask, token_type_ids int64
  (1, L), Gather over word / type embedding tables plus position embeddings, a LayerNorm, the mask,
  a Tanh layer, and logits (1, L, 7) over people-daily's O, B/I-LOC, B/I-PER, B/I-ORG: what
  `ner_people_daily` reshapes to (256, 7) (L = 256).
- classifier: input (1, 3, 224, 224), logits (1, 1000): `imagenet_topk`.
- segmenter: input (1, 3, H, W), H and W multiples of 8, logits (1, 21, H, W) over VOC's classes: `voc_seg`.

The convolutional ones downsample with stride-2 3x3 convs + ReLU and, where the output is at the
input's size, upsample back with a bilinear Resize (half_pixel, as PyTorch's align_corners=False).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vampy.errors import UsageError
from vampy.models.zoo_build import FamilyModel, Net, Tensor
from vampy.quality.nlp import NER_LABELS, NER_SEQ_LEN
from vampy.quality.textrec import CHARACTERS

IMAGENET_CLASSES = 1000
VOC_CLASSES = 21
CLASSIFIER_HW = (224, 224)
DB_MACS_HW = (736, 1280)  # the icdar_db scripts' --input_shape
SEGMENTER_MACS_HW = (512, 512)
DB_MAP_BIAS = -1.0  # sigmoid(-1) ~ 0.27: most of the random map stays under DB's 0.3 threshold, some blobs rise above
BERT_CHINESE_VOCAB = 21128  # bert-base-chinese's vocabulary, the people-daily NER models'
TYPE_VOCAB = 2
HIDDEN = 32


@dataclass(frozen=True)
class CtcLayout:
    """The output (1, steps, classes) a text-recognition preset's script reshapes output_0 to."""

    preset: str
    steps: int
    classes: int
    kept: str  # what the script keeps of it


CTC_LAYOUTS = {
    "ctc_ppocr_v4_rec": CtcLayout("ctc_ppocr_v4_rec", 25, len(CHARACTERS), "all of it"),
    "ctc_crnn": CtcLayout("ctc_crnn", 32, 48, f"[:, :25, :{len(CHARACTERS)}]"),
}
CTC_HEIGHT_PX = 32
CTC_WIDTH_PER_STEP_PX = 4  # two stride-2 convs along the width


def _downsample(net: Net, source: str, channels: Sequence[int], prefix: str) -> str:
    """Stride-2 3x3 conv + ReLU per entry of `channels` (the first is the input's)."""
    x = source
    for k, (c_in, c_out) in enumerate(zip(channels, channels[1:])):
        x = net.op("Relu", [net.conv(x, f"{prefix}.{k}.conv", c_in, c_out, stride=2)], f"{prefix}.{k}.relu")
    return x


def _upsample(net: Net, source: str, factor: int, name: str) -> str:
    scales = net.const(f"{name}.scales", np.asarray([1.0, 1.0, factor, factor]))
    return net.op("Resize", [source, "", scales], name, mode="linear", coordinate_transformation_mode="half_pixel")


def build_db_text(seed: int) -> FamilyModel:
    net = Net(seed)
    channels = (3, 16, 32, 32)
    features = _downsample(net, "x", channels, "backbone")
    logits = net.conv(features, "binarize", channels[-1], 1, kernel=1)
    shifted = net.op("Add", [logits, net.const("map_bias", np.asarray(DB_MAP_BIAS))], "shifted")
    net.op("Sigmoid", [_upsample(net, shifted, 2 ** (len(channels) - 1), "upsample")], "maps")
    image = Tensor("x", [1, 3, "height", "width"], "float32", "NCHW",
                   "(RGB/255 - ImageNet mean) / ImageNet std, H and W multiples of 32")
    out = Tensor("maps", [1, 1, "height", "width"], "float32", "NCHW", "text probability map in 0..1 (after sigmoid)")
    return FamilyModel(net.model("db_text_random", [image], [out]), "db-text", "text detection (DBNet)",
                       f"3 x (conv 3x3 stride 2 + ReLU) {channels}, conv 1x1 -> 1, {DB_MAP_BIAS:+}, bilinear Resize x8, Sigmoid",
                       (image,), (out,), ("icdar_db",), {"x": (1, 3, *DB_MACS_HW)}, {"map_bias": DB_MAP_BIAS})


def ctc_layout(preset: str) -> CtcLayout:
    if preset not in CTC_LAYOUTS:
        raise UsageError(f"--preset {preset!r}: the recogniser is shaped for one of {', '.join(CTC_LAYOUTS)}")
    return CTC_LAYOUTS[preset]


def build_ctc_rec(seed: int, preset: str = "ctc_ppocr_v4_rec") -> FamilyModel:
    layout = ctc_layout(preset)
    net = Net(seed)
    width_px = layout.steps * CTC_WIDTH_PER_STEP_PX
    features = _downsample(net, "x", (3, 32, 64), "backbone")  # (1, 64, 8, steps)
    columns = net.op("ReduceMean", [features], "collapse_height", axes=[2], keepdims=0)  # (1, 64, steps)
    steps = net.op("Transpose", [columns], "time_major", perm=[0, 2, 1])  # (1, steps, 64)
    net.op("Softmax", [net.matmul(steps, "classifier", 64, layout.classes)], "probs", axis=-1)
    image = Tensor("x", [1, 3, CTC_HEIGHT_PX, width_px], "float32", "NCHW", "(RGB/255 - 0.5) / 0.5, the word image resized")
    out = Tensor("probs", [1, layout.steps, layout.classes], "float32", "1, time steps, classes",
                 "softmax per time step; class 0 is the CTC blank, then 0-9a-z")
    return FamilyModel(net.model("ctc_rec_random", [image], [out]), "ctc-rec", "text recognition (CTC)",
                       "2 x (conv 3x3 stride 2 + ReLU) 3->32->64, mean over the height, Linear 64->classes, Softmax",
                       (image,), (out,), (layout.preset,), {"x": (1, 3, CTC_HEIGHT_PX, width_px)},
                       {"charset": list(CHARACTERS), "steps": layout.steps, "classes": layout.classes, "preset_keeps": layout.kept})


def build_token_cls(seed: int, seq_len: int = NER_SEQ_LEN, vocab: int = BERT_CHINESE_VOCAB) -> FamilyModel:
    if seq_len < 1:
        raise UsageError(f"--seq_len {seq_len}: give 1 or more")
    net = Net(seed)
    words = net.op("Gather", [net.const("word_embeddings", net.rng.standard_normal((vocab, HIDDEN)) * 0.02), "input_ids"], "words")
    types = net.op("Gather", [net.const("token_type_embeddings", net.rng.standard_normal((TYPE_VOCAB, HIDDEN)) * 0.02),
                              "token_type_ids"], "types")
    positions = net.const("position_embeddings", net.rng.standard_normal((1, seq_len, HIDDEN)) * 0.02)
    summed = net.op("Add", [net.op("Add", [words, types], "words_types"), positions], "embedded")
    normed = net.op("LayerNormalization", [summed, net.const("ln.weight", np.ones(HIDDEN)), net.const("ln.bias", np.zeros(HIDDEN))],
                    "layer_norm", axis=-1, epsilon=1e-12)
    mask = net.op("Unsqueeze", [net.op("Cast", ["attention_mask"], "mask_float", to=1), net.const("mask_axes", np.asarray([2]))],
                  "mask_3d")
    hidden = net.op("Tanh", [net.matmul(net.op("Mul", [normed, mask], "masked"), "dense", HIDDEN, HIDDEN)], "dense_tanh")
    net.matmul(hidden, "logits", HIDDEN, len(NER_LABELS))
    ids = [Tensor(name, [1, seq_len], "int64", "batch, sequence", meaning) for name, meaning in (
        ("input_ids", f"token ids in 0..{vocab - 1}"), ("attention_mask", "1 for tokens, 0 for padding"),
        ("token_type_ids", "segment ids 0 or 1"))]
    out = Tensor("logits", [1, seq_len, len(NER_LABELS)], "float32", "batch, sequence, labels",
                 f"label logits over {', '.join(NER_LABELS)}")
    return FamilyModel(net.model("token_cls_random", ids, [out]), "token-cls", "token classification (BERT-like NER)",
                       f"Gather word ({vocab}x{HIDDEN}) + type ({TYPE_VOCAB}x{HIDDEN}) embeddings + position embeddings, "
                       f"LayerNorm, x mask, Linear {HIDDEN}->{HIDDEN} + Tanh, Linear {HIDDEN}->{len(NER_LABELS)}",
                       tuple(ids), (out,), ("ner_people_daily",) if seq_len == NER_SEQ_LEN else (),
                       {t.name: (1, seq_len) for t in ids}, {"labels": list(NER_LABELS), "vocab": vocab, "seq_len": seq_len})


def build_classifier(seed: int) -> FamilyModel:
    net = Net(seed)
    channels = (3, 16, 32, 64)
    pooled = net.op("GlobalAveragePool", [_downsample(net, "input", channels, "backbone")], "pool")
    flat = net.op("Flatten", [pooled], "flatten", axis=1)
    net.matmul(flat, "output", channels[-1], IMAGENET_CLASSES)
    image = Tensor("input", [1, 3, *CLASSIFIER_HW], "float32", "NCHW", "(RGB/255 - ImageNet mean) / ImageNet std")
    out = Tensor("output", [1, IMAGENET_CLASSES], "float32", "batch, classes", "ImageNet-1k logits (before softmax)")
    return FamilyModel(net.model("classifier_random", [image], [out]), "classifier", "image classification (ImageNet-1k)",
                       f"3 x (conv 3x3 stride 2 + ReLU) {channels}, GlobalAveragePool, Linear {channels[-1]}->{IMAGENET_CLASSES}",
                       (image,), (out,), ("imagenet_topk",), {"input": (1, 3, *CLASSIFIER_HW)}, {"classes": IMAGENET_CLASSES})


def build_segmenter(seed: int) -> FamilyModel:
    net = Net(seed)
    channels = (3, 16, 32, 32)
    scores = net.conv(_downsample(net, "input", channels, "backbone"), "classifier", channels[-1], VOC_CLASSES, kernel=1)
    _upsample(net, scores, 2 ** (len(channels) - 1), "output")
    image = Tensor("input", [1, 3, "height", "width"], "float32", "NCHW",
                   "(RGB/255 - ImageNet mean) / ImageNet std, H and W multiples of 8")
    out = Tensor("output", [1, VOC_CLASSES, "height", "width"], "float32", "NCHW",
                 "per-pixel logits over VOC's 21 classes (0 = background)")
    return FamilyModel(net.model("segmenter_random", [image], [out]), "segmenter", "semantic segmentation (VOC)",
                       f"3 x (conv 3x3 stride 2 + ReLU) {channels}, conv 1x1 -> {VOC_CLASSES}, bilinear Resize x8",
                       (image,), (out,), ("voc_seg",), {"input": (1, 3, *SEGMENTER_MACS_HW)}, {"classes": VOC_CLASSES})
