"""``train.compile``: ``torch.compile`` of the training step with static shapes when the views allow it.

Every view of a SAIP batch has a fixed size except the rescaled copies ``x_s`` (method.md §1 item 2),
whose factor is drawn per batch slot. With ``data.views.scale_set`` (a fixed set of factor buckets)
the batch can take only ``len(scale_set) ** n_scaled`` shape combinations, so the step is compiled
with ``dynamic=False``: one static graph per combination (what CUDA graphs need), traced the first
time it occurs, and no recompilation once every combination has been seen. The graph cache is sized
for all of them. Without a scale set (factors from a continuous range) torch's automatic dynamic
shapes are left on.
"""

from __future__ import annotations

from typing import Any

import torch
import torch._dynamo

from saip.data.config import SAIPViewConfig


def shape_combinations(views: SAIPViewConfig) -> int | None:
    """How many distinct batch shapes the views produce (``None``: unbounded, a continuous range)."""
    if views.n_scaled == 0:
        return 1
    if views.scale_set is None:
        return None
    return len(set(views.scale_set)) ** views.n_scaled


def compile_step_model(model: torch.nn.Module, views: SAIPViewConfig, **options: Any) -> torch.nn.Module:
    """``torch.compile(model)``, static per shape combination when the views have finitely many.

    ``options`` go to ``torch.compile`` (e.g. ``backend``, ``mode="reduce-overhead"`` for CUDA graphs).
    """
    combinations = shape_combinations(views)
    if combinations is None:
        return torch.compile(model, **options)
    limit = torch._dynamo.config.cache_size_limit
    torch._dynamo.config.cache_size_limit = max(limit, combinations + 1)
    return torch.compile(model, dynamic=False, **options)
