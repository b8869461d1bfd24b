"""Names of the supported backbones and how a name resolves to a timm architecture."""

from __future__ import annotations

# Short names used in configs and on the command line -> timm architecture names.
ALIASES: dict[str, str] = {
    "vit_tiny": "vit_tiny_patch16_224",
    "vit_small": "vit_small_patch16_224",
    "vit_base": "vit_base_patch16_224",
    "starnet_s3": "starnet_s3",
    "tiny_vit_5m": "tiny_vit_5m_224",
    "efficientnet_lite0": "efficientnet_lite0",
}

# The three lightweight encoders of the paper (method.md §1 "Parts").
PAPER_BACKBONES: tuple[str, ...] = ("vit_tiny", "starnet_s3", "tiny_vit_5m")


def resolve_timm_name(name: str) -> str:
    """Map a short alias (``vit_tiny``) to its timm name; other names pass through unchanged."""
    return ALIASES.get(name, name)


def is_vit(timm_name: str) -> bool:
    """True for plain ViTs (class token + absolute position embeddings) handled by ``ViTBackbone``."""
    return timm_name.startswith(("vit_", "deit_"))
