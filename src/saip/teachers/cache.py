"""Teacher feature cache: reuse a frozen teacher's outputs for images it has already seen.

A frozen teacher (method.md §2, DPAL; SAIP* of §1) is a fixed function, so its outputs on the
same image never change. The cache is keyed by whatever identifies the image *content*: the
training code uses ``(epoch, sample index, view id)`` because views are re-drawn every epoch
(``saip.data.ViewDataset``: a view is a function of ``(seed, epoch, index)``). Entries are kept on
the device they were computed on, least recently used first out.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

import torch


class TeacherFeatureCache:
    """LRU map ``key -> (image_token (Dt,), patch_tokens (N, Dt), grid_size)``.

    Args:
        max_items: number of per-image entries kept (one entry = one image of one view).
    """

    def __init__(self, max_items: int) -> None:
        if int(max_items) <= 0:
            raise ValueError(f"teacher cache size must be > 0, got {max_items}")
        self.max_items = int(max_items)
        self._store: OrderedDict[Hashable, tuple[torch.Tensor, torch.Tensor, tuple[int, int]]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._store)

    def get(self, key: Hashable, grid_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The cached ``(image_token, patch_tokens)`` for ``key`` at ``grid_size``, or None."""
        entry = self._store.get(key)
        if entry is None or entry[2] != tuple(grid_size):
            self.misses += 1
            return None
        self._store.move_to_end(key)
        self.hits += 1
        return entry[0], entry[1]

    def put(
        self, key: Hashable, image_token: torch.Tensor, patch_tokens: torch.Tensor, grid_size: tuple[int, int]
    ) -> None:
        """Store one image's features (detached)."""
        self._store[key] = (image_token.detach(), patch_tokens.detach(), tuple(grid_size))
        self._store.move_to_end(key)
        while len(self._store) > self.max_items:
            self._store.popitem(last=False)

    def clear(self) -> None:
        """Drop every entry and reset the counters."""
        self._store.clear()
        self.hits = self.misses = 0
