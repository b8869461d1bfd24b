"""The one output type every backbone returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class BackboneOutput:
    """Image token and patch tokens of a batch (method.md §1 "Image encoder").

    Attributes:
        image_token: ``(B, D)`` class token (ViT) or pooled last feature map (CNN/hybrid).
        patch_tokens: ``(B, N, D)`` patch tokens in row-major grid order; with a mask only the
            ``N = n_keep`` visible tokens, in ``ids_keep`` order.
        grid_size: ``(h, w)`` of the full patch grid (``H/16, W/16``).
        ids_keep: ``(B, n_keep)`` indices of the visible patches when masked, else ``None``.
        block_tokens: tokens after the requested blocks, ``{index: (B, 1 + N, D)}`` with the
            image token first (ViT only; not normalised).
        attention: last block's attention probabilities ``(B, heads, 1 + N, 1 + N)`` when asked.
    """

    image_token: torch.Tensor
    patch_tokens: torch.Tensor
    grid_size: tuple[int, int]
    ids_keep: torch.Tensor | None = None
    block_tokens: dict[int, torch.Tensor] = field(default_factory=dict)
    attention: torch.Tensor | None = None

    @property
    def patch_grid(self) -> torch.Tensor:
        """Patch tokens as a feature map ``(B, D, h, w)``; only defined without a mask."""
        if self.ids_keep is not None:
            raise ValueError("patch_grid is undefined for masked inputs: use patch_tokens and ids_keep")
        h, w = self.grid_size
        b, n, d = self.patch_tokens.shape
        return self.patch_tokens.transpose(1, 2).reshape(b, d, h, w)
