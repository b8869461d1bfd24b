"""``saip data synth`` and ``saip data preview``: the embedded synthetic person data."""

from __future__ import annotations

from pathlib import Path

import typer

from saip.synth.tasks import TASKS


def parse_size(value: str, option: str) -> tuple[int, int]:
    """Parse ``HxW`` (e.g. ``256x128``) into (H, W); errors name ``option``."""
    parts = value.lower().split("x")
    try:
        if len(parts) != 2:
            raise ValueError
        h, w = int(parts[0]), int(parts[1])
    except ValueError:
        raise typer.BadParameter(f"expected HxW such as 256x128, got {value!r}", param_hint=option) from None
    if h < 32 or w < 16:
        raise typer.BadParameter(f"size {value!r} is too small (at least 32x16)", param_hint=option)
    return h, w


def parse_tasks(value: str) -> tuple[str, ...]:
    """Parse a comma list of tasks (``all`` = every task)."""
    if value.strip().lower() == "all":
        return TASKS
    tasks = tuple(t.strip() for t in value.split(",") if t.strip())
    bad = [t for t in tasks if t not in TASKS]
    if bad or not tasks:
        raise typer.BadParameter(
            f"unknown task(s) {bad}; choose from {', '.join(TASKS)} or all", param_hint="--tasks"
        )
    return tasks


def register(data_app: typer.Typer) -> None:
    """Add ``synth`` and ``preview`` to the ``saip data`` group."""

    @data_app.command("synth")
    def synth(
        out: Path = typer.Option(..., "--out", help="Output directory."),
        identities: int = typer.Option(
            100, "--identities", min=2, help="Number of identities (half train, half test)."
        ),
        images_per_id: int = typer.Option(
            12, "--images-per-id", min=1, help="Single-person images per identity."
        ),
        seed: int = typer.Option(
            0, "--seed", help="World seed: identities, cameras and images derive from it."
        ),
        scenes: int = typer.Option(200, "--scenes", min=0, help="Multi-person scenes (80% train, 20% val)."),
        size: str = typer.Option("256x128", "--size", help="Single-person image size HxW."),
        scene_size: str = typer.Option("384x512", "--scene-size", help="Scene image size HxW."),
        cameras: int = typer.Option(
            6, "--cameras", min=1, max=9, help="Camera (background/lighting) domains."
        ),
        max_persons: int = typer.Option(6, "--max-persons", min=2, max=50, help="Most persons in a scene."),
        tasks: str = typer.Option("all", "--tasks", help=f"Comma list of {', '.join(TASKS)} (or all)."),
        quality: int = typer.Option(90, "--jpeg-quality", min=50, max=100, help="JPEG quality."),
    ) -> None:
        """Write the synthetic person dataset in Market-1501 / PA100K / COCO / LIP / CrowdHuman layouts."""
        from saip.synth.writer import write_synthetic_dataset

        meta = write_synthetic_dataset(
            out,
            identities=identities,
            images_per_id=images_per_id,
            seed=seed,
            scenes=scenes,
            size=parse_size(size, "--size"),
            scene_size=parse_size(scene_size, "--scene-size"),
            num_cameras=cameras,
            max_persons=max_persons,
            tasks=parse_tasks(tasks),
            quality=quality,
            progress=lambda msg: typer.echo(msg, err=True),
        )
        for key, n in sorted(meta["counts"].items()):
            typer.echo(f"{key}: {n}")
        typer.echo(f"wrote {out}")

    @data_app.command("preview")
    def preview(
        out: Path = typer.Option(..., "--out", help="PNG file to write."),
        seed: int = typer.Option(0, "--seed", help="World seed."),
        identities: int = typer.Option(4, "--identities", min=1, max=20, help="Rows: identities shown."),
        views: int = typer.Option(6, "--views", min=1, max=20, help="Columns: images per identity."),
        size: str = typer.Option("256x128", "--size", help="Single-person image size HxW."),
        scene: int = typer.Option(0, "--scene", min=0, help="Index of the scene shown under the grid."),
    ) -> None:
        """Save a picture grid (rows = identities, columns = views) plus a labelled multi-person scene."""
        from saip.synth.preview import save_preview

        path = save_preview(
            out,
            seed=seed,
            identities=identities,
            views=views,
            size=parse_size(size, "--size"),
            scene_index=scene,
        )
        typer.echo(f"wrote {path}")
