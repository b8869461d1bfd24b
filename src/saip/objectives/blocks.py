"""Pre-LN transformer blocks (self- and cross-attention) shared by the CSR and CSS decoders.

Attention uses ``F.scaled_dot_product_attention``; the MLP and stochastic depth come from timm.
"""

from __future__ import annotations

import torch.nn.functional as F
from timm.layers import DropPath, Mlp, trunc_normal_
from torch import Tensor, nn


def init_decoder_weights(module: nn.Module) -> None:
    """``module.apply`` hook: trunc-normal(0.02) Linear weights, zero biases, unit LayerNorm."""
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def _split_heads(x: Tensor, num_heads: int) -> Tensor:
    # (B, N, C) -> (B, heads, N, C/heads)
    B, N, C = x.shape
    return x.reshape(B, N, num_heads, C // num_heads).transpose(1, 2)


def _merge_heads(x: Tensor) -> Tensor:
    # (B, heads, N, c) -> (B, N, heads*c)
    B, H, N, c = x.shape
    return x.transpose(1, 2).reshape(B, N, H * c)


class SelfAttention(nn.Module):
    """Multi-head self-attention: ``(B, N, C) -> (B, N, C)``."""

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim {dim} must be divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)  # 3 x (B, N, C)
        q, k, v = (_split_heads(t, self.num_heads) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, C/heads)
        return self.proj(_merge_heads(out))


class CrossAttention(nn.Module):
    """Multi-head cross-attention: queries ``(B, Nq, C)`` attend to context ``(B, Nk, C)``."""

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim {dim} must be divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        q = _split_heads(self.q(x), self.num_heads)  # (B, heads, Nq, c)
        k, v = (
            _split_heads(t, self.num_heads) for t in self.kv(context).chunk(2, dim=-1)
        )  # (B, heads, Nk, c)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, Nq, c)
        return self.proj(_merge_heads(out))


class SelfAttentionBlock(nn.Module):
    """Pre-LN block: ``x + SA(LN(x))`` then ``x + MLP(LN(x))``."""

    def __init__(self, dim: int, num_heads: int = 8, mlp_ratio: float = 4.0, drop_path: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = SelfAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class CrossAttentionBlock(nn.Module):
    """Pre-LN block: ``x + CA(LN(x), LN(ctx))`` then ``x + MLP(LN(x))`` (queries do not mix)."""

    def __init__(self, dim: int, num_heads: int = 8, mlp_ratio: float = 4.0, drop_path: float = 0.0) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(dim, eps=1e-6)
        self.norm_kv = nn.LayerNorm(dim, eps=1e-6)
        self.attn = CrossAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        x = x + self.drop_path(self.attn(self.norm_q(x), self.norm_kv(context)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class SelfCrossAttentionBlock(nn.Module):
    """Pre-LN decoder block: self-attention, then cross-attention to a context, then MLP."""

    def __init__(self, dim: int, num_heads: int = 8, mlp_ratio: float = 4.0, drop_path: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.self_attn = SelfAttention(dim, num_heads)
        self.norm_q = nn.LayerNorm(dim, eps=1e-6)
        self.norm_kv = nn.LayerNorm(dim, eps=1e-6)
        self.cross_attn = CrossAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        x = x + self.drop_path(self.self_attn(self.norm1(x)))
        x = x + self.drop_path(self.cross_attn(self.norm_q(x), self.norm_kv(context)))
        return x + self.drop_path(self.mlp(self.norm2(x)))
