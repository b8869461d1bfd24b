"""Fixed 2-D sine-cosine positional embeddings for arbitrary (h, w) token grids.

The SAIP decoders see grids of many shapes (20x10 rescaled views, 16x8 anchors, 14x14 canvases), so
the embedding is computed on the fly from the grid shape instead of being stored and interpolated
(the reference code stored a randomly initialised, learnable table and resampled it in 1-D).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _sincos_1d(dim: int, pos: Tensor) -> Tensor:
    """1-D sin-cos embedding of positions ``pos`` (M,) -> (M, dim); first half sin, second half cos."""
    omega = torch.arange(dim // 2, dtype=torch.float64, device=pos.device) / (dim / 2.0)
    omega = 1.0 / 10000**omega  # (dim/2,)
    out = pos.to(torch.float64)[:, None] * omega[None, :]  # (M, dim/2)
    return torch.cat([torch.sin(out), torch.cos(out)], dim=1)


def get_2d_sincos_pos_embed(
    embed_dim: int,
    grid: tuple[int, int],
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """2-D sin-cos positional embedding of an ``(h, w)`` grid (MAE convention, integer coordinates).

    Token ``i`` of the row-major grid is at row ``i // w`` and column ``i % w``. The first ``embed_dim/2``
    channels encode the row, the last ``embed_dim/2`` the column, each as ``[sin(pos*omega), cos(pos*omega)]``
    with ``omega_k = 10000^(-k / (embed_dim/4))``.

    Args:
        embed_dim: embedding width; must be divisible by 4.
        grid: ``(h, w)`` number of token rows and columns.
        device: device of the result.
        dtype: dtype of the result.

    Returns:
        Tensor of shape ``(h*w, embed_dim)``.
    """
    if embed_dim % 4 != 0:
        raise ValueError(f"embed_dim must be divisible by 4 for 2-D sin-cos embeddings, got {embed_dim}")
    h, w = int(grid[0]), int(grid[1])
    rows = torch.arange(h, device=device).repeat_interleave(w)  # (h*w,)
    cols = torch.arange(w, device=device).repeat(h)  # (h*w,)
    emb = torch.cat([_sincos_1d(embed_dim // 2, rows), _sincos_1d(embed_dim // 2, cols)], dim=1)
    return emb.to(dtype)
