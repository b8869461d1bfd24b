"""``saip eval t2i|landmarks``: text-to-image person retrieval and whole-body landmark detection."""

from __future__ import annotations

import typer

from saip.cli.eval_dense import add_task_command


def register(eval_app: typer.Typer) -> None:
    """Add the ``t2i`` and ``landmarks`` commands to the ``saip eval`` group."""
    add_task_command(
        eval_app,
        "t2i",
        "Text-to-image person retrieval (CUHK-PEDES reid_raw.json, ICFG-PEDES or RSTPReid JSON; IRRA "
        "protocol, SDM + ID loss, text encoder trained from scratch): Rank-1/5/10, mAP, mINP.",
    )
    add_task_command(
        eval_app,
        "landmarks",
        "Whole-body landmarks on COCO-WholeBody (133 keypoints, GT boxes, ViTPose heatmap head): whole-body "
        "AP/AR and body/foot/face/hand AP.",
        flip_test=True,
    )
