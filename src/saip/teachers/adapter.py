"""Linear width adapter between a student and a frozen teacher of another width.

method.md §1 "Parts": "With a frozen expert of another width, a small linear adapter maps
dimensions." Used by SAIP* (frozen expert) and by the feature-distillation baseline of DPAL.
"""

from __future__ import annotations

import torch
from timm.layers import trunc_normal_
from torch import nn


class LinearAdapter(nn.Module):
    """``(..., in_dim) -> (..., out_dim)``: optional LayerNorm, then one Linear layer.

    Args:
        in_dim, out_dim: widths; with ``in_dim == out_dim`` and ``identity_if_equal`` the
            adapter is the identity (no parameters).
        norm: LayerNorm the input first (the student's tokens are already normalised by its
            final norm, so this is off by default).
    """

    def __init__(
        self, in_dim: int, out_dim: int, norm: bool = False, identity_if_equal: bool = False
    ) -> None:
        super().__init__()
        if in_dim <= 0 or out_dim <= 0:
            raise ValueError(f"adapter widths must be > 0, got {in_dim} -> {out_dim}")
        self.in_dim, self.out_dim = int(in_dim), int(out_dim)
        self.norm = nn.LayerNorm(in_dim) if norm else nn.Identity()
        if identity_if_equal and in_dim == out_dim:
            self.proj: nn.Module = nn.Identity()
        else:
            self.proj = nn.Linear(in_dim, out_dim)
            trunc_normal_(self.proj.weight, std=0.02)
            nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_dim:
            raise ValueError(f"adapter expects width {self.in_dim}, got {tuple(x.shape)}")
        return self.proj(self.norm(x))
