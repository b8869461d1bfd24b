"""``ViewDataset``: wraps any image dataset and yields the per-sample SAIP views (method.md §1).

The source may return PIL images (e.g. :class:`~saip.data.folder.PersonImageFolder`) or dicts
with an ``"image"`` key (the synthetic dataset); see :func:`saip.data.image_io.as_pil`.

The epoch lives in a one-element shared-memory tensor, so :meth:`set_epoch` reaches DataLoader
workers even with ``persistent_workers=True`` (call it before iterating the loader for that
epoch, as with ``DistributedSampler.set_epoch``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from saip.data.config import SAIPViewConfig
from saip.data.image_io import as_pil
from saip.data.multicrop import SAIPViewMaker


class ViewDataset(Dataset):
    """``dataset[i]`` → ``{"global", "local"?, "index", "epoch"}`` (views as uint8 tensors).

    Args:
        source: any indexable dataset returning PIL images or dicts with ``"image"``.
        view_maker: a :class:`SAIPViewMaker`, or a :class:`SAIPViewConfig` to build one
            (default config when None).
        seed: base seed; views are a function of ``(seed, epoch, index)`` only.
    """

    def __init__(
        self, source: Any, view_maker: SAIPViewMaker | SAIPViewConfig | None = None, seed: int = 0
    ) -> None:
        self.source = source
        if view_maker is None or isinstance(view_maker, SAIPViewConfig):
            view_maker = SAIPViewMaker(view_maker)
        self.view_maker = view_maker
        self.seed = int(seed)
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self._epoch = torch.zeros(1, dtype=torch.long).share_memory_()

    @property
    def config(self) -> SAIPViewConfig:
        return self.view_maker.config

    @property
    def epoch(self) -> int:
        return int(self._epoch[0])

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose views are produced (visible to already-started workers)."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self._epoch[0] = int(epoch)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = int(index)
        epoch = self.epoch
        image = as_pil(self.source[index])
        sample: dict[str, Any] = self.view_maker(image, self.seed, epoch, index)
        sample["index"] = index
        sample["epoch"] = epoch
        return sample
