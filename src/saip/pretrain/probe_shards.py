"""The mid-run probe under DDP: every rank extracts the features of its share of the probe images.

With ``probe.every=N`` under ``torchrun``, a probe run by rank 0 alone would leave the other ranks
blocked in the next step's collective (gradient all-reduce) for the whole probe, and a long probe (a
real probe set, a large backbone) can then exceed the NCCL/gloo timeout and kill the job. Instead
every rank probes: the probe images are cut into the same batches a single process would use, the
batches are dealt round-robin to the ranks, and the features are gathered (``all_gather_object``) so
every rank scores the full set. The cost is split over the ranks rather than idled away, nobody waits
longer than the slowest rank's share, and the numbers equal a single process's: each batch is the same
batch a single process would run (so its features are the same), and the scoring that follows is
deterministic. An explicit barrier with a long timeout (``monitored_barrier``) would also avoid the
hang, but keeps N-1 ranks idle for the whole probe and exists on gloo only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from saip.evaluate.features import extract_features


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def broadcast_buffers(module: nn.Module, src: int = 0) -> None:
    """Give every rank rank ``src``'s buffers (BatchNorm running statistics): DDP broadcasts them at
    each forward, so after the last one each rank's copy has moved on by its own half-batch. No-op
    without a process group."""
    if _world()[1] > 1:
        for buffer in module.buffers():
            dist.broadcast(buffer.data, src=src)


def sharded_extract_features(
    backbone: nn.Module,
    images: torch.Tensor,
    mean: Sequence[float],
    std: Sequence[float],
    batch_size: int = 64,
    **kwargs: Any,
) -> torch.Tensor:
    """:func:`saip.evaluate.features.extract_features` of uint8 ``images`` ``(N, 3, H, W)``, each rank
    computing every ``world``-th batch of ``batch_size`` and all ranks receiving all ``(N, D)``
    features (float32, CPU), in order. Without a process group it is ``extract_features`` itself."""
    rank, world = _world()
    if world == 1:
        return extract_features(backbone, images, mean, std, batch_size=batch_size, **kwargs)
    starts = list(range(0, len(images), batch_size))
    if not starts:
        raise ValueError("extract_features: no images")
    mine = {
        start: extract_features(
            backbone, images[start : start + batch_size], mean, std, batch_size=batch_size, **kwargs
        )
        for i, start in enumerate(starts)
        if i % world == rank
    }
    parts: list[dict[int, torch.Tensor] | None] = [None] * world
    dist.all_gather_object(parts, mine)
    merged = {start: feats for part in parts for start, feats in (part or {}).items()}
    return torch.cat([merged[start] for start in starts])
