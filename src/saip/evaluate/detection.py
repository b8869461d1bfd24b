"""Pedestrian detection with a one-class CenterNet head on the backbone (CrowdHuman / COCO boxes).

Images are letterboxed to a square input (default 320×320); the head
(:mod:`saip.evaluate.heads.dense_detector`) predicts centre heatmaps, sizes and offsets at
stride 4 from the backbone's stride-16 map. Detections (3×3 peak extraction, top-100, greedy
NMS at IoU 0.6 with :func:`saip.evaluate.box_ops.nms`) are mapped back to image pixels and
scored with COCO box AP/AP50 (pycocotools) and the log-average miss rate MR⁻² (Dollár et al.,
TPAMI 2012), as CrowdHuman reports (Shao et al., 2018).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from saip.evaluate.box_ops import xyxy_to_xywh
from saip.evaluate.budgets import TaskBudget, get_budget
from saip.evaluate.datasets.detection import (
    DetectionImage,
    LetterboxDataset,
    collate_detection,
    load_coco_detection,
    load_odgt,
    to_coco_ground_truth,
)
from saip.evaluate.heads.dense_detector import (
    CenterNetHead,
    centernet_loss,
    centernet_targets,
    decode_centernet,
)
from saip.evaluate.heads.finetune import PROTOCOLS, DenseModel, fit
from saip.evaluate.metrics.detection import ImageDetections, coco_box_ap, log_average_miss_rate
from saip.evaluate.runtime import EvalRuntime, resolve_runtime

DEFAULT_INPUT_SIZE = 320
FORMATS = ("auto", "coco", "odgt")


def to_image_boxes(
    boxes: torch.Tensor, scale: float, offset: tuple[float, float], size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Letterboxed-input ``xyxy`` boxes → image pixels, clipped to the image ``(H, W)``; also the mask
    of boxes left with a positive area."""
    (dx, dy), (h, w) = offset, size
    boxes = (boxes - torch.tensor([dx, dy, dx, dy])) / scale
    boxes = torch.stack(
        [boxes[:, 0].clamp(0, w), boxes[:, 1].clamp(0, h), boxes[:, 2].clamp(0, w), boxes[:, 3].clamp(0, h)],
        dim=-1,
    )
    return boxes, (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])


