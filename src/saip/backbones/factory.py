"""Create a backbone by name, optionally loading local weights."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from saip.backbones.conv import ConvBackbone
from saip.backbones.registry import is_vit, resolve_timm_name
from saip.backbones.vit import ViTBackbone
from saip.errors import InputError

Backbone = ViTBackbone | ConvBackbone


def create_backbone(
    name: str,
    img_size: tuple[int, int] = (256, 128),
    weights: str | Path | None = None,
    **timm_kwargs,
) -> Backbone:
    """Create a backbone from a short alias (``vit_tiny``, ``starnet_s3``, ``tiny_vit_5m``) or any timm name.

    Args:
        img_size: size the ViT position embeddings are defined for (H, W); other sizes are
            interpolated at run time.
        weights: optional local file (safetensors, or a torch checkpoint loaded with
            ``weights_only=True``) with timm keys, or a saip checkpoint / ``student``/``model``/
            ``state_dict`` dict with ``module.``/``backbone.`` prefixes; loaded strictly.
    """
    timm_name = resolve_timm_name(name)
    try:
        backbone: Backbone = (ViTBackbone if is_vit(timm_name) else ConvBackbone)(
            timm_name, img_size=img_size, **timm_kwargs
        )
    except RuntimeError as error:
        if "Unknown model" in str(error):
            raise InputError(f"unknown backbone {name!r}: not a saip alias or timm model name") from error
        raise
    if weights is not None:
        from saip.weights import load_backbone_weights

        load_backbone_weights(backbone.model, weights)
    return backbone


def count_parameters(module: nn.Module) -> int:
    """Number of parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())
