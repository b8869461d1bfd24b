"""Random patch masking for CSR (method.md §1, CSR: mask 75% of the patches of a rescaled view).

Every row keeps exactly the same number of visible patches,
``n_keep = L - floor(L * ratio + 0.5)`` (the masked count is ``L * ratio`` rounded half up),
so visible tokens stack without padding (the reference code's masking could give a different
visible count than the decoder expected; see method.md "Known defects").
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch


class PatchMask(NamedTuple):
    """Result of :func:`random_masking` (MAE conventions).

    ids_keep: ``(B, n_keep)`` int64, indices of visible patches, ascending in each row.
    mask: ``(B, L)`` bool, True = masked (hidden), False = visible.
    ids_restore: ``(B, L)`` int64; ``torch.gather(cat([visible, masked_tokens], 1), 1, ids_restore)``
        puts tokens back in patch order (visible ones first, both groups ascending).
    """

    ids_keep: torch.Tensor
    mask: torch.Tensor
    ids_restore: torch.Tensor


def num_masked(num_patches: int, ratio: float) -> int:
    """``floor(L * ratio + 0.5)``: masked patches per row."""
    return int(math.floor(num_patches * ratio + 0.5))


def num_visible(num_patches: int, ratio: float) -> int:
    """``L - num_masked(L, ratio)``: visible patches per row."""
    return num_patches - num_masked(num_patches, ratio)


def random_masking(
    batch: int | torch.Tensor, num_patches: int, ratio: float, generator: torch.Generator | None = None
) -> PatchMask:
    """Mask ``round(L * ratio)`` random patches of each of ``batch`` rows (``batch`` = B or a tensor).

    Raises ``ValueError`` for ``ratio`` outside (0, 1) or when no patch would stay visible.
    Uses only ``generator`` (CPU); the result is on the CPU.
    """
    B = int(batch.shape[0]) if isinstance(batch, torch.Tensor) else int(batch)
    L = int(num_patches)
    if not 0 < ratio < 1:
        raise ValueError(f"mask ratio must be in the open interval (0, 1), got {ratio}")
    if B < 1 or L < 1:
        raise ValueError(f"random_masking needs batch >= 1 and num_patches >= 1, got {B}, {L}")
    n_keep = num_visible(L, ratio)
    if n_keep < 1:
        raise ValueError(f"mask ratio {ratio} leaves no visible patch out of {L}")
    noise = torch.rand(B, L, generator=generator)
    ids_shuffle = torch.argsort(noise, dim=1)
    keep_sorted = torch.sort(ids_shuffle[:, :n_keep], dim=1).values
    masked_sorted = torch.sort(ids_shuffle[:, n_keep:], dim=1).values
    ids_shuffle = torch.cat([keep_sorted, masked_sorted], dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    mask = torch.ones(B, L, dtype=torch.bool)
    mask.scatter_(1, keep_sorted, False)
    return PatchMask(keep_sorted, mask, ids_restore)
