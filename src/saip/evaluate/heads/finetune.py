"""Backbone + dense head, and the short fine-tuning loop shared by pose, parsing and detection.

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


def optimise(
    params: list[torch.nn.Parameter],
    budget: TaskBudget,
    total: int,
    step_loss: Callable[[int], torch.Tensor],
    weight_decay: float,
    task: str,
    runtime: EvalRuntime,
    device: torch.device | str,
) -> list[float]:
    """The training loop every dense protocol shares: AdamW over ``params`` for ``total`` steps with
    the budget's warm-up + cosine learning rate; ``step_loss(step)`` (run under ``runtime``'s autocast)
    gives each step's loss. A non-finite loss stops with an error naming the step. Returns the losses."""
    optimizer = torch.optim.AdamW(params, lr=budget.lr, weight_decay=weight_decay)
    losses: list[float] = []
    for step in runtime.bar(range(total), task, unit="step"):
        for group in optimizer.param_groups:
            group["lr"] = budget.lr_at(step, total)
        with runtime.autocast(device):
            loss = step_loss(step)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{task}: non-finite loss at step {step}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


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
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    loader = runtime.loader(
        dataset,
        batch_size=min(budget.batch_size, len(dataset)),
        drop_last=True,
        sampler=RandomSampler(dataset, generator=generator),
        collate_fn=collate_fn,
        device=device,
    )
    model.train()
    if model.freeze_backbone:
        model.backbone.eval()
    batches = _infinite(loader)

    def step_loss(step: int) -> torch.Tensor:
        return loss_fn(model, next(batches))

    params = [p for p in model.parameters() if p.requires_grad]
    losses = optimise(params, budget, total, step_loss, weight_decay, task, runtime, device)
    model.eval()
    return losses
