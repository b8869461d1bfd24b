"""Backbone + dense head, and the short training loop shared by the dense tasks.

The protocol follows the dense-task recipes of the SAIP downstream code (reference-code.md §1.12:
ViTPose/SCHP/mmdet fine-tuning with AdamW): every parameter is trained (``finetune``) or the
backbone is frozen and only the head learns (``frozen``), with the budget's per-step linear
warm-up + cosine learning rate (:meth:`saip.evaluate.budgets.TaskBudget.lr_at`). Loader workers,
autocast and the progress bar follow an :class:`~saip.evaluate.runtime.EvalRuntime`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler

from saip.evaluate.budgets import TaskBudget
from saip.evaluate.optimise import optimise
from saip.evaluate.runtime import EvalRuntime, resolve_runtime

PROTOCOLS = ("finetune", "frozen")


class DenseModel(nn.Module):
    """``head(backbone(images).patch_grid)``: a head on the backbone's stride-16 feature map."""

    def __init__(self, backbone: nn.Module, head: nn.Module, freeze_backbone: bool = False) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.freeze_backbone = freeze_backbone
        if freeze_backbone:
            backbone.requires_grad_(False)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Stride-16 feature map ``(B, D, H/16, W/16)`` (no graph through a frozen backbone)."""
        if self.freeze_backbone:
            self.backbone.eval()
            with torch.no_grad():
                return self.backbone(images).patch_grid
        return self.backbone(images).patch_grid

    def forward(self, images: torch.Tensor, *args: Any) -> Any:
        return self.head(self.features(images), *args)


def training_loader(
    dataset: Dataset,
    budget: TaskBudget,
    seed: int,
    collate_fn: Callable[[list[Any]], Any] | None,
    runtime: EvalRuntime,
    device: torch.device | str,
) -> DataLoader:
    """Batches of ``budget.batch_size`` (at most the dataset), reshuffled every pass by a generator
    seeded with ``seed``, the last incomplete batch dropped."""
    return runtime.loader(
        dataset,
        batch_size=min(budget.batch_size, len(dataset)),
        drop_last=True,
        sampler=RandomSampler(dataset, generator=torch.Generator().manual_seed(seed)),
        collate_fn=collate_fn,
        device=device,
    )


def _infinite(loader: DataLoader) -> Iterator[Any]:
    while True:
        yield from loader


def fit(
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
    """Train ``model`` for ``budget.total_steps(len(dataset))`` steps; returns the per-step losses.

    ``loss_fn(model, batch)`` computes the loss of one batch (moving it to the model's device), under
    ``runtime``'s autocast. Batches are drawn by reshuffling the dataset every pass (seeded); a
    non-finite loss stops training with an error naming the step. A frozen backbone with
    ``budget.feature_passes`` set trains the head on cached features instead
    (:func:`saip.evaluate.heads.cached_fit.fit_head_on_cached_batches`; ``loss_fn`` then gets batches
    whose ``"image"`` is the feature grid: read the input size with ``cached_fit.input_size``).
    """
    if model.freeze_backbone and budget.feature_passes:
        from saip.evaluate.heads.cached_fit import fit_head_on_cached_batches

        return fit_head_on_cached_batches(
            model, dataset, budget, loss_fn, seed, collate_fn, weight_decay, task, runtime
        )
    if len(dataset) == 0:
        raise ValueError(f"{task}: the training set is empty")
    runtime = resolve_runtime(runtime)
    total = budget.total_steps(len(dataset))
    device = next(model.parameters()).device
    loader = training_loader(dataset, budget, seed, collate_fn, runtime, device)
    model.train()
    if model.freeze_backbone:
        model.backbone.eval()
    batches = _infinite(loader)

    def step_loss(step: int) -> torch.Tensor:
        batch = next(batches)
        with runtime.autocast(device):
            return loss_fn(model, batch)

    params = [p for p in model.parameters() if p.requires_grad]
    losses = optimise(params, budget, total, step_loss, weight_decay, task, runtime)
    model.eval()
    return losses
