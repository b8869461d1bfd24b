"""``saip eval pose|parsing|detection``: dense and multi-person downstream tasks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import typer

_BACKBONE = typer.Option(
    ..., "--backbone", "-b", help="Run folder, weight file (with --arch) or random:<arch>."
)
_ARCH = typer.Option(
    None, "--arch", help="Architecture of a weight file (vit_tiny, starnet_s3, tiny_vit_5m, ...)."
)
_DATA = typer.Option(None, "--data", help="Dataset folder; default: the synthetic dataset (generated once).")
_BUDGET = typer.Option("quick", "--budget", help="Budget preset: quick, standard or paper.")
_OUT = typer.Option(Path("eval-out"), "--out", help="Output folder for <task>.json and results.json.")
_SEED = typer.Option(0, "--seed", help="Seed (sampling, head init, random backbone init, synthetic data).")
_DEVICE = typer.Option("cpu", "--device", help="torch device, e.g. cpu or cuda.")
_PROTOCOL = typer.Option(None, "--protocol", help="finetune or frozen (default: the budget's).")
_FLIP = typer.Option(True, "--flip-test/--no-flip-test", help="Average with the mirrored prediction.")


def _resolve_data(data: Path | None, seed: int) -> Path:
    from saip.evaluate.default_data import ensure_synthetic_data

    if data is not None and not data.exists():
        raise typer.BadParameter(f"data folder not found: {data}", param_hint="--data")
    return ensure_synthetic_data(data, seed=seed)


def _check_protocol(protocol: str | None) -> None:
    from saip.evaluate.heads.finetune import PROTOCOLS

    if protocol is not None and protocol not in PROTOCOLS:
        raise typer.BadParameter(f"choose from {', '.join(PROTOCOLS)}", param_hint="--protocol")


def _finish(task: str, metrics: dict[str, float], out: Path) -> None:
    """Print the metrics and merge them into ``out/results.json`` (other tasks' entries are kept)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    results = {}
    if path.is_file():
        try:
            results = json.loads(path.read_text())
        except json.JSONDecodeError:
            results = {}
    results[task] = metrics
    path.write_text(json.dumps(results, indent=2))
    for key, value in metrics.items():
        typer.echo(f"{task} {key}: {value:.2f}")
    typer.echo(f"wrote {path}")


def _run(
    task: str, call: Callable[[Path], dict[str, float]], data: Path | None, seed: int
) -> dict[str, float]:
    """Resolve the data folder and run ``call(data_root)``; bad input exits with code 2 and a message."""
    root = _resolve_data(data, seed)
    try:
        return call(root)
    except (FileNotFoundError, ValueError) as error:
        typer.echo(f"error: saip eval {task}: {error}", err=True)
        raise typer.Exit(code=2) from error


def register(eval_app: typer.Typer) -> None:
    """Add the ``pose``, ``parsing`` and ``detection`` commands to the ``saip eval`` group."""

    @eval_app.command("pose")
    def pose_cmd(
        backbone: str = _BACKBONE,
        arch: str | None = _ARCH,
        data: Path | None = _DATA,
        protocol: str | None = _PROTOCOL,
        budget: str = _BUDGET,
        out: Path = _OUT,
        seed: int = _SEED,
        device: str = _DEVICE,
        flip_test: bool = _FLIP,
    ) -> None:
        """Top-down pose on COCO keypoints (GT boxes, ViTPose simple head): OKS AP, AP50, AP75, AR."""
        from saip.evaluate import pose

        _check_protocol(protocol)
        metrics = _run(
            "pose",
            lambda root: pose.run_task(
                backbone, root, budget, out, seed, device, arch, protocol=protocol, flip_test=flip_test
            ),
            data,
            seed,
        )
        _finish("pose", metrics, out)

    @eval_app.command("parsing")
    def parsing_cmd(
        backbone: str = _BACKBONE,
        arch: str | None = _ARCH,
        data: Path | None = _DATA,
        protocol: str | None = _PROTOCOL,
        budget: str = _BUDGET,
        out: Path = _OUT,
        seed: int = _SEED,
        device: str = _DEVICE,
        flip_test: bool = _FLIP,
        num_classes: int | None = typer.Option(
            None, "--num-classes", help="Classes (default: 20 LIP or more)."
        ),
    ) -> None:
        """Body-part segmentation on the LIP layout (light decoder): mIoU, pixel and mean class accuracy."""
        from saip.evaluate import parsing

        _check_protocol(protocol)
        metrics = _run(
            "parsing",
            lambda root: parsing.run_task(
                backbone,
                root,
                budget,
                out,
                seed,
                device,
                arch,
                protocol=protocol,
                flip_test=flip_test,
                num_classes=num_classes,
            ),
            data,
            seed,
        )
        _finish("parsing", metrics, out)

    @eval_app.command("detection")
    def detection_cmd(
        backbone: str = _BACKBONE,
        arch: str | None = _ARCH,
        data: Path | None = _DATA,
        protocol: str | None = _PROTOCOL,
        budget: str = _BUDGET,
        out: Path = _OUT,
        seed: int = _SEED,
        device: str = _DEVICE,
        fmt: str = typer.Option(
            "auto", "--format", help="Annotations: auto, coco (instances_*.json) or odgt."
        ),
    ) -> None:
        """Pedestrian detection (COCO boxes or CrowdHuman .odgt; CenterNet head): AP, AP50, MR-2."""
        from saip.evaluate import detection

        _check_protocol(protocol)
        if fmt not in detection.FORMATS:
            raise typer.BadParameter(f"choose from {', '.join(detection.FORMATS)}", param_hint="--format")
        metrics = _run(
            "detection",
            lambda root: detection.run_task(
                backbone, root, budget, out, seed, device, arch, protocol=protocol, fmt=fmt
            ),
            data,
            seed,
        )
        _finish("detection", metrics, out)
