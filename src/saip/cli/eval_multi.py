"""``saip eval mhp|pap``: the multi-person parsing tasks (CIHP and Fashionpedia layouts)."""

from __future__ import annotations

import typer

from saip.cli.eval_dense import add_task_command


def register(eval_app: typer.Typer) -> None:
    """Add the ``mhp`` and ``pap`` commands to the ``saip eval`` group."""
    add_task_command(
        eval_app,
        "mhp",
        "Multiple human parsing on the CIHP layout (parts + centre grouping): mIoU, APp50, APp_vol.",
    )
    add_task_command(
        eval_app,
        "pap",
        "Part-level attribute parsing on the Fashionpedia layout: AP (IoU + F1), box AP, AP50.",
    )
