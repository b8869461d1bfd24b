"""A deterministic, resumable, rank-sharded sampler: the order is a function of (seed, epoch) only."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler[int]):
    """Shuffled indices for one epoch, split across ranks, optionally skipping the first batches.

    Every rank gets ``num_samples // world_size`` indices (the tail is dropped so all ranks take
    the same number of steps). ``start`` skips that many of this rank's samples: resume restarts
    mid-epoch exactly where the interrupted run stopped.
    """

    def __init__(self, num_samples: int, seed: int, rank: int = 0, world_size: int = 1, shuffle: bool = True):
        if num_samples < world_size:
            raise ValueError(f"dataset of {num_samples} images is smaller than the {world_size} processes")
        self.num_samples, self.seed, self.rank, self.world_size, self.shuffle = (
            num_samples,
            seed,
            rank,
            world_size,
            shuffle,
        )
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def per_rank(self) -> int:
        return self.num_samples // self.world_size

    def __len__(self) -> int:
        return self.per_rank() - self.start

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.num_samples, generator=generator)
        else:
            order = torch.arange(self.num_samples)
        mine = order[: self.per_rank() * self.world_size][self.rank :: self.world_size]
        return iter(mine[self.start :].tolist())
