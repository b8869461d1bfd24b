"""``saip export``: write a deployable backbone (timm weights, ONNX or TorchScript) and verify it."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer


class ExportFormat(StrEnum):
    timm = "timm"
    onnx = "onnx"
    torchscript = "torchscript"


def export(
    spec: str = typer.Argument(
        ...,
        metavar="RUN_OR_WEIGHTS",
        help="Run folder, weights file (.safetensors/.pt, with --arch) or random:<arch>.",
    ),
    fmt: ExportFormat = typer.Option(ExportFormat.timm, "--format", "-f", help="timm, onnx or torchscript."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Output folder (default: RUN/export/<format>)."
    ),
    arch: str | None = typer.Option(
        None, "--arch", help="Architecture of a bare weights file (e.g. vit_tiny)."
    ),
    img_size: str | None = typer.Option(
        None, "--img-size", help="HxW to trace/verify at (default: the run's)."
    ),
    opset: int = typer.Option(18, "--opset", help="ONNX opset (>= 17)."),
    exporter: str = typer.Option("auto", "--exporter", help="ONNX exporter: auto, dynamo or torchscript."),
) -> None:
    """Export the backbone only (no heads, no mask token) and print max abs diff against saip's model."""
    from saip.export import (
        export_onnx,
        export_timm,
        export_torchscript,
        load_export_source,
        verify_onnx_export,
        verify_timm_export,
        verify_torchscript_export,
    )

    try:
        source = load_export_source(spec, arch=arch, img_size=img_size)
    except (FileNotFoundError, ValueError, KeyError) as error:
        raise typer.BadParameter(str(error), param_hint="RUN_OR_WEIGHTS / --arch / --img-size") from error
    if out is None:
        base = Path(spec) if Path(spec).is_dir() else Path("exports") / source.alias
        out = base / "export" / fmt.value if Path(spec).is_dir() else base / fmt.value
    name = f"{source.alias}_{source.img_size[0]}x{source.img_size[1]}"
    if fmt is ExportFormat.timm:
        result = export_timm(source, out)
        reports = [
            verify_timm_export(source, result, how)
            for how in ("pretrained_file", "checkpoint_path", "local_dir")
        ]
        typer.echo(f"wrote {result.weights} and {result.config}")
        typer.echo("load with timm (strict):")
        for line in result.load_commands():
            typer.echo(f"    {line}")
    elif fmt is ExportFormat.onnx:
        try:
            result = export_onnx(source, Path(out) / f"{name}.onnx", opset=opset, exporter=exporter)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--opset / --exporter") from error
        reports = [verify_onnx_export(source, result)]
        typer.echo(
            f"wrote {result.path} (exporter {result.exporter}, opset {result.opset}, dynamic batch, "
            f"input 'images' (B,3,{result.img_size[0]},{result.img_size[1]}) normalised with "
            f"mean={list(source.mean)} std={list(source.std)})"
        )
    else:
        result = export_torchscript(source, Path(out) / f"{name}.pt")
        reports = [verify_torchscript_export(source, result)]
        typer.echo(f"wrote {result.path}; load with torch.jit.load(path) -> (image_token, patch_grid)")
    for report in reports:
        typer.echo(report.summary())
    if not all(r.ok for r in reports):
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add the top-level ``export`` command."""
    app.command("export")(export)