@torch.no_grad()
def predict_boxes(
    model: nn.Module,
    dataset: LetterboxDataset,
    batch_size: int = 8,
    device: str = "cpu",
    runtime: EvalRuntime | None = None,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per image of ``dataset``: ``(boxes xyxy in image pixels, scores)``, clipped to the image."""
    runtime = resolve_runtime(runtime)
    model.eval()
    predictions: list[tuple[torch.Tensor, torch.Tensor]] = []
    loader = runtime.loader(dataset, batch_size=batch_size, collate_fn=collate_detection, device=device)
    for batch in runtime.bar(loader, "predict", total=len(loader)):
        with runtime.autocast(device):
            raw = model(batch["image"].to(device, non_blocking=True))
        outputs = {k: v.float().cpu() for k, v in raw.items()}
        for (boxes, scores), scale, offset, index in zip(
            decode_centernet(outputs), batch["scale"], batch["offset"], batch["index"], strict=True
        ):
            boxes, valid = to_image_boxes(boxes, scale, offset, dataset.records[index].size)
            predictions.append((boxes[valid], scores[valid]))
    return predictions


def detection_scores(
    records: list[DetectionImage], predictions: list[tuple[torch.Tensor, torch.Tensor]]
) -> dict[str, float]:
    """AP, AP50, AP75 (pycocotools) and MR⁻² (all in [0, 1]) of per-image predictions."""
    results: list[dict[str, Any]] = []
    images = []
    for record, (boxes, scores) in zip(records, predictions, strict=True):
        for box, score in zip(xyxy_to_xywh(boxes).tolist(), scores.tolist(), strict=True):
            results.append(
                {"image_id": record.image_id, "category_id": 1, "bbox": box, "score": float(score)}
            )
        images.append(ImageDetections(record.boxes, record.ignore, boxes, scores))
    metrics = coco_box_ap(to_coco_ground_truth(records), results)
    metrics["MR-2"] = log_average_miss_rate(images)
    return metrics


def evaluate_detection(
    backbone: nn.Module,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    train_records: list[DetectionImage],
    val_records: list[DetectionImage],
    budget: TaskBudget,
    seed: int = 0,
    device: str = "cpu",
    runtime: EvalRuntime | None = None,
) -> tuple[dict[str, float], list[float]]:
    """Train the CenterNet head (and the backbone, protocol ``finetune``) on ``train_records``; return
    AP/AP50/AP75/MR⁻² on ``val_records`` (in [0, 1]) and the training losses (``runtime``: loader
    workers, autocast, progress bars)."""
    if budget.protocol not in PROTOCOLS:
        raise ValueError(
            f"unknown detection protocol {budget.protocol!r}; choose from {', '.join(PROTOCOLS)}"
        )
    size = max(budget.img_size) if budget.img_size else DEFAULT_INPUT_SIZE
    if size % 16:
        raise ValueError(f"detection input size {size} is not a multiple of 16")
    rng = np.random.default_rng(seed)
    if budget.max_train_images is not None and len(train_records) > budget.max_train_images:
        train_records = [
            train_records[i]
            for i in sorted(rng.choice(len(train_records), budget.max_train_images, replace=False))
        ]
    if budget.max_eval_images is not None:
        val_records = val_records[: budget.max_eval_images]
    torch.manual_seed(seed)
    model = DenseModel(
        backbone, CenterNetHead(backbone.embed_dim), freeze_backbone=budget.protocol == "frozen"
    )
    model = model.to(device)
    map_size = (size // 4, size // 4)

    def loss_fn(m: DenseModel, batch: dict[str, Any]) -> torch.Tensor:
        outputs = m(batch["image"].to(device))
        targets = {k: v.to(device) for k, v in centernet_targets(batch["boxes"], map_size).items()}
        return centernet_loss(outputs, targets)

    train_set = LetterboxDataset(train_records, size, mean, std, train=True, seed=seed)
    losses = fit(
        model, train_set, budget, loss_fn, seed=seed, collate_fn=collate_detection, task="detection",
        runtime=runtime,
    )  # fmt: skip
    val_set = LetterboxDataset(val_records, size, mean, std)
    predictions = predict_boxes(model, val_set, device=device, runtime=runtime)
    return detection_scores(val_records, predictions), losses


def load_detection_split(root: Path, split: str, fmt: str = "auto") -> list[DetectionImage]:
    """Records of ``split`` from a saip data root (``detection/``) or a detection folder.

    COCO: ``annotations/instances_{split}.json`` + ``images/{split}/``; CrowdHuman:
    ``annotation_{split}.odgt`` + ``images/{split}/`` (or ``Images/``). ``fmt="auto"`` prefers COCO.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown detection format {fmt!r}; choose from {', '.join(FORMATS)}")
    root = Path(root)
    base = root / "detection" if (root / "detection").is_dir() else root
    image_dir = next(
        (p for p in (base / "images" / split, base / "Images") if p.is_dir()), base / "images" / split
    )
    coco_file, odgt_file = base / "annotations" / f"instances_{split}.json", base / f"annotation_{split}.odgt"
    if fmt in ("auto", "coco") and coco_file.is_file():
        return load_coco_detection(coco_file, image_dir)
    if fmt in ("auto", "odgt") and odgt_file.is_file():
        return load_odgt(odgt_file, image_dir)
    raise FileNotFoundError(
        f"{base}: no detection annotations for split {split!r} (expected "
        f"annotations/instances_{split}.json or annotation_{split}.odgt)"
    )


def run_task(
    backbone_spec: str,
    data_root: Path,
    budget: str,
    out_dir: Path,
    seed: int = 0,
    device: str = "cpu",
    arch: str | None = None,
    protocol: str | None = None,
    fmt: str = "auto",
    runtime: EvalRuntime | None = None,
) -> dict[str, float]:
    """Evaluate ``backbone_spec`` on pedestrian detection at ``data_root``; writes ``out_dir/detection.json``
    and returns AP, AP50, MR-2 (in %) and ``seconds``. ``runtime``: workers, autocast, bars."""
    from saip.evaluate.backbone_loader import load_backbone

    task_budget = get_budget(budget, "detection", protocol)
    train_records = load_detection_split(Path(data_root), "train", fmt)
    val_records = load_detection_split(Path(data_root), "val", fmt)
    backbone, info = load_backbone(backbone_spec, arch=arch, seed=seed)
    start = time.perf_counter()
    scores, losses = evaluate_detection(
        backbone, info.mean, info.std, train_records, val_records, task_budget, seed, device, runtime
    )
    metrics = {k: 100.0 * scores[k] for k in ("AP", "AP50", "MR-2")}
    metrics["seconds"] = time.perf_counter() - start
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "task": "detection",
        "dataset": str(Path(data_root)),
        "backbone": info.source,
        "protocol": task_budget.protocol,
        "input_size": max(task_budget.img_size or (DEFAULT_INPUT_SIZE,)),
        "budget": budget,
        "budget_settings": asdict(task_budget),
        "seed": seed,
        "format": fmt,
        "metrics": metrics,
        "all_metrics": scores,
        "train_loss": losses,
    }
    (out_dir / "detection.json").write_text(json.dumps(record, indent=2))
    return metrics
