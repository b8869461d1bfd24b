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
    int8: bool = typer.Option(
        False, "--int8", help="ONNX: also write the dynamic int8 graph (checked vs fp32)."
    ),
    fp16: bool = typer.Option(
        False, "--fp16", help="ONNX: also write the fp16 graph (checked vs the fp32 torch model)."
    ),
) -> None:
    """Export the backbone only (no heads, no mask token) and print max abs diff against saip's model."""
    from saip.export.run import export_backbone

    try:
        result = export_backbone(spec, fmt.value, out, arch, img_size, opset, exporter, int8, fp16)
    except (FileNotFoundError, ValueError, KeyError) as error:
        hint = "--opset / --exporter" if "opset" in str(error) or "exporter" in str(error) else None
        raise typer.BadParameter(
            str(error), param_hint=hint or "RUN_OR_WEIGHTS / --arch / --img-size"
        ) from error
    typer.echo("wrote " + " and ".join(str(path) for path in result.files))
    if result.format == "timm":
        typer.echo("load with timm (strict):")
    for line in result.usage:
        typer.echo(f"    {line}")
    for report in result.reports:
        typer.echo(report.summary())
    if not result.ok:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add the top-level ``export`` command."""
    app.command("export")(export)
