"""Part-level attribute parsing on the Fashionpedia layout (Jia et al., ECCV 2020, "Fashionpedia:
Ontology, Segmentation, and an Attribute Localization Dataset").

Images are letterboxed to a square input as in pedestrian detection (the quick budget letterboxes
the 384×512 scenes to 512² and trains on random 256² crops, ``TaskBudget.train_crop``); the head
(:class:`~saip.evaluate.heads.attribute_detector.AttributeCenterNetHead`) detects garments and parts
of every category and classifies each box's attributes (multi-label, probability > 0.5).
Detections are mapped back to image pixels and scored with Fashionpedia's AP^box under the
IoU + F1 criterion and plain box AP (:mod:`saip.evaluate.metrics.attribute_detection`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from saip.evaluate.box_ops import xyxy_to_xywh
from saip.evaluate.budgets import TaskBudget, get_budget
from saip.evaluate.datasets.box_crop import RandomBoxCrop
from saip.evaluate.datasets.detection import LetterboxDataset, collate_detection
from saip.evaluate.datasets.fashionpedia import FashionpediaSplit, load_fashionpedia_split
from saip.evaluate.detection import to_image_boxes
from saip.evaluate.heads.attribute_detector import (
    AttributeCenterNetHead,
    attribute_detector_loss,
    decode_attribute_detections,
)
from saip.evaluate.heads.finetune import PROTOCOLS, DenseModel, fit
from saip.evaluate.metrics.attribute_detection import fashionpedia_ap
from saip.evaluate.runtime import EvalRuntime, resolve_runtime
from saip.evaluate.task_record import write_task_record

DEFAULT_INPUT_SIZE = 512


def subset(split: FashionpediaSplit, indices: list[int]) -> FashionpediaSplit:
    """The images ``indices`` of ``split``, with the ground-truth dict restricted to them."""
    keep = {split.records[i].image_id for i in indices}
    gt = dict(split.ground_truth)
    gt["images"] = [img for img in gt["images"] if img["id"] in keep]
    gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] in keep]
    return FashionpediaSplit(
        [split.records[i] for i in indices],
        [split.labels[i] for i in indices],
        [split.attributes[i] for i in indices],
        split.category_ids,
        split.attribute_ids,
        gt,
    )


def collate_kept(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """:func:`collate_detection` plus ``kept``: the indices of each image's boxes left after cropping."""
    out = collate_detection(batch)
    out["kept"] = [b.get("kept", torch.arange(len(b["boxes"]))) for b in batch]
    return out


@torch.no_grad()
def predict_garments(
    model: nn.Module,
    split: FashionpediaSplit,
    dataset: LetterboxDataset,
    batch_size: int = 8,
    device: str = "cpu",
    runtime: EvalRuntime | None = None,
) -> list[dict[str, Any]]:
    """COCO bbox results (image pixels) with ``attribute_ids`` for every image of ``split``."""
    runtime = resolve_runtime(runtime)
    model.eval()
    results: list[dict[str, Any]] = []
    loader = runtime.loader(dataset, batch_size=batch_size, collate_fn=collate_detection, device=device)
    for batch in runtime.bar(loader, "predict", total=len(loader)):
        with runtime.autocast(device):
            outputs = model(batch["image"].to(device, non_blocking=True))
        decoded = decode_attribute_detections(outputs)
        for (peaks, attributes), scale, offset, index in zip(
            decoded, batch["scale"], batch["offset"], batch["index"], strict=True
        ):
            record = split.records[index]
            boxes, valid = to_image_boxes(peaks.boxes, scale, offset, record.size)
            for box, score, label, attrs in zip(
                xyxy_to_xywh(boxes[valid]).tolist(),
                peaks.scores[valid].tolist(),
                peaks.labels[valid].tolist(),
                attributes[valid],
                strict=True,
            ):
                results.append(
                    {
                        "image_id": record.image_id,
                        "category_id": split.category_ids[label],
                        "bbox": box,
                        "score": float(score),
                        "attribute_ids": [
                            split.attribute_ids[j] for j in torch.nonzero(attrs).flatten().tolist()
                        ],
                    }
                )
    return results


