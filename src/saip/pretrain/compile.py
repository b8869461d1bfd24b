"""``train.compile``: ``torch.compile`` of the training step with static shapes when the views allow it.

Every view of a SAIP batch has a fixed size except the rescaled copies ``x_s`` (method.md §1 item 2),
whose factor is drawn per batch slot. With ``data.views.scale_set`` (a fixed set of factor buckets)
the batch can take only ``len(scale_set) ** n_scaled`` shape combinations, so the step is compiled
with ``dynamic=False``: one static graph per combination (what CUDA graphs need), traced the first
time it occurs, and no recompilation once every combination has been seen. A log step computes the
diagnostics too (another graph), and with gradient accumulation the first micro-batch of a step differs
from the later ones (the CSM centre's pending sums): the graph cache is sized for all of them. Without
a scale set (factors from a continuous range) torch's automatic dynamic shapes are left on.

The schedule's per-step floats that the forward reads (the CSM teacher temperature, DPAL's training
progress) reach a compiled step as 0-d tensors (:func:`compiled_schedule`): as Python floats dynamo
specialises the graph on their values, and a teacher-temperature warm-up (or DPAL's progress, every
step) traced a new graph at every step until the cache was full and the step fell back to eager.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch._dynamo

from saip.data.config import SAIPViewConfig
from saip.methods.base import ScheduleValues

# graphs per shape combination: log step or not, x first micro-batch of an accumulated step or not
GRAPHS_PER_SHAPE = 4


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
    torch._dynamo.config.cache_size_limit = max(limit, GRAPHS_PER_SHAPE * combinations + 1)
    return torch.compile(model, dynamic=False, **options)


def compiled_schedule(schedule: ScheduleValues, device: torch.device) -> ScheduleValues:
    """``schedule`` as a compiled step receives it: ``teacher_temp`` and ``progress`` as 0-d float32
    tensors on ``device`` (graph inputs rather than constants the graph is specialised on)."""
    return dataclasses.replace(
        schedule,
        teacher_temp=torch.tensor(schedule.teacher_temp, dtype=torch.float32, device=device),
        progress=torch.tensor(schedule.progress, dtype=torch.float32, device=device),
    )
