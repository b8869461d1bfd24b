"""Whole-body person landmark detection on COCO-WholeBody (the paper's "landmark detection" task).

The top-down pose protocol of :mod:`saip.evaluate.pose` (ground-truth boxes, affine crops, a
ViTPose heatmap head at stride 4, DARK-style decoding, flip test) with the 133 COCO-WholeBody
keypoints and their mirror pairs (ViTPose's whole-body setting, Xu et al., NeurIPS 2022), scored
with the COCO-WholeBody sigmas per part and for the whole body
(:mod:`saip.evaluate.metrics.wholebody`). Head: ViTPose's simple decoder when the backbone is
fine-tuned; on a frozen backbone (trained on cached features, see
:mod:`saip.evaluate.heads.cached_heatmap_fit`) its classic decoder (two deconvolution blocks, 128
channels), where the simple decoder would be a linear read-out of frozen features.
"""

from __future__ import annotations

import time
from pathlib import Path

from saip.evaluate.budgets import get_budget
from saip.evaluate.datasets.coco_wholebody import load_coco_wholebody, resolve_wholebody_layout
from saip.evaluate.metrics.wholebody import wholebody_keypoint_ap
from saip.evaluate.pose import DEFAULT_INPUT_SIZE, HEAD_BY_PROTOCOL, evaluate_pose
from saip.evaluate.runtime import EvalRuntime
from saip.evaluate.task_record import write_task_record

REPORTED = ("AP", "AR", "body_AP", "foot_AP", "face_AP", "hand_AP")


def run_task(
    backbone_spec: str,
    data_root: Path,
    budget: str,
    out_dir: Path,
    seed: int = 0,
    device: str = "cpu",
    arch: str | None = None,
    protocol: str | None = None,
    flip_test: bool = True,
    runtime: EvalRuntime | None = None,
) -> dict[str, float]:
    """Evaluate ``backbone_spec`` on COCO-WholeBody-layout data at ``data_root`` (or saip's
    ``landmarks/``); writes ``out_dir/landmarks.json`` and returns the whole-body AP/AR and the
    body/foot/face/hand AP (in %) and ``seconds``. ``runtime``: workers, autocast, bars."""
    from saip.evaluate.backbone_loader import load_backbone

    task_budget = get_budget(budget, "landmarks", protocol)
    layout = resolve_wholebody_layout(Path(data_root))
    train, val = (load_coco_wholebody(*layout[s]) for s in ("train", "val"))
    backbone, info = load_backbone(backbone_spec, arch=arch, seed=seed)
    head, hidden = HEAD_BY_PROTOCOL.get(task_budget.protocol, ("simple", 256))
    start = time.perf_counter()
    scores, losses = evaluate_pose(
        backbone, info.mean, info.std, train, val, task_budget, seed, device, flip_test,
        head_kind=head, head_hidden=hidden, score_fn=wholebody_keypoint_ap, runtime=runtime,
    )  # fmt: skip
    metrics = {k: 100.0 * scores[k] for k in REPORTED}
    metrics["seconds"] = time.perf_counter() - start
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_task_record(
        out_dir,
        "landmarks",
        dataset=str(layout["val"][0]),
        backbone=info.source,
        budget=budget,
        task_budget=task_budget,
        input_size=list(task_budget.img_size or DEFAULT_INPUT_SIZE),
        seed=seed,
        metrics=metrics,
        scores=scores,
        losses=losses,
        head=head,
        flip_test=flip_test,
    )
    return metrics
