"""The ``frozen`` dense protocol on cached features: one backbone pass per augmented view.

With a frozen backbone, :func:`saip.evaluate.heads.finetune.fit` spends almost all of a step in the
backbone's forward pass, so a CPU budget buys only a few dozen head updates. The linear-probe recipe
of DINO/MAE (features computed once, the read-out trained on them) applies to dense heads too: the
training set is run ``budget.feature_passes`` times through its own augmentation (flips, scales,
crops — each pass a new draw, exactly the batches ``fit`` would see first), the backbone's stride-16
features of every batch are kept (float16, on the CPU) with the batch's targets, and the head is then
trained for ``budget.total_steps`` steps on batches drawn from that cache (uniformly, with
replacement, seeded). Each cached view is seen ``steps / (passes · batches per pass)`` times instead of
once: more optimisation for the same backbone compute, less augmentation diversity.

Memory: ``passes · N · D · (H/16) · (W/16)`` half-precision values for ``N`` training images of
``H × W`` (e.g. 4 passes × 200 images × 1280 × 20 × 20 ≈ 0.8 GB for detection at 320²).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from saip.evaluate.budgets import TaskBudget
from saip.evaluate.heads.finetune import DenseModel, training_loader
from saip.evaluate.optimise import optimise
from saip.evaluate.runtime import EvalRuntime, resolve_runtime

INPUT_SIZE_KEY = "input_size"


class CachedFeatureModel(DenseModel):
    """``head(grid)`` for batches whose ``"image"`` already holds the backbone's feature grid."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__(nn.Identity(), head, freeze_backbone=True)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return images.float()


def input_size(batch: dict[str, Any]) -> tuple[int, int]:
    """``(H, W)`` of the images a batch was made from: the cached size for a batch of features."""
    if INPUT_SIZE_KEY in batch:
        return tuple(batch[INPUT_SIZE_KEY])
    return tuple(batch["image"].shape[-2:])


@torch.no_grad()
def cache_batches(
    model: DenseModel,
    dataset: Dataset,
    budget: TaskBudget,
    seed: int,
    collate_fn: Callable[[list[Any]], Any] | None,
    task: str,
    runtime: EvalRuntime,
) -> list[dict[str, Any]]:
    """``budget.feature_passes`` reshuffled, augmented passes over ``dataset`` (batches as ``fit``
    draws them), each batch's ``"image"`` replaced by its frozen feature grid (float16, CPU) and
    ``"input_size"`` added."""
    device = next(model.head.parameters()).device
    loader = training_loader(dataset, budget, seed, collate_fn, runtime, device)

    def batches():
        for _ in range(budget.feature_passes):
            yield from loader

    cached: list[dict[str, Any]] = []
    total = budget.feature_passes * len(loader)
    for batch in runtime.bar(batches(), f"{task} features", total=total):
        images = batch["image"].to(device, non_blocking=True)
        with runtime.autocast(device):
            grid = model.features(images)
        cached.append({**batch, "image": grid.half().cpu(), INPUT_SIZE_KEY: tuple(images.shape[-2:])})
    return cached


def fit_head_on_cached_batches(
    model: DenseModel,
    dataset: Dataset,
    budget: TaskBudget,
    loss_fn: Callable[[DenseModel, Any], torch.Tensor],
    seed: int = 0,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    weight_decay: float = 0.05,
    task: str = "dense task",
    runtime: EvalRuntime | None = None,
) -> list[float]:
    """Train ``model.head`` (backbone frozen) for ``budget.total_steps(len(dataset))`` steps on cached
    feature batches; same loss, optimiser and learning-rate schedule as ``fit``. Returns the losses."""
    if not model.freeze_backbone:
        raise ValueError(f"{task}: cached features need a frozen backbone")
    if len(dataset) == 0:
        raise ValueError(f"{task}: the training set is empty")
    runtime = resolve_runtime(runtime)
    model.eval()
    cached = cache_batches(model, dataset, budget, seed, collate_fn, task, runtime)
    head_model = CachedFeatureModel(model.head)
    device = next(model.head.parameters()).device
    total = budget.total_steps(len(dataset))
    generator = torch.Generator().manual_seed(seed + 1)
    model.head.train()

    def step_loss(step: int) -> torch.Tensor:
        batch = cached[int(torch.randint(0, len(cached), (1,), generator=generator))]
        with runtime.autocast(device):
            return loss_fn(head_model, batch)

    params = list(model.head.parameters())
    losses = optimise(params, budget, total, step_loss, weight_decay, task, runtime)
    model.eval()
    return losses
