"""ViT backbones (timm ``VisionTransformer``) with 2-D position-embedding interpolation and MAE masking."""

from __future__ import annotations

from collections.abc import Sequence

import timm
import torch
import torch.nn.functional as F
from timm.layers import resample_abs_pos_embed
from torch import nn

from saip.backbones.output import BackboneOutput


class ViTBackbone(nn.Module):
    """A timm ViT that returns its class token and a stride-16 patch-token grid.

    Any input ``H x W`` that is a multiple of the patch size works: the learned position
    embeddings (defined on the ``img_size`` grid, default 256x128 -> 16x8) are resampled in 2-D
    (bicubic, as timm's ``resample_abs_pos_embed``) to the input's grid. At the original size they
    are used unchanged. This fixes the reference code's 1-D interpolation of the flattened
    sequence (method.md, "Known defects").

    Masked inputs (MAE): pass ``ids_keep`` ``(B, n_keep)``; position embeddings are added before
    the visible tokens are gathered, so each kept token keeps its own position.

    The wrapped timm model is ``self.model``; its state dict keys are exactly timm's, so weights
    export to ``timm.create_model(name)`` strictly.
    """

    def __init__(self, timm_name: str, img_size: tuple[int, int] = (256, 128), **timm_kwargs) -> None:
        super().__init__()
        self.model = timm.create_model(
            timm_name,
            pretrained=False,
            num_classes=0,
            img_size=tuple(img_size),
            dynamic_img_size=True,
            **timm_kwargs,
        )
        if self.model.cls_token is None:
            raise ValueError(f"backbone {timm_name!r}: saip's ViT wrapper needs a class token")
        self.timm_name = timm_name
        self.img_size = tuple(img_size)
        self.embed_dim: int = self.model.embed_dim
        self.stride: int = self.model.patch_embed.patch_size[0]
        self.num_heads: int = self.model.blocks[-1].attn.num_heads
        self.depth: int = len(self.model.blocks)

    def position_embedding(self, grid_size: tuple[int, int]) -> torch.Tensor:
        """Position embeddings ``(1, 1 + h*w, D)`` (class slot first) for a patch grid of ``grid_size``."""
        m = self.model
        return resample_abs_pos_embed(
            m.pos_embed,
            new_size=list(grid_size),
            old_size=list(m.patch_embed.grid_size),
            num_prefix_tokens=0 if m.no_embed_class else m.num_prefix_tokens,
        )

    def _embed(
        self, images: torch.Tensor, ids_keep: torch.Tensor | None
    ) -> tuple[torch.Tensor, tuple[int, int]]:
        m = self.model
        _, _, H, W = images.shape
        if H % self.stride or W % self.stride:
            raise ValueError(f"input size {H}x{W} is not a multiple of the patch size {self.stride}")
        x = m.patch_embed(images)  # (B, h, w, D) with dynamic_img_size
        b, h, w, d = x.shape
        x = x.reshape(b, h * w, d)
        pos = self.position_embedding((h, w))
        cls = m.cls_token.expand(b, -1, -1)
        if m.no_embed_class:
            x = x + pos
        else:
            x = x + pos[:, 1:]
            cls = cls + pos[:, :1]
        if ids_keep is not None:
            x = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, d))
        x = torch.cat([cls, x], dim=1)
        return m.norm_pre(m.pos_drop(x)), (h, w)

    def forward(
        self,
        images: torch.Tensor,
        ids_keep: torch.Tensor | None = None,
        return_blocks: Sequence[int] = (),
        return_attention: bool = False,
    ) -> BackboneOutput:
        """Encode ``images`` ``(B, 3, H, W)``.

        Args:
            ids_keep: optional ``(B, n_keep)`` visible patch indices (row-major) for masked inputs.
            return_blocks: block indices (0-based) whose raw output tokens to return.
            return_attention: also return the last block's attention probabilities.
        """
        x, grid = self._embed(images, ids_keep)
        blocks = self.model.blocks
        wanted = {i % self.depth for i in return_blocks}
        block_tokens: dict[int, torch.Tensor] = {}
        attention = None
        for i, block in enumerate(blocks):
            if return_attention and i == self.depth - 1:
                attention = self._attention_probs(block, x)
            x = block(x)
            if i in wanted:
                block_tokens[i] = x
        x = self.model.norm(x)
        return BackboneOutput(
            image_token=x[:, 0],
            patch_tokens=x[:, 1:],
            grid_size=grid,
            ids_keep=ids_keep,
            block_tokens=block_tokens,
            attention=attention,
        )

    @staticmethod
    def _attention_probs(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """softmax(QK^T / sqrt(d)) of ``block``'s attention for input tokens ``x`` (B, heads, N, N)."""
        attn = block.attn
        b, n, c = x.shape
        qkv = attn.qkv(block.norm1(x)).reshape(b, n, 3, attn.num_heads, c // attn.num_heads)
        q, k, _ = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        q, k = attn.q_norm(q), attn.k_norm(k)
        return F.softmax((q * attn.scale) @ k.transpose(-2, -1), dim=-1)

    def no_weight_decay_names(self) -> set[str]:
        """Parameter names (relative to this module) exempt from weight decay."""
        return {f"model.{name}" for name in ("pos_embed", "cls_token", "reg_token", "dist_token")}
