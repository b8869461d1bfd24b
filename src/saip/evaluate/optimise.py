"""The optimisation loop every trained evaluation protocol shares.

ReID and attribute fine-tuning, the dense heads (fine-tuned or on a frozen backbone) and the heads
trained on cached features all run the same loop: AdamW over the trainable parameters with the
budget's per-step linear warm-up + cosine learning rate
(:meth:`saip.evaluate.budgets.TaskBudget.lr_at`), a progress bar from the
:class:`~saip.evaluate.runtime.EvalRuntime`, and a stop on the first non-finite loss.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from saip.evaluate.budgets import TaskBudget
from saip.evaluate.runtime import EvalRuntime


def optimise(
    params: list[torch.nn.Parameter],
    budget: TaskBudget,
    total: int,
    step_loss: Callable[[int], torch.Tensor],
    weight_decay: float,
    task: str,
    runtime: EvalRuntime,
) -> list[float]:
    """AdamW over ``params`` for ``total`` steps; ``step_loss(step)`` computes each step's loss (the
    caller draws the batch and applies its autocast). A non-finite loss raises
    ``FloatingPointError`` naming ``task`` and the step. Returns the per-step losses."""
    optimizer = torch.optim.AdamW(params, lr=budget.lr, weight_decay=weight_decay)
    losses: list[float] = []
    for step in runtime.bar(range(total), task, unit="step"):
        for group in optimizer.param_groups:
            group["lr"] = budget.lr_at(step, total)
        loss = step_loss(step)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{task}: non-finite loss at step {step}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses
