"""One interface over timm backbones: image token ``(B, D)`` + stride-16 patch tokens."""

from saip.backbones.conv import ConvBackbone, make_stride16
from saip.backbones.factory import Backbone, count_parameters, create_backbone
from saip.backbones.output import BackboneOutput
from saip.backbones.registry import ALIASES, PAPER_BACKBONES, resolve_timm_name
from saip.backbones.vit import ViTBackbone

__all__ = [
    "ALIASES",
    "PAPER_BACKBONES",
    "Backbone",
    "BackboneOutput",
    "ConvBackbone",
    "ViTBackbone",
    "count_parameters",
    "create_backbone",
    "make_stride16",
    "resolve_timm_name",
]
