"""CSR — cross-scale reconstruction (method.md §1, "Objectives", CSR).

75% of the patches of a rescaled view are masked; the student encodes the visible ones; the decoder sees
those visible tokens (plus learned mask tokens) and, through cross-attention in every block, the tokens
of the *anchor* view (another scale, another augmentation), and predicts the pixels of every patch.
The loss is the MAE loss on masked patches only, with per-patch normalised targets::

    x_hat_l = (x_l - mean(x_l)) / sqrt(var(x_l) + 1e-6)        (norm_pix; x_l = pixels of patch l)
    L_csr   = sum_b sum_l M[b,l] * mean_j (pred[b,l,j] - x_hat[b,l,j])^2 / sum_b sum_l M[b,l]

with ``M = 1`` for masked patches. Fixes from reference-code §1.7: real cross-attention (the paper's
design) instead of a prepended CLS token, fixed 2-D sin-cos positions computed for each grid (no 1-D
resampling, no random init). Masks come from :func:`saip.data.masking.random_masking` (exact keep count).
"""

from __future__ import annotations

import torch
from timm.layers import trunc_normal_
from torch import Tensor, nn

from saip.objectives.blocks import SelfCrossAttentionBlock, init_decoder_weights
from saip.objectives.pos_embed import get_2d_sincos_pos_embed


def patchify(images: Tensor, patch_size: int = 16) -> Tensor:
    """``(B, C, H, W) -> (B, L, p*p*C)``; patches row-major, ``(row, col, channel)`` inside a patch (MAE)."""
    B, C, H, W = images.shape
    p = patch_size
    if H % p or W % p:
        raise ValueError(f"image size {(H, W)} is not divisible by patch_size {p}")
    h, w = H // p, W // p
    x = images.reshape(B, C, h, p, w, p)
    x = torch.einsum("nchpwq->nhwpqc", x)  # (B, h, w, p, p, C)
    return x.reshape(B, h * w, p * p * C)


def unpatchify(patches: Tensor, grid: tuple[int, int], patch_size: int = 16, in_chans: int = 3) -> Tensor:
    """Inverse of :func:`patchify`: ``(B, h*w, p*p*C) -> (B, C, h*p, w*p)``."""
    B, L, _ = patches.shape
    h, w = grid
    p = patch_size
    if h * w != L:
        raise ValueError(f"{L} patches do not fill a {h}x{w} grid")
    x = patches.reshape(B, h, w, p, p, in_chans)
    x = torch.einsum("nhwpqc->nchpwq", x)  # (B, C, h, p, w, p)
    return x.reshape(B, in_chans, h * p, w * p)


