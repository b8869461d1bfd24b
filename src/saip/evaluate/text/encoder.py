"""A small transformer text encoder trained from scratch for text-to-image person retrieval.

The text branch of IRRA (Jiang & Ye, CVPR 2023) is CLIP's 12-layer text transformer; offline we
train a smaller one from scratch on the task's own captions (Vaswani et al., NeurIPS 2017;
pre-norm blocks as in CLIP): token + learned position embeddings, ``depth`` transformer blocks
with a padding mask (bidirectional, as BERT), a final LayerNorm and the ``[CLS]`` token's output
projected to the joint embedding width.
"""

from __future__ import annotations

import torch
from torch import nn


class TextEncoder(nn.Module):
    """Token ids ``(B, L)`` (``0`` = padding, position 0 = ``[CLS]``) → embeddings ``(B, out_dim)``."""

    def __init__(
        self,
        vocab_size: int,
        out_dim: int,
        width: int = 256,
        depth: int = 4,
        heads: int = 4,
        max_length: int = 77,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, width, padding_idx=0)
        self.position_embedding = nn.Parameter(torch.zeros(1, max_length, width))
        layer = nn.TransformerEncoderLayer(
            width, heads, 4 * width, dropout=dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.proj = nn.Linear(width, out_dim)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.position_embedding, std=0.01)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        length = ids.shape[1]
        if length > self.position_embedding.shape[1]:
            raise ValueError(
                f"captions of {length} tokens exceed the encoder's {self.position_embedding.shape[1]}"
            )
        x = self.token_embedding(ids) + self.position_embedding[:, :length]
        x = self.blocks(x, src_key_padding_mask=ids == 0)
        return self.proj(self.norm(x[:, 0]))
