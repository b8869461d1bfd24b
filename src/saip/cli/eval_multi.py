"""``saip eval mhp|pap``: the multi-person parsing tasks (CIHP and Fashionpedia layouts)."""

from __future__ import annotations

from pathlib import Path

import typer

from saip.cli.eval_dense import (
    _ARCH,
    _BACKBONE,
    _BUDGET,
    _DATA,
    _DEVICE,
    _OUT,
    _PROTOCOL,
    _SEED,
    _check_protocol,
    _finish,
    _run,
)


def register(eval_app: typer.Typer) -> None:
    """Add the ``mhp`` and ``pap`` commands to the ``saip eval`` group."""

    @eval_app.command("mhp")
    def mhp_cmd(
        backbone: str = _BACKBONE,
        arch: str | None = _ARCH,
        data: Path | None = _DATA,
        protocol: str | None = _PROTOCOL,
        budget: str = _BUDGET,
        out: Path = _OUT,
        seed: int = _SEED,
        device: str = _DEVICE,
    ) -> None:
        """Multiple human parsing on the CIHP layout (parts + centre grouping): mIoU, APp50, APp_vol."""
        from saip.evaluate import mhp

        _check_protocol(protocol)
        metrics = _run(
            "mhp",
            lambda root: mhp.run_task(backbone, root, budget, out, seed, device, arch, protocol=protocol),
            data,
            seed,
        )
        _finish("mhp", metrics, out)

    @eval_app.command("pap")
    def pap_cmd(
        backbone: str = _BACKBONE,
        arch: str | None = _ARCH,
        data: Path | None = _DATA,
        protocol: str | None = _PROTOCOL,
        budget: str = _BUDGET,
        out: Path = _OUT,
        seed: int = _SEED,
        device: str = _DEVICE,
    ) -> None:
        """Part-level attribute parsing on the Fashionpedia layout: AP (IoU + F1), box AP, AP50."""
        from saip.evaluate import pap

        _check_protocol(protocol)
        metrics = _run(
            "pap",
            lambda root: pap.run_task(backbone, root, budget, out, seed, device, arch, protocol=protocol),
            data,
            seed,
        )
        _finish("pap", metrics, out)
