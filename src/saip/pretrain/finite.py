"""Finiteness guards of the training loop: nothing non-finite is ever stepped into the weights or saved.

A loss can be finite while its gradient is not (an overflowing backward at a huge lr), and finite
gradients can still drive the parameters to inf (weight decay at lr 1e6 multiplies them by
``1 - lr·wd`` every step). The loop therefore checks (1) the loss and the global gradient norm after
the backward and before ``optimizer.step`` and (2) every floating tensor of the state before any
checkpoint or weight file is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch


def grad_norm(parameters: Iterable[torch.nn.Parameter]) -> torch.Tensor:
    """Global L2 norm of the gradients (a 0-d tensor on their device; NaN/inf if any gradient is)."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.zeros(())
    norms = torch._foreach_norm(grads)
    return torch.linalg.vector_norm(torch.stack([n.float() for n in norms]))


def count_non_finite(state: Any) -> tuple[int, int]:
    """``(non-finite tensors, floating tensors)`` in a nested dict/list of tensors (a checkpoint payload)."""
    bad, total = 0, 0
    stack = [state]
    while stack:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            if item.is_floating_point() or item.is_complex():
                total += 1
                bad += int(not bool(torch.isfinite(item).all()))
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return bad, total
