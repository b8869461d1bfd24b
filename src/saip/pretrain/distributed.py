"""Process-group set-up for ``torchrun`` (DDP); a single process needs no torchrun."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from saip.backbones.norm_stats import has_batchnorm


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_type: str) -> DistInfo:
    """Initialise ``torch.distributed`` from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK).

    Uses NCCL on CUDA and gloo on CPU. Without those variables (plain ``python``/``saip``) it is a
    no-op and returns rank 0 of 1.
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return DistInfo()
    info = DistInfo(
        int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))
    )
    if info.world_size > 1 and not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend=backend)
    return info


def all_reduce_mean(value: torch.Tensor) -> torch.Tensor:
    """Mean of ``value`` over ranks (identity without a process group)."""
    if dist.is_available() and dist.is_initialized():
        value = value.clone()
        dist.all_reduce(value)
        value /= dist.get_world_size()
    return value


def sync_batchnorm(module: nn.Module, info: DistInfo, device_type: str) -> nn.Module:
    """BatchNorm -> SyncBatchNorm for multi-GPU DDP, so BN students normalise with the global batch.

    PyTorch's SyncBatchNorm runs on GPUs only; on CPU (gloo) each rank keeps its own BN statistics.
    """
    if info.enabled and device_type == "cuda" and has_batchnorm(module):
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return module


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
