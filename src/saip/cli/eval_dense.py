"""``saip eval pose|parsing|detection``: dense and multi-person downstream tasks."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from saip.evaluate.runtime import EvalRuntime

_BACKBONE = typer.Option(
    ..., "--backbone", "-b", help="Run folder, weight file (with --arch) or random:<arch>."
)
_ARCH = typer.Option(
    None, "--arch", help="Architecture of a weight file (vit_tiny, starnet_s3, tiny_vit_5m, ...)."
)
_DATA = typer.Option(None, "--data", help="Dataset folder; default: the synthetic dataset (generated once).")
_BUDGET = typer.Option("quick", "--budget", help="Budget preset: quick, standard or paper.")
_OUT = typer.Option(
    None,
    "--out",
    help="Output folder: results.json (every task merged) and <task>/ [default: RUN/eval for a run "
    "folder, else eval-out/<backbone>].",
)
_SEED = typer.Option(0, "--seed", help="Seed (sampling, head init, random backbone init, synthetic data).")
_DEVICE = typer.Option("auto", "--device", help="auto (cuda if available), cpu, cuda or cuda:N.")
_PROTOCOL = typer.Option(None, "--protocol", help="finetune or frozen (default: the budget's).")
_FLIP = typer.Option(True, "--flip-test/--no-flip-test", help="Average with the mirrored prediction.")
_WORKERS = typer.Option(
    None,
    "--workers",
    help="DataLoader worker processes decoding images (0: in this process; results do not depend on "
    "it) [default: half the CPU cores, at most 4].",
)
_AMP = typer.Option(
    "auto",
    "--amp",
    help="Autocast for features and head training: auto (bf16 on CUDA, off on CPU), native (bf16 also "
    "on CPUs with AVX512-BF16/AMX), bf16, off.",
)


def eval_paths(backbone: str, out: Path | None, device: str) -> tuple[Path, str]:
    """The output folder (``RUN/eval`` for a run folder, else ``eval-out/<backbone>``: another
    backbone's results are never overwritten) and the torch device (``auto`` as in pretraining)."""
    from saip.pretrain.loop import resolve_device

    if out is None:
        spec = Path(backbone)
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in backbone.strip("/"))
        out = spec / "eval" if spec.is_dir() else Path("eval-out") / name
    return out, str(resolve_device(device))


def eval_runtime(workers: int | None, amp: str) -> EvalRuntime:
    """The :class:`~saip.evaluate.runtime.EvalRuntime` of ``--workers`` / ``--amp`` (progress bars on
    stderr when it is a terminal; ``TQDM_DISABLE=1`` hides them)."""
    from saip.evaluate.runtime import AMP_MODES, EvalRuntime, default_workers

    if workers is not None and workers < 0:
        raise typer.BadParameter(f"must be >= 0, got {workers}", param_hint="--workers")
    if amp not in AMP_MODES:
        raise typer.BadParameter(f"choose from {', '.join(AMP_MODES)}", param_hint="--amp")
    return EvalRuntime(workers=default_workers() if workers is None else workers, amp=amp)


def _resolve_data(data: Path | None, seed: int) -> Path:
    from saip.evaluate.default_data import ensure_synthetic_data

    if data is not None and not data.exists():
        raise typer.BadParameter(f"data folder not found: {data}", param_hint="--data")
    return ensure_synthetic_data(data, seed=seed)


def _check_protocol(protocol: str | None) -> None:
    from saip.evaluate.heads.finetune import PROTOCOLS

    if protocol is not None and protocol not in PROTOCOLS:
        raise typer.BadParameter(f"choose from {', '.join(PROTOCOLS)}", param_hint="--protocol")


def _finish(
    task: str, metrics: dict[str, float], out: Path, backbone: str, budget: str, data: Path | None
) -> None:
    """Print the metrics and merge them into ``out/results.json`` / ``results.md`` (the layout of
    ``saip eval all``; other tasks' entries are kept)."""
    from saip.evaluate.report import task_entry, write_results

    results = {"backbone": backbone, "budget": budget, "data": str(data) if data else "synthetic"}
    seconds = float(metrics.get("seconds", 0.0))  # the task's own timing, as `saip eval all` records
    results["tasks"] = {task: task_entry(task, metrics, synthetic=data is None, seconds=seconds)}
    write_results(out, results)
    for key, value in metrics.items():
        typer.echo(f"{task} {key}: {value:.2f}")
    typer.echo(f"wrote {out / 'results.json'}")


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


