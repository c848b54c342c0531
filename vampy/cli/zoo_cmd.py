"""`vampy zoo`: write reference models (VDSR) as DIR/mod.onnx + DIR/mod.json."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

zoo_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Write a reference model as DIR/mod.onnx plus DIR/mod.json (its metadata), ready for `vampy run -m DIR/mod`.",
)


@zoo_app.command("vdsr")
def vdsr(
    out_dir: Path = typer.Option(..., "-o", "--output", help="Folder to write mod.onnx and mod.json into (created if needed)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="VDSR weights .npz (keys input.weight, residual_layer.K.conv.weight, output.weight). Without it: seeded random weights."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for the random weights (default 0); only without --weights."),
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


def register(app: typer.Typer) -> None:
    app.add_typer(zoo_app, name="zoo")
