"""CSS — cross-scale search (method.md §1, "Objectives", CSS).

Given a single-person query view (student tokens, image token first) and a multi-person canvas
(expert tokens as a grid), predict where the person sits in the canvas. The decoder turns the query's
image token, after self-attention over the query tokens and cross-attention into the canvas tokens,
into a dynamic kernel ``k`` (width ``C``) that is dot-multiplied with a conv feature map ``F`` of the
canvas::

    logits[b, q, y, x] = <k[b, q], F[b, :, y, x]> / sqrt(C) + beta

The loss is binary cross-entropy against the box mask downsampled to the token grid, optionally plus a
soft dice term::

    Y     = area_downsample(M)  (fraction of each cell covered by the box, in [0, 1])
    L_css = mean_{b,q,y,x} BCE(logits, Y)
            + lambda_dice * mean_{b,q} (1 - (2 sum p*Y + 1) / (sum p + sum Y + 1))

with ``p = sigmoid(logits)``. The reference code uses nearest downsampling and no dice (reference-code
§1.8); area averaging gives soft targets on cells only partly covered by the box.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from saip.objectives.blocks import CrossAttentionBlock, SelfAttentionBlock, init_decoder_weights
from saip.objectives.pos_embed import get_2d_sincos_pos_embed


class CSSDecoder(nn.Module):
    """CSS decoder: query self-attention, cross-attention into the canvas, dynamic kernel, conv head.

    Args:
        query_dim: width ``Dq`` of the query tokens (student).
        canvas_dim: width ``Dc`` of the canvas grid (expert); defaults to ``query_dim``.
        hidden_dim: decoder width ``C`` (= kernel length).
        num_heads: attention heads.
        self_attn_depth: self-attention blocks on the query tokens.
        num_convs: conv layers on the canvas map (1x1 then 3x3 ones, GELU after each).
        mlp_ratio: MLP expansion in the attention blocks.
    """

    def __init__(
        self,
        query_dim: int,
        canvas_dim: int | None = None,
        hidden_dim: int = 256,
        num_heads: int = 8,
        self_attn_depth: int = 2,
        num_convs: int = 4,
        *,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        if num_convs < 1:
            raise ValueError(f"num_convs must be >= 1, got {num_convs}")
        canvas_dim = query_dim if canvas_dim is None else canvas_dim
        self.hidden_dim = hidden_dim
        self.query_embed = nn.Linear(query_dim, hidden_dim)
        self.query_blocks = nn.ModuleList(
            SelfAttentionBlock(hidden_dim, num_heads, mlp_ratio) for _ in range(self_attn_depth)
        )
        self.canvas_norm = nn.LayerNorm(canvas_dim, eps=1e-6)
        self.canvas_embed = nn.Linear(canvas_dim, hidden_dim)
        self.cross_block = CrossAttentionBlock(hidden_dim, num_heads, mlp_ratio)
        self.kernel_norm = nn.LayerNorm(hidden_dim, eps=1e-6)
        self.kernel = nn.Linear(hidden_dim, hidden_dim)
        convs: list[nn.Module] = [nn.Conv2d(canvas_dim, hidden_dim, kernel_size=1), nn.GELU()]
        for _ in range(num_convs - 1):
            convs += [nn.Conv2d(hidden_dim, hidden_dim, kernel_size=3, padding=1), nn.GELU()]
        self.convs = nn.Sequential(*convs)
        self.bias = nn.Parameter(torch.zeros(()))
        self.apply(init_decoder_weights)

    def forward(self, query_tokens: Tensor, canvas_grid: Tensor, queries_per_canvas: int = 1) -> Tensor:
        """Mask logits of each query on its canvas.

        Args:
            query_tokens: ``(B*Q, Nq, Dq)``, image token at index 0, canvas-major order
                (query ``b*Q + q`` searches canvas ``b``).
            canvas_grid: ``(B, Dc, h, w)`` canvas tokens as a grid (conv features computed once per canvas).
            queries_per_canvas: ``Q``.

        Returns:
            ``(B, Q, h, w)`` logits.
        """
        B = canvas_grid.shape[0]
        Q = queries_per_canvas
        if query_tokens.shape[0] != B * Q:
            raise ValueError(f"expected {B}*{Q} query sequences, got {query_tokens.shape[0]}")
        return self.search(self.encode_queries(query_tokens).reshape(B, Q, self.hidden_dim), canvas_grid)

    def encode_queries(self, query_tokens: Tensor) -> Tensor:
        """``(N, Nq, Dq)`` query sequences -> ``(N, C)`` query embeddings (the image-token position after
        the self-attention blocks). Queries of different lengths (a global view and a local crop)
        are encoded in separate calls and stacked for :meth:`search`."""
        q = self.query_embed(query_tokens)  # (N, Nq, C)
        for blk in self.query_blocks:
            q = blk(q)
        return q[:, 0]

    def search(self, queries: Tensor, canvas_grid: Tensor) -> Tensor:
        """``(B, Q, C)`` query embeddings on their ``(B, Dc, h, w)`` canvases -> ``(B, Q, h, w)`` logits.

        The canvas embedding and the 4-conv feature map are computed once per canvas for all its Q
        queries; cross-attention and MLP act per query token, so this equals running each query alone.
        """
        _, _, h, w = canvas_grid.shape
        tokens = canvas_grid.flatten(2).transpose(1, 2)  # (B, h*w, Dc)
        ctx = self.canvas_embed(self.canvas_norm(tokens))  # (B, h*w, C)
        ctx = ctx + get_2d_sincos_pos_embed(self.hidden_dim, (h, w), device=ctx.device, dtype=ctx.dtype)
        y = self.cross_block(queries, ctx)  # (B, Q, C)
        kernel = self.kernel(self.kernel_norm(y))  # (B, Q, C)
        feat = self.convs(canvas_grid)  # (B, C, h, w)
        return torch.einsum("bqc,bchw->bqhw", kernel, feat) / math.sqrt(self.hidden_dim) + self.bias


def downsample_masks(target_masks: Tensor, size: tuple[int, int]) -> Tensor:
    """Area-average ``(B, Q, Hc, Wc)`` masks to ``(B, Q, h, w)`` soft targets (covered fraction per cell)."""
    m = target_masks.float()
    if tuple(m.shape[-2:]) == tuple(size):
        return m
    return F.interpolate(m, size=size, mode="area")


def css_loss(logits: Tensor, target_masks: Tensor, dice_weight: float = 0.0) -> Tensor:
    """CSS loss (method.md §1 CSS): BCE-with-logits against area-downsampled box masks (+ soft dice).

    ::

        Y     = area_downsample(M) in [0, 1]
        L_css = mean BCE(logits, Y)
                + dice_weight * mean_{b,q} [1 - (2 sum_yx p*Y + 1) / (sum_yx p + sum_yx Y + 1)]

    Args:
        logits: ``(B, Q, h, w)``.
        target_masks: ``(B, Q, Hc, Wc)`` bool (or float in [0, 1]) masks at canvas resolution; area
            downsampling makes the target of each cell the fraction of it covered by the box.
        dice_weight: weight of the soft dice term (0 = BCE only, as the reference code).

    Returns:
        Scalar float32 tensor.
    """
    if logits.dim() != 4 or target_masks.dim() != 4 or logits.shape[:2] != target_masks.shape[:2]:
        raise ValueError(
            f"logits {tuple(logits.shape)} and masks {tuple(target_masks.shape)} must be (B, Q, ., .)"
        )
    x = logits.float()
    y = downsample_masks(target_masks, tuple(x.shape[-2:]))  # (B, Q, h, w)
    loss = F.binary_cross_entropy_with_logits(x, y)
    if dice_weight > 0:
        p = x.sigmoid().flatten(2)  # (B, Q, h*w)
        yf = y.flatten(2)
        dice = 1 - (2 * (p * yf).sum(-1) + 1) / (p.sum(-1) + yf.sum(-1) + 1)  # (B, Q)
        loss = loss + dice_weight * dice.mean()
    return loss