def add_task_command(eval_app: typer.Typer, task: str, help_text: str, flip_test: bool = False) -> None:
    """Add ``saip eval TASK`` with the shared options, running ``saip.evaluate.TASK.run_task``
    (``flip_test``: also a ``--flip-test/--no-flip-test`` option passed on to it)."""

    def run(backbone, arch, data, protocol, budget, out, seed, device, workers, amp, **extra) -> None:  # noqa: ANN001
        module = importlib.import_module(f"saip.evaluate.{task}")
        _check_protocol(protocol)
        runtime = eval_runtime(workers, amp)
        out, device = eval_paths(backbone, out, device)
        metrics = _run(
            task,
            lambda root: module.run_task(
                backbone,
                root,
                budget,
                out / task,
                seed,
                device,
                arch,
                protocol=protocol,
                runtime=runtime,
                **extra,
            ),  # fmt: skip
            data,
            seed,
        )
        _finish(task, metrics, out, backbone, budget, data)

    if flip_test:

        def command(
            backbone: str = _BACKBONE,
            arch: str | None = _ARCH,
            data: Path | None = _DATA,
            protocol: str | None = _PROTOCOL,
            budget: str = _BUDGET,
            out: Path | None = _OUT,
            seed: int = _SEED,
            device: str = _DEVICE,
            workers: int | None = _WORKERS,
            amp: str = _AMP,
            flip_test: bool = _FLIP,
        ) -> None:
            run(backbone, arch, data, protocol, budget, out, seed, device, workers, amp, flip_test=flip_test)

    else:

        def command(
            backbone: str = _BACKBONE,
            arch: str | None = _ARCH,
            data: Path | None = _DATA,
            protocol: str | None = _PROTOCOL,
            budget: str = _BUDGET,
            out: Path | None = _OUT,
            seed: int = _SEED,
            device: str = _DEVICE,
            workers: int | None = _WORKERS,
            amp: str = _AMP,
        ) -> None:
            run(backbone, arch, data, protocol, budget, out, seed, device, workers, amp)

    command.__doc__ = help_text
    eval_app.command(task)(command)


def register(eval_app: typer.Typer) -> None:
    """Add the ``pose``, ``parsing`` and ``detection`` commands to the ``saip eval`` group."""

    add_task_command(
        eval_app,
        "pose",
        "Top-down pose on COCO keypoints (GT boxes, ViTPose simple head): OKS AP, AP50, AP75, AR.",
        flip_test=True,
    )

    @eval_app.command("parsing")
    def parsing_cmd(
        backbone: str = _BACKBONE,
        arch: str | None = _ARCH,
        data: Path | None = _DATA,
        protocol: str | None = _PROTOCOL,
        budget: str = _BUDGET,
        out: Path | None = _OUT,
        seed: int = _SEED,
        device: str = _DEVICE,
        workers: int | None = _WORKERS,
        amp: str = _AMP,
        flip_test: bool = _FLIP,
        num_classes: int | None = typer.Option(
            None, "--num-classes", help="Classes (default: 20 LIP or more)."
        ),
    ) -> None:
        """Body-part segmentation on the LIP layout (light decoder): mIoU, pixel and mean class accuracy."""
        from saip.evaluate import parsing

        _check_protocol(protocol)
        runtime = eval_runtime(workers, amp)
        out, device = eval_paths(backbone, out, device)
        metrics = _run(
            "parsing",
            lambda root: parsing.run_task(
                backbone,
                root,
                budget,
                out / "parsing",
                seed,
                device,
                arch,
                protocol=protocol,
                flip_test=flip_test,
                num_classes=num_classes,
                runtime=runtime,
            ),
            data,
            seed,
        )
        _finish("parsing", metrics, out, backbone, budget, data)

    @eval_app.command("detection")
    def detection_cmd(
        backbone: str = _BACKBONE,
        arch: str | None = _ARCH,
        data: Path | None = _DATA,
        protocol: str | None = _PROTOCOL,
        budget: str = _BUDGET,
        out: Path | None = _OUT,
        seed: int = _SEED,
        device: str = _DEVICE,
        workers: int | None = _WORKERS,
        amp: str = _AMP,
        fmt: str = typer.Option(
            "auto", "--format", help="Annotations: auto, coco (instances_*.json) or odgt."
        ),
    ) -> None:
        """Pedestrian detection (COCO boxes or CrowdHuman .odgt; CenterNet head): AP, AP50, MR-2."""
        from saip.evaluate import detection

        _check_protocol(protocol)
        if fmt not in detection.FORMATS:
            raise typer.BadParameter(f"choose from {', '.join(detection.FORMATS)}", param_hint="--format")
        runtime = eval_runtime(workers, amp)
        out, device = eval_paths(backbone, out, device)
        metrics = _run(
            "detection",
            lambda root: detection.run_task(
                backbone,
                root,
                budget,
                out / "detection",
                seed,
                device,
                arch,
                protocol=protocol,
                fmt=fmt,
                runtime=runtime,
            ),  # fmt: skip
            data,
            seed,
        )
        _finish("detection", metrics, out, backbone, budget, data)
