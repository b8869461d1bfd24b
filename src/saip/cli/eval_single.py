"""``saip eval reid`` and ``saip eval attributes``: single-person discrimination tasks."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from saip.cli.eval_dense import (
    _AMP,
    _ARCH,
    _BACKBONE,
    _BUDGET,
    _DATA,
    _DEVICE,
    _OUT,
    _SEED,
    _WORKERS,
    _finish,
    _resolve_data,
    eval_paths,
    eval_runtime,
)


def register(eval_app: typer.Typer) -> None:
    """Add the ``reid`` and ``attributes`` commands to the ``saip eval`` group."""

    @eval_app.command("reid")
    def reid_cmd(
        backbone: str = _BACKBONE,
        arch: str | None = _ARCH,
        data: Path | None = _DATA,
        protocol: str | None = typer.Option(
            None, "--protocol", help="knn or finetune (default: the budget's)."
        ),
        pooling: str = typer.Option("token", "--pooling", help="kNN feature: token, mean or concat."),
        budget: str = _BUDGET,
        out: Path | None = _OUT,
        seed: int = _SEED,
        device: str = _DEVICE,
        workers: int | None = _WORKERS,
        amp: str = _AMP,
    ) -> None:
        """Person ReID (Market-1501/MSMT17 layout): mAP and CMC Rank-1/5/10."""
        from saip.evaluate import reid

        if protocol is not None and protocol not in reid.PROTOCOLS:
            raise typer.BadParameter(f"choose from {', '.join(reid.PROTOCOLS)}", param_hint="--protocol")
        runtime = eval_runtime(workers, amp)
        out, device = eval_paths(backbone, out, device)
        metrics = reid.run_task(
            backbone,
            _resolve_data(data, seed),
            budget,
            out / "reid",
            seed,
            device,
            arch,
            protocol=protocol,
            pooling=pooling,
            runtime=runtime,
        )
        _finish("reid", metrics, out, backbone, budget, data)

    @eval_app.command("attributes")
    def attributes_cmd(
        backbone: str = _BACKBONE,
        arch: str | None = _ARCH,
        data: Path | None = _DATA,
        protocol: str | None = typer.Option(
            None, "--protocol", help="linear or finetune (default: the budget's)."
        ),
        budget: str = _BUDGET,
        out: Path | None = _OUT,
        seed: int = _SEED,
        device: str = _DEVICE,
        workers: int | None = _WORKERS,
        amp: str = _AMP,
    ) -> None:
        """Pedestrian attribute recognition (attributes.csv table): mA, accuracy, precision, recall, F1."""
        from saip.evaluate import attributes

        if protocol is not None and protocol not in attributes.PROTOCOLS:
            raise typer.BadParameter(
                f"choose from {', '.join(attributes.PROTOCOLS)}", param_hint="--protocol"
            )
        runtime = eval_runtime(workers, amp)
        out, device = eval_paths(backbone, out, device)
        metrics = attributes.run_task(
            backbone,
            _resolve_data(data, seed),
            budget,
            out / "attributes",
            seed,
            device,
            arch,
            protocol=protocol,
            runtime=runtime,
        )
        _finish("attributes", metrics, out, backbone, budget, data)

    @eval_app.command("probe")
    def probe_cmd(
        backbone: str = _BACKBONE,
        arch: str | None = _ARCH,
        data: Path | None = typer.Option(
            None,
            "--data",
            help="Market-1501 folder (attribute table optional); default: held-out synthetic ids.",
        ),
        max_images: int = typer.Option(600, "--max-images", help="ReID query + gallery images at most."),
        pooling: str = typer.Option("token", "--pooling", help="Image feature: token, mean or concat."),
        out: Path | None = typer.Option(
            None, "--out", help="Output folder for probe.json [default: RUN/eval/probe, else eval-out/...]."
        ),
        seed: int = _SEED,
        device: str = _DEVICE,
        workers: int | None = _WORKERS,
        amp: str = _AMP,
    ) -> None:
        """The built-in probe of `saip pretrain` on any backbone: kNN ReID mAP/Rank-1 and linear attribute
        mA, trained vs the same architecture at random init (writes probe.json)."""
        from saip.evaluate.backbone_loader import load_backbone
        from saip.evaluate.features import POOLINGS
        from saip.evaluate.probe import format_probe_table, probe_verdict, run_probe

        if data is not None and not data.exists():
            raise typer.BadParameter(f"data folder not found: {data}", param_hint="--data")
        if pooling not in POOLINGS:
            raise typer.BadParameter(f"choose from {', '.join(POOLINGS)}", param_hint="--pooling")
        runtime = eval_runtime(workers, amp)
        out, device = eval_paths(backbone, out, device)
        out = out / "probe"
        model, info = load_backbone(backbone, arch=arch, seed=seed)
        result = run_probe(
            model,
            info,
            data_root=data,
            seed=seed,
            device=device,
            max_images=max_images,
            img_size=info.img_size,
            pooling=pooling,  # type: ignore[arg-type]
            runtime=runtime,
        )
        out.mkdir(parents=True, exist_ok=True)
        (out / "probe.json").write_text(json.dumps(result, indent=2) + "\n")
        typer.echo(format_probe_table(result))
        verdict = probe_verdict(result)
        if verdict:
            typer.echo(verdict)