class CSRDecoder(nn.Module):
    """CSR pixel decoder: ``depth`` x [self-attention, cross-attention to the anchor view, MLP], pre-LN.

    Args:
        embed_dim: width ``D`` of the (student) visible tokens.
        decoder_dim: decoder width.
        depth: number of decoder blocks (paper: 6).
        num_heads: attention heads.
        mlp_ratio: MLP expansion.
        patch_size: ``p``; output has ``p*p*in_chans`` values per patch.
        in_chans: image channels.
        anchor_dim: width of the anchor tokens (defaults to ``embed_dim``).
        drop_path: stochastic depth rate of every block.
    """

    def __init__(
        self,
        embed_dim: int,
        decoder_dim: int = 256,
        depth: int = 6,
        num_heads: int = 8,
        mlp_ratio: float = 4.0,
        patch_size: int = 16,
        in_chans: int = 3,
        anchor_dim: int | None = None,
        *,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.decoder_dim = decoder_dim
        self.patch_size = patch_size
        self.in_chans = in_chans
        anchor_dim = embed_dim if anchor_dim is None else anchor_dim
        self.decoder_embed = nn.Linear(embed_dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.anchor_embed = nn.Linear(anchor_dim, decoder_dim)
        # Added to the anchor's image token (which has no grid position).
        self.anchor_image_embed = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.blocks = nn.ModuleList(
            SelfCrossAttentionBlock(decoder_dim, num_heads, mlp_ratio, drop_path) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(decoder_dim, eps=1e-6)
        self.pred = nn.Linear(decoder_dim, patch_size * patch_size * in_chans)
        self.apply(init_decoder_weights)
        trunc_normal_(self.mask_token, std=0.02)
        trunc_normal_(self.anchor_image_embed, std=0.02)

    def _embed_anchor(self, anchor_tokens: Tensor, anchor_grid: tuple[int, int] | None) -> Tensor:
        ctx = self.anchor_embed(anchor_tokens)  # (B, Na, Dd)
        if anchor_grid is None:
            return ctx  # unstructured context (e.g. only an image token): no positions
        n_grid = anchor_grid[0] * anchor_grid[1]
        n_extra = ctx.shape[1] - n_grid
        if n_extra not in (0, 1):
            raise ValueError(
                f"anchor has {ctx.shape[1]} tokens; expected {n_grid} (grid {anchor_grid}) or {n_grid + 1} "
                "(image token first)"
            )
        pos = get_2d_sincos_pos_embed(self.decoder_dim, anchor_grid, device=ctx.device, dtype=ctx.dtype)
        if n_extra == 0:
            return ctx + pos.unsqueeze(0)
        pos = torch.cat([self.anchor_image_embed[0].to(ctx.dtype), pos], dim=0)  # (1 + n_grid, Dd)
        return ctx + pos.unsqueeze(0)

    def forward(
        self,
        visible_tokens: Tensor,
        ids_restore: Tensor,
        grid: tuple[int, int],
        anchor_tokens: Tensor,
        anchor_grid: tuple[int, int] | None = None,
    ) -> Tensor:
        """Predict the pixels of every patch of the rescaled view.

        Args:
            visible_tokens: ``(B, n_keep, D)`` patch tokens of the visible patches in ``ids_keep`` order.
            ids_restore: ``(B, L)`` argsort of ``ids_shuffle`` (MAE convention).
            grid: ``(h, w)`` of the rescaled view, ``L = h*w``.
            anchor_tokens: ``(B, Na, D_anchor)``: ``Na = ha*wa`` patch tokens, optionally preceded by the
                image token (``Na = 1 + ha*wa``); any ``Na`` when ``anchor_grid`` is None (no positions).
            anchor_grid: ``(ha, wa)`` of the anchor view, or None.

        Returns:
            ``(B, L, p*p*in_chans)`` predicted (normalised) pixels in grid order.
        """
        B, n_keep, _ = visible_tokens.shape
        L = grid[0] * grid[1]
        if ids_restore.shape != (B, L):
            raise ValueError(f"ids_restore must be {(B, L)} for grid {grid}, got {tuple(ids_restore.shape)}")
        if n_keep > L:
            raise ValueError(f"{n_keep} visible tokens exceed the {L} grid positions")
        x = self.decoder_embed(visible_tokens)  # (B, n_keep, Dd)
        mask_tokens = self.mask_token.to(x.dtype).expand(B, L - n_keep, -1)  # (B, L - n_keep, Dd)
        x = torch.cat([x, mask_tokens], dim=1)  # (B, L, Dd), shuffled order
        x = torch.gather(
            x, 1, ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[-1])
        )  # (B, L, Dd), grid order
        x = x + get_2d_sincos_pos_embed(self.decoder_dim, grid, device=x.device, dtype=x.dtype).unsqueeze(0)
        ctx = self._embed_anchor(anchor_tokens, anchor_grid)  # (B, Na, Dd)
        for blk in self.blocks:
            x = blk(x, ctx)
        return self.pred(self.norm(x))  # (B, L, p*p*C)


def csr_loss(
    pred: Tensor, images: Tensor, mask: Tensor, patch_size: int = 16, norm_pix: bool = True
) -> Tensor:
    """CSR loss (method.md §1 CSR; MAE ``forward_loss``): MSE on masked patches, per-patch normalised targets.

    ::

        x_hat_l = (x_l - mean(x_l)) / sqrt(var(x_l) + 1e-6)     if norm_pix else x_l
        L_csr   = sum_{b,l} M[b,l] * mean_j (pred[b,l,j] - x_hat[b,l,j])^2 / sum_{b,l} M[b,l]

    ``var`` is the unbiased variance over the ``p*p*C`` values of the patch (as MAE's ``Tensor.var``).

    Args:
        pred: ``(B, L, p*p*C)`` decoder output.
        images: ``(B, C, H, W)`` the rescaled view the decoder reconstructs (``L = H/p * W/p``).
        mask: ``(B, L)`` bool or {0,1}, True/1 = masked (these patches count).
        patch_size: ``p``.
        norm_pix: normalise each target patch by its own mean and variance.

    Returns:
        Scalar float32 tensor (0 if nothing is masked).
    """
    target = patchify(images, patch_size).float()  # (B, L, p*p*C)
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} does not match patchified images {tuple(target.shape)}")
    if mask.shape != target.shape[:2]:
        raise ValueError(f"mask {tuple(mask.shape)} must be {tuple(target.shape[:2])}")
    if norm_pix:
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1e-6) ** 0.5
    per_patch = (pred.float() - target).pow(2).mean(dim=-1)  # (B, L)
    m = mask.to(per_patch.dtype)
    return (per_patch * m).sum() / m.sum().clamp(min=1.0)