def evaluate_pap(
    backbone: nn.Module,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    train: FashionpediaSplit,
    val: FashionpediaSplit,
    budget: TaskBudget,
    seed: int = 0,
    device: str = "cpu",
    runtime: EvalRuntime | None = None,
) -> tuple[dict[str, float], list[float]]:
    """Train the attribute detector (and the backbone, protocol ``finetune``) on ``train``; return the
    Fashionpedia scores on ``val`` (in [0, 1]) and the training losses (``runtime``: loader workers,
    autocast, progress bars)."""
    if budget.protocol not in PROTOCOLS:
        raise ValueError(f"unknown pap protocol {budget.protocol!r}; choose from {', '.join(PROTOCOLS)}")
    if train.category_ids != val.category_ids or train.attribute_ids != val.attribute_ids:
        raise ValueError("train and val annotations list different categories or attributes")
    size = max(budget.img_size) if budget.img_size else DEFAULT_INPUT_SIZE
    if size % 16:
        raise ValueError(f"pap input size {size} is not a multiple of 16")
    rng = np.random.default_rng(seed)
    if budget.max_train_images is not None and len(train.records) > budget.max_train_images:
        train = subset(train, sorted(rng.choice(len(train.records), budget.max_train_images, replace=False)))
    if budget.max_eval_images is not None and len(val.records) > budget.max_eval_images:
        val = subset(val, list(range(budget.max_eval_images)))
    torch.manual_seed(seed)
    head = AttributeCenterNetHead(backbone.embed_dim, len(train.category_ids), len(train.attribute_ids))
    model = DenseModel(backbone, head, freeze_backbone=budget.protocol == "frozen").to(device)

    def loss_fn(m: DenseModel, batch: dict[str, Any]) -> torch.Tensor:
        outputs = m(batch["image"].to(device))
        pairs = list(zip(batch["index"], batch["kept"], strict=True))
        labels = [train.labels[i][kept] for i, kept in pairs]
        attributes = [train.attributes[i][kept] for i, kept in pairs]
        return attribute_detector_loss(outputs, batch["boxes"], labels, attributes)

    train_set: Dataset = LetterboxDataset(train.records, size, mean, std, train=True, seed=seed)
    if budget.train_crop:
        crop = tuple(budget.train_crop)
        if crop[0] % 16 or crop[1] % 16:
            raise ValueError(f"pap training crop {crop} is not a multiple of 16")
        train_set = RandomBoxCrop(train_set, crop, seed=seed)
    losses = fit(
        model, train_set, budget, loss_fn, seed=seed, collate_fn=collate_kept, task="pap", runtime=runtime
    )
    val_set = LetterboxDataset(val.records, size, mean, std)
    results = predict_garments(model, val, val_set, device=device, runtime=runtime)
    return fashionpedia_ap(val.ground_truth, results), losses


def run_task(
    backbone_spec: str,
    data_root: Path,
    budget: str,
    out_dir: Path,
    seed: int = 0,
    device: str = "cpu",
    arch: str | None = None,
    protocol: str | None = None,
    runtime: EvalRuntime | None = None,
) -> dict[str, float]:
    """Evaluate ``backbone_spec`` on Fashionpedia-layout attribute parsing at ``data_root``; writes
    ``out_dir/pap.json`` and returns AP_iou_f1, AP_iou50_f150, AP, AP50 (in %) and ``seconds``.
    ``runtime``: loader workers, autocast and progress bars."""
    from saip.evaluate.backbone_loader import load_backbone

    task_budget = get_budget(budget, "pap", protocol)
    train = load_fashionpedia_split(Path(data_root), "train")
    val = load_fashionpedia_split(Path(data_root), "val")
    backbone, info = load_backbone(backbone_spec, arch=arch, seed=seed)
    start = time.perf_counter()
    scores, losses = evaluate_pap(
        backbone, info.mean, info.std, train, val, task_budget, seed, device, runtime
    )
    metrics = {k: 100.0 * scores[k] for k in ("AP_iou_f1", "AP_iou50_f150", "AP", "AP50")}
    metrics["seconds"] = time.perf_counter() - start
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_task_record(
        out_dir,
        "pap",
        dataset=str(Path(data_root)),
        backbone=info.source,
        budget=budget,
        task_budget=task_budget,
        input_size=max(task_budget.img_size or (DEFAULT_INPUT_SIZE,)),
        seed=seed,
        metrics=metrics,
        scores=scores,
        losses=losses,
    )
    return metrics
