"""``saip viz``: PCA / attention scale panels (SAIP Fig. 1 / 5) and training curves of a run."""

from __future__ import annotations

from pathlib import Path

import typer


def _parse_scales(text: str) -> list[float]:
    try:
        scales = [float(s) for s in text.split(",") if s.strip()]
    except ValueError as error:
        raise typer.BadParameter(
            f"{text!r}: expected comma-separated numbers, e.g. 0.5,1.0,1.5", param_hint="--scales"
        ) from error
    if not scales or any(s <= 0 for s in scales):
        raise typer.BadParameter(f"{text!r}: scales must be positive", param_hint="--scales")
    return scales


def viz(
    spec: str = typer.Argument(
        ...,
        metavar="RUN_OR_WEIGHTS",
        help="Run folder, weights file (.safetensors/.pt, with --arch) or random:<arch>.",
    ),
    images: list[Path] | None = typer.Option(None, "--images", "-i", help="Image files (repeat the option)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output folder (default: RUN/viz or ./viz)."),
    scales: str = typer.Option("0.5,1.0,1.5", "--scales", help="Comma-separated input scales."),
    arch: str | None = typer.Option(None, "--arch", help="Architecture of a bare weights file."),
    curves: bool = typer.Option(False, "--curves", help="Also draw RUN/logs/metrics.jsonl to curves.png."),
    curves_only: bool = typer.Option(False, "--curves-only", help="Only draw the training curves."),
) -> None:
    """Write <name>_scales.png panels (input | PCA of patch tokens | image-token attention) per image."""
    from saip.export.source import load_export_source
    from saip.viz import default_images, load_images, render_scale_panels, save_training_curves

    run = Path(spec)
    out = out or (run / "viz" if run.is_dir() else Path("viz"))
    if curves or curves_only:
        metrics = run / "logs" / "metrics.jsonl"
        if not run.is_dir():
            raise typer.BadParameter(
                f"--curves needs a run folder, got {spec!r}", param_hint="RUN_OR_WEIGHTS"
            )
        try:
            path = save_training_curves(metrics, out / "curves.png", title=f"{run.name}: training curves")
        except (FileNotFoundError, ValueError) as error:
            raise typer.BadParameter(str(error), param_hint="--curves") from error
        typer.echo(f"wrote {path}")
        if curves_only:
            return
    scale_list = _parse_scales(scales)
    try:
        source = load_export_source(spec, arch=arch)
        named = load_images(images) if images else default_images()
    except (FileNotFoundError, ValueError, KeyError, OSError) as error:
        raise typer.BadParameter(str(error), param_hint="RUN_OR_WEIGHTS / --arch / --images") from error
    paths = render_scale_panels(
        source.backbone,
        named,
        out,
        scales=scale_list,
        img_size=source.img_size,
        mean=source.mean,
        std=source.std,
        label=f"{source.alias} ({source.origin})",
    )
    for path in paths:
        typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the top-level ``viz`` command."""
    app.command("viz")(viz)
