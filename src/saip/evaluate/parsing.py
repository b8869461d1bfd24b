"""Human body-part segmentation on the LIP layout (Gong et al., CVPR 2017).

Images and masks are resized to a fixed input (default 256×128 for single-person crops; the
paper budget uses SCHP's 576×384); a light decoder (:class:`~saip.evaluate.heads.SegmentationHead`)
on the stride-16 grid predicts per-pixel class logits at the input size, trained with
cross-entropy (label 255 ignored). Evaluation accumulates one confusion matrix over the
validation set at the input size (optionally averaged with the flipped prediction, left/right
classes swapped) and reports mIoU, pixel accuracy and mean class accuracy
(:mod:`saip.evaluate.metrics.segmentation` documents the definitions).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from saip.evaluate.budgets import TaskBudget, get_budget
from saip.evaluate.datasets.lip import (
    IGNORE_INDEX,
    LIP_CLASSES,
    LIP_FLIP_PAIRS,
    ParsingDataset,
    ParsingSample,
    list_lip_split,
)
from saip.evaluate.heads.cached_fit import input_size
from saip.evaluate.heads.finetune import PROTOCOLS, DenseModel, fit
from saip.evaluate.heads.segmentation import SegmentationHead
from saip.evaluate.metrics.segmentation import confusion_matrix, segmentation_scores
from saip.evaluate.runtime import EvalRuntime, resolve_runtime
from saip.evaluate.task_record import write_task_record

DEFAULT_INPUT_SIZE = (256, 128)


@torch.no_grad()
def parsing_confusion(
    model: nn.Module,
    dataset: ParsingDataset,
    num_classes: int,
    flip_test: bool = True,
    flip_pairs: list[tuple[int, int]] | None = None,
    batch_size: int = 16,
    device: str = "cpu",
    runtime: EvalRuntime | None = None,
) -> torch.Tensor:
    """Confusion matrix ``(C, C)`` of the model's predictions on ``dataset`` (at the input size)."""
    runtime = resolve_runtime(runtime)
    model.eval()
    swap = list(range(num_classes))
    for a, b in flip_pairs if flip_pairs is not None else LIP_FLIP_PAIRS:
        if a < num_classes and b < num_classes:
            swap[a], swap[b] = b, a
    hist = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    loader = runtime.loader(dataset, batch_size=batch_size, device=device)
    for batch in runtime.bar(loader, "predict", total=len(loader)):
        images = batch["image"].to(device, non_blocking=True)
        size = images.shape[-2:]
        with runtime.autocast(device):
            probs = F.softmax(model(images, size).float(), dim=1)
            if flip_test:
                mirrored = F.softmax(model(images.flip(-1), size).float(), dim=1)
                probs = 0.5 * (probs + mirrored.flip(-1)[:, swap])
        hist += confusion_matrix(probs.argmax(1).cpu(), batch["mask"], num_classes, IGNORE_INDEX)
    return hist


def evaluate_parsing(
    backbone: nn.Module,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    train_samples: list[ParsingSample],
    val_samples: list[ParsingSample],
    budget: TaskBudget,
    num_classes: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    flip_test: bool = True,
    runtime: EvalRuntime | None = None,
) -> tuple[dict[str, float], list[float]]:
    """Train the light decoder (and the backbone, protocol ``finetune``) on ``train_samples``; return
    the segmentation scores on ``val_samples`` (in [0, 1]) and the training losses (``runtime``:
    loader workers, autocast, progress bars).

    ``num_classes`` defaults to LIP's 20, or more if the masks hold larger ids (the synthetic
    data adds class 20 "Bag").
    """
    if budget.protocol not in PROTOCOLS:
        raise ValueError(f"unknown parsing protocol {budget.protocol!r}; choose from {', '.join(PROTOCOLS)}")
    size = tuple(budget.img_size or DEFAULT_INPUT_SIZE)
    rng = np.random.default_rng(seed)
    if budget.max_train_images is not None and len(train_samples) > budget.max_train_images:
        train_samples = [
            train_samples[i]
            for i in sorted(rng.choice(len(train_samples), budget.max_train_images, replace=False))
        ]
    if budget.max_eval_images is not None:
        val_samples = val_samples[: budget.max_eval_images]
    train_set = ParsingDataset(train_samples, size, mean, std, train=True, seed=seed)
    val_set = ParsingDataset(val_samples, size, mean, std)
    seen = max(train_set.max_label(), val_set.max_label()) + 1
    if num_classes is None:
        num_classes = max(len(LIP_CLASSES), seen)
    elif seen > num_classes:
        raise ValueError(f"masks contain class id {seen - 1} but num_classes is {num_classes}")
    torch.manual_seed(seed)
    model = DenseModel(
        backbone,
        SegmentationHead(backbone.embed_dim, num_classes),
        freeze_backbone=budget.protocol == "frozen",
    ).to(device)

    def loss_fn(m: DenseModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        images = batch["image"].to(device)
        logits = m(images, input_size(batch))
        return F.cross_entropy(logits, batch["mask"].to(device), ignore_index=IGNORE_INDEX)

    losses = fit(model, train_set, budget, loss_fn, seed=seed, task="parsing", runtime=runtime)
    hist = parsing_confusion(model, val_set, num_classes, flip_test=flip_test, device=device, runtime=runtime)
    return segmentation_scores(hist), losses


def resolve_lip_root(root: Path) -> Path:
    """The LIP-layout folder: ``root/parsing`` for a saip data root, else ``root`` itself."""
    root = Path(root)
    base = root / "parsing" if (root / "parsing").is_dir() else root
    if not (base / "train_images").is_dir():
        raise FileNotFoundError(
            f"{base}: not a LIP layout (expected train_images/, train_segmentations/, "
            "val_images/, val_segmentations/)"
        )
    return base


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
    num_classes: int | None = None,
    runtime: EvalRuntime | None = None,
) -> dict[str, float]:
    """Evaluate ``backbone_spec`` on LIP-layout part segmentation at ``data_root``; writes
    ``out_dir/parsing.json`` and returns mIoU, pixel_acc, mean_acc (in %) and ``seconds``.
    ``runtime``: loader workers, autocast and progress bars."""
    from saip.evaluate.backbone_loader import load_backbone

    task_budget = get_budget(budget, "parsing", protocol)
    base = resolve_lip_root(Path(data_root))
    train_samples, val_samples = list_lip_split(base, "train"), list_lip_split(base, "val")
    backbone, info = load_backbone(backbone_spec, arch=arch, seed=seed)
    start = time.perf_counter()
    scores, losses = evaluate_parsing(
        backbone,
        info.mean,
        info.std,
        train_samples,
        val_samples,
        task_budget,
        num_classes,
        seed,
        device,
        flip_test,
        runtime=runtime,
    )
    metrics = {k: 100.0 * scores[k] for k in ("mIoU", "pixel_acc", "mean_acc")}
    metrics["seconds"] = time.perf_counter() - start
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_task_record(
        out_dir,
        "parsing",
        dataset=str(base),
        backbone=info.source,
        budget=budget,
        task_budget=task_budget,
        input_size=list(task_budget.img_size or DEFAULT_INPUT_SIZE),
        seed=seed,
        metrics=metrics,
        scores=scores,
        losses=losses,
        flip_test=flip_test,
    )
    return metrics
