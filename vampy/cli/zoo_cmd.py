"""`vampy zoo`: write reference models (VDSR; the EDSR-like and face-SR-like RGB models) as DIR/mod.onnx + DIR/mod.json."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

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
    seed: int | None = typer.Option(None, "--seed", help="Seed for the random weights (default 0); only without --weights."),
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


def _summary(model_path: Path, metadata: dict[str, Any]) -> str:
    shape = "[" + ",".join(str(d) for d in metadata["input"]["shape"]) + "]"
    if metadata["weights"] == "file":
        source = f"weights {metadata['weights_path']} (sha256 {metadata['weights_sha256'][:12]})"
    else:
        source = f"RANDOM weights (seed {metadata['seed']})"
    gmacs = metadata["macs"] / 1e9
    at_shape = "x".join(str(d) for d in metadata["macs_input_shape"])
    return (
        f"wrote {model_path} (+ {model_path.with_suffix('.json').name}): vdsr, "
        f"input {metadata['input']['name']!r} {shape} float32 ({metadata['input_kind']}), {metadata['params'] / 1e6:.3f} M params, "
        f"{gmacs:.2f} GMACs ({gmacs * metadata['flops_per_mac']:.2f} GFLOPs) at {at_shape}, {source}"
    )


_SEED_HELP = "Seed for the random weights (default 0)."
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


def _write_sr(result: Any) -> None:
    meta = result.metadata
    gmacs = meta["macs"] / 1e9
    at_shape = "x".join(str(d) for d in meta["macs_input_shape"])
    shape = "[" + ",".join(str(d) for d in meta["output"]["shape"]) + "]"
    typer.echo(
        f"wrote {result.model_path} (+ {result.metadata_path.name}): {meta['model']} x{meta['scale']}, input {meta['input']['name']!r} "
        f"[batch,3,height,width] float32 ({meta['input']['range']}), output {shape}, {meta['params'] / 1e6:.3f} M params, "
        f"{gmacs:.2f} GMACs ({gmacs * meta['flops_per_mac']:.2f} GFLOPs) at {at_shape}, RANDOM weights (seed {meta['seed']})"
    )
    typer.echo(f"warning: {meta['warning']} (seed {meta['seed']})", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(zoo_app, name="zoo")
