"""``saip eval t2i|landmarks``: text-to-image person retrieval and whole-body landmark detection."""

from __future__ import annotations

from pathlib import Path

import typer

from saip.cli.eval_dense import _ARCH, _BACKBONE, _BUDGET, _DATA, _DEVICE, _FLIP, _OUT, _SEED, _finish, _run


def _check(protocol: str | None, choices: tuple[str, ...]) -> None:
    if protocol is not None and protocol not in choices:
        raise typer.BadParameter(f"choose from {', '.join(choices)}", param_hint="--protocol")


def register(eval_app: typer.Typer) -> None:
    """Add the ``t2i`` and ``landmarks`` commands to the ``saip eval`` group."""

    @eval_app.command("t2i")
    def t2i_cmd(
        backbone: str = _BACKBONE,
        arch: str | None = _ARCH,
        data: Path | None = _DATA,
        protocol: str | None = typer.Option(
            None, "--protocol", help="finetune (IRRA) or frozen (default: the budget's)."
        ),
        budget: str = _BUDGET,
        out: Path = _OUT,
        seed: int = _SEED,
        device: str = _DEVICE,
    ) -> None:
        """Text-to-image person retrieval (CUHK-PEDES reid_raw.json, ICFG-PEDES or RSTPReid JSON; IRRA
        protocol, SDM + ID loss, text encoder trained from scratch): Rank-1/5/10, mAP, mINP."""
        from saip.evaluate import t2i

        _check(protocol, t2i.PROTOCOLS)
        metrics = _run(
            "t2i",
            lambda root: t2i.run_task(backbone, root, budget, out, seed, device, arch, protocol=protocol),
            data,
            seed,
        )
        _finish("t2i", metrics, out)

    @eval_app.command("landmarks")
    def landmarks_cmd(
        backbone: str = _BACKBONE,
        arch: str | None = _ARCH,
        data: Path | None = _DATA,
        protocol: str | None = typer.Option(
            None, "--protocol", help="finetune or frozen (default: the budget's)."
        ),
        budget: str = _BUDGET,
        out: Path = _OUT,
        seed: int = _SEED,
        device: str = _DEVICE,
        flip_test: bool = _FLIP,
    ) -> None:
        """Whole-body landmarks on COCO-WholeBody (133 keypoints, GT boxes, ViTPose heatmap head):
        whole-body AP/AR and body/foot/face/hand AP."""
        from saip.evaluate import landmarks
        from saip.evaluate.heads.finetune import PROTOCOLS

        _check(protocol, PROTOCOLS)
        metrics = _run(
            "landmarks",
            lambda root: landmarks.run_task(
                backbone, root, budget, out, seed, device, arch, protocol=protocol, flip_test=flip_test
            ),
            data,
            seed,
        )
        _finish("landmarks", metrics, out)
