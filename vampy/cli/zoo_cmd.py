"""`vampy zoo`: write reference models (VDSR; the EDSR-like and face-SR-like RGB models; tiny random-weight models of the
detection, text, NLP, classification and segmentation families) as DIR/mod.onnx + DIR/mod.json."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from vampy.models.zoo import ZooResult

zoo_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Write a reference model as DIR/mod.onnx plus DIR/mod.json (its metadata), ready for `vampy run -m DIR/mod`.",
)


@zoo_app.command("vdsr")
def vdsr(
    out_dir: Path = typer.Option(..., "-o", "--output", help="Folder to write mod.onnx and mod.json into (created if needed)."),
    weights: Path | None = typer.Option(None, "--weights",
                                        help="VDSR weights .npz (keys input.weight, residual_layer.K.conv.weight, output.weight). "
                                             "Without it: seeded random weights."),
    seed: int | None = typer.Option(None, "--seed", help="Seed for the random weights; only without --weights (then 0 when not given)."),
    dynamic: bool = typer.Option(False, "--dynamic", help="Dynamic batch, height and width instead of a fixed 1x1x256x256 input."),
    input_kind: str = typer.Option(
        "y", "--input",
        help="What the model takes. y: the Y plane in [0,1], (N,1,H,W) (feed an image2npz y3 npz). "
        "rgb-bt601: the RGB image /255, (N,3,H,W) (an image2npz rgb npz with DIV255); a first 1x1 Conv computes "
        "MATLAB rgb2ycbcr's Y in float, as the VDSR paper does. The output is Y either way.",
    ),
) -> None:
    """VDSR super-resolution: 20 conv 3x3 layers, 64 channels, global residual (Kim, Lee and Lee, CVPR 2016)."""
    from vampy.errors import UsageError
    from vampy.models.zoo import write_vdsr

    if weights is not None and seed is not None:
        raise UsageError("--seed only applies to random weights; drop it or drop --weights")
    result = write_vdsr(out_dir, weights=weights, seed=0 if seed is None else seed, dynamic=dynamic, input_kind=input_kind)
    typer.echo(_summary(result.model_path, result.metadata))
    if result.metadata.get("warning"):
        typer.echo(f"warning: {result.metadata['warning']} (seed {result.metadata.get('seed')})", err=True)


def _cost(meta: dict[str, Any]) -> str:
    """'P M params, G GMACs (F GFLOPs) at NxCxHxW': the size and compute every zoo summary line ends with."""
    gmacs = meta["macs"] / 1e9
    at_shape = "x".join(str(d) for d in meta["macs_input_shape"])
    return f"{meta['params'] / 1e6:.3f} M params, {gmacs:.2f} GMACs ({gmacs * meta['flops_per_mac']:.2f} GFLOPs) at {at_shape}"


def _summary(model_path: Path, metadata: dict[str, Any]) -> str:
    shape = "[" + ",".join(str(d) for d in metadata["input"]["shape"]) + "]"
    if metadata["weights"] == "file":
        source = f"weights {metadata['weights_path']} (sha256 {metadata['weights_sha256'][:12]})"
    else:
        source = f"RANDOM weights (seed {metadata['seed']})"
    return (
        f"wrote {model_path} (+ {model_path.with_suffix('.json').name}): vdsr, "
        f"input {metadata['input']['name']!r} {shape} float32 ({metadata['input_kind']}), {_cost(metadata)}, {source}"
    )


_SEED_HELP = "Seed for the random weights."
_OUT_HELP = "Folder to write mod.onnx and mod.json into (created if needed)."


@zoo_app.command("edsr")
def edsr(
    out_dir: Path = typer.Option(..., "-o", "--output", help=_OUT_HELP),
    scale: int = typer.Option(2, "--scale", help="Upscaling factor: 2 or 4 (one or two conv + PixelShuffle(2) stages)."),
    seed: int = typer.Option(0, "--seed", help=_SEED_HELP),
) -> None:
    """EDSR-baseline-like RGB super-resolution, seeded RANDOM weights: input (N,3,H,W) RGB 0..255 (vdsp NormaType EQUAL),
    output (N,3,sH,sW) RGB 0..255, as `vampy eval --preset edsr` scores it. vdsp file: vdsp_params/edsr-xS-vdsp_params.json."""
    from vampy.models.zoo_sr import edsr_spec, write_sr

    _write_sr(write_sr(out_dir, edsr_spec(scale), seed))


@zoo_app.command("face-sr")
def face_sr(
    out_dir: Path = typer.Option(..., "-o", "--output", help=_OUT_HELP),
    scale: int = typer.Option(8, "--scale",
                              help="8: PFSRNet-like, 16x16 -> 128x128 (preset pfsrnet); 1: GPEN-like, 512 -> 512 (preset gpen)."),
    seed: int = typer.Option(0, "--seed", help=_SEED_HELP),
) -> None:
    """Face-SR-like RGB model with a tanh output, seeded RANDOM weights: input (RGB/255-0.5)/0.5 in -1..1
    (vdsp DIV255_MINUSMEAN_DIVSTD, mean = std = 0.5), output (N,3,sH,sW) in -1..1, as --preset gpen / pfsrnet score it.
    vdsp file: vdsp_params/face-sr-xS-vdsp_params.json."""
    from vampy.models.zoo_sr import face_spec, write_sr

    _write_sr(write_sr(out_dir, face_spec(scale), seed))


def _write_sr(result: ZooResult) -> None:
    meta = result.metadata
    shape = "[" + ",".join(str(d) for d in meta["output"]["shape"]) + "]"
    typer.echo(
        f"wrote {result.model_path} (+ {result.metadata_path.name}): {meta['model']} x{meta['scale']}, input {meta['input']['name']!r} "
        f"[batch,3,height,width] float32 ({meta['input']['range']}), output {shape}, {_cost(meta)}, RANDOM weights (seed {meta['seed']})"
    )
    typer.echo(f"warning: {meta['warning']} (seed {meta['seed']})", err=True)


# --- the other families: output shapes only, seeded random weights (vampy/models/zoo_yolo.py, zoo_families.py) ---

@zoo_app.command("yolov5-head")
def yolov5_head(
    out_dir: Path = typer.Option(..., "-o", "--output", help=_OUT_HELP),
    seed: int = typer.Option(0, "--seed", help=_SEED_HELP),
    classes: int = typer.Option(80, "--classes", help="Classes C: each head has 3*(5+C) channels (80: COCO's, as coco_det reads)."),
    size_px: int = typer.Option(640, "--size", help="Input side S in pixels: a multiple of 32, at least 64."),
) -> None:
    """yolov5-shaped detector with PLANTED boxes: input images (1,3,S,S) RGB/255, three raw heads (1,3*(5+C),S/s,S/s) at
    strides 8, 16, 32, as `vampy compile` with the zoo's yolov5 YAML (build/vendor/ultralytics_yolov5.yaml, yolov5_nms)
    decodes them. Four known boxes (mod.json planted_boxes: class, x1 y1 x2 y2 in input pixels, score) come out of any
    image within a pixel; every other cell stays under 0.001 confidence. Scored by `vampy eval --preset coco_det` once
    compiled. Seeded RANDOM conv weights move the logits by at most 0.002: the speed is real, the boxes are planted."""
    from vampy.models.zoo_build import write_family
    from vampy.models.zoo_yolo import build_yolov5_head

    result = write_family(out_dir, build_yolov5_head(seed, size_px, classes), seed)
    planted = ", ".join(f"{b['name'] or b['class']} {b['score']} [{b['x1']:g},{b['y1']:g},{b['x2']:g},{b['y2']:g}]"
                        for b in result.metadata["planted_boxes"])
    _write_family(result, f"planted boxes (x1,y1,x2,y2 input pixels): {planted}")


@zoo_app.command("db-text")
def db_text(
    out_dir: Path = typer.Option(..., "-o", "--output", help=_OUT_HELP),
    seed: int = typer.Option(0, "--seed", help=_SEED_HELP),
) -> None:
    """DBNet-shaped text detector: input x (1,3,H,W), H and W multiples of 32 ((RGB/255 - ImageNet mean)/std), output the
    text probability map (1,1,H,W) after a sigmoid, as `vampy eval --preset icdar_db` reads output_0.
    Seeded RANDOM weights: the speed is real, the scores mean nothing."""
    from vampy.models.zoo_build import write_family
    from vampy.models.zoo_families import build_db_text

    _write_family(write_family(out_dir, build_db_text(seed), seed))


@zoo_app.command("ctc-rec")
def ctc_rec(
    out_dir: Path = typer.Option(..., "-o", "--output", help=_OUT_HELP),
    preset: str = typer.Option("ctc_ppocr_v4_rec", "--preset",
                               help="The layout of: ctc_ppocr_v4_rec, input (1,3,32,100), output (1,25,37); ctc_crnn, input "
                                    "(1,3,32,128), output (1,32,48) (the script keeps [:, :25, :37])."),
    seed: int = typer.Option(0, "--seed", help=_SEED_HELP),
) -> None:
    """CRNN-like CTC text recogniser: input x (1,3,32,W) ((RGB/255 - 0.5)/0.5), output the softmax over blank + 0-9a-z per
    time step (1,T,classes), as `vampy eval --preset ctc_ppocr_v4_rec` / `ctc_crnn` reshape output_0.
    Seeded RANDOM weights: the speed is real, the scores mean nothing."""
    from vampy.models.zoo_build import write_family
    from vampy.models.zoo_families import build_ctc_rec

    _write_family(write_family(out_dir, build_ctc_rec(seed, preset), seed))


@zoo_app.command("token-cls")
def token_cls(
    out_dir: Path = typer.Option(..., "-o", "--output", help=_OUT_HELP),
    seq_len: int = typer.Option(256, "--seq_len", help="Sequence length L (256: what ner_people_daily reshapes to)."),
    seed: int = typer.Option(0, "--seed", help=_SEED_HELP),
) -> None:
    """BERT-like token classifier: inputs input_ids, attention_mask, token_type_ids int64 (1,L), embedding Gathers over
    bert-base-chinese's 21128-token vocabulary, output logits (1,L,7) over O, B/I-LOC, B/I-PER, B/I-ORG, as
    `vampy eval --preset ner_people_daily` reads output_0 (L = 256). Seeded RANDOM weights: the speed is real, the scores mean nothing."""
    from vampy.models.zoo_build import write_family
    from vampy.models.zoo_families import build_token_cls

    _write_family(write_family(out_dir, build_token_cls(seed, seq_len), seed))


@zoo_app.command("classifier")
def classifier(
    out_dir: Path = typer.Option(..., "-o", "--output", help=_OUT_HELP),
    seed: int = typer.Option(0, "--seed", help=_SEED_HELP),
) -> None:
    """ImageNet-shaped classifier: input (1,3,224,224) ((RGB/255 - ImageNet mean)/std), output logits (1,1000), as
    `vampy eval --preset imagenet_topk` reads output_0. Seeded RANDOM weights: the speed is real, the scores mean nothing."""
    from vampy.models.zoo_build import write_family
    from vampy.models.zoo_families import build_classifier

    _write_family(write_family(out_dir, build_classifier(seed), seed))


@zoo_app.command("segmenter")
def segmenter(
    out_dir: Path = typer.Option(..., "-o", "--output", help=_OUT_HELP),
    seed: int = typer.Option(0, "--seed", help=_SEED_HELP),
) -> None:
    """VOC-shaped segmenter: input (1,3,H,W), H and W multiples of 8, output logits (1,21,H,W), as
    `vampy eval --preset voc_seg` reads output_0. Seeded RANDOM weights: the speed is real, the scores mean nothing."""
    from vampy.models.zoo_build import write_family
    from vampy.models.zoo_families import build_segmenter

    _write_family(write_family(out_dir, build_segmenter(seed), seed))


def _tensors(tensors: list[dict[str, Any]]) -> str:
    return ", ".join(f"{t['name']!r} [{','.join(str(d) for d in t['shape'])}] {t['dtype']}" for t in tensors)


def _write_family(result: ZooResult, *extra_lines: str) -> None:
    meta = result.metadata
    presets = ", ".join(meta["presets"]) or "none at this shape"
    typer.echo(
        f"wrote {result.model_path} (+ {result.metadata_path.name}): {meta['model']}, inputs {_tensors(meta['inputs'])}, "
        f"outputs {_tensors(meta['outputs'])}, {_cost(meta)}, scored by --preset {presets}, RANDOM weights (seed {meta['seed']})"
    )
    for line in extra_lines:
        typer.echo(line)
    typer.echo(f"warning: {meta['warning']} (seed {meta['seed']})", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(zoo_app, name="zoo")
