"""Where the image token looks: attention maps for the SAIP paper's Fig. 1 / Fig. 5 style panels.

ViT: the last block's attention of the class token to every patch, averaged over heads (DINO's
"self-attention of the [CLS] token"), from ``BackboneOutput.attention``.

CNN / hybrid (StarNet, TinyViT; no class token, no global attention): a gradient-free substitute,
the cosine similarity of each stride-16 patch token with the image token. The image token is
the pooled feature map, so this marks the locations whose features agree with the global
descriptor (a CAM-like map without a classifier). Maps are min-max scaled per image to [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from saip.backbones import Backbone


def _unit_range(maps: torch.Tensor) -> torch.Tensor:
    flat = maps.flatten(1)
    low, high = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    return ((flat - low) / (high - low).clamp_min(1e-12)).reshape(maps.shape)


def attention_method(backbone: Backbone) -> str:
    """``"cls-attention"`` for ViTs, ``"cosine-to-image-token"`` for CNNs / hybrids."""
    return "cls-attention" if hasattr(backbone, "num_heads") else "cosine-to-image-token"


@torch.no_grad()
def image_token_attention(backbone: Backbone, images: torch.Tensor) -> torch.Tensor:
    """Per-patch maps ``(B, h, w)`` in [0, 1] of where the image token attends (see module doc)."""
    if attention_method(backbone) == "cls-attention":
        out = backbone(images, return_attention=True)
        maps = out.attention[:, :, 0, 1:].mean(1)  # (B, N)
    else:
        out = backbone(images)
        token = out.image_token
        if token.shape[-1] != out.patch_tokens.shape[-1]:
            raise ValueError(
                f"backbone {backbone.timm_name!r}: image token dim {token.shape[-1]} differs "
                f"from patch token dim {out.patch_tokens.shape[-1]}"
            )
        maps = F.cosine_similarity(out.patch_tokens, token.unsqueeze(1), dim=-1)
    h, w = out.grid_size
    return _unit_range(maps.reshape(-1, h, w))


def upsample_maps(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of ``(B, h, w)`` maps to ``size`` (H, W), rescaled to [0, 1]."""
    up = F.interpolate(maps.unsqueeze(1).float(), size=size, mode="bilinear", align_corners=False)
    return _unit_range(up.squeeze(1))
