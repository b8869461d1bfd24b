"""The deployable graph: backbone only, returning ``(image_token, patch_grid)``.

No heads, no mask token, no projection: just the encoder of method.md §1 ("Image encoder"), so
that an edge runtime gets the same two outputs every saip evaluation uses: the image token
``(B, D)`` (ReID / attributes) and the stride-16 patch grid ``(B, D, H/16, W/16)`` (dense tasks).
"""

from __future__ import annotations

import torch
from torch import nn

from saip.backbones import Backbone

OUTPUT_NAMES: tuple[str, str] = ("image_token", "patch_grid")
INPUT_NAME = "images"


class FeatureModule(nn.Module):
    """Wrap a saip backbone so that ``forward(images)`` returns the tuple ``(image_token, patch_grid)``.

    Inputs are normalised float32 images ``(B, 3, H, W)`` (mean/std of the run's ``backbone.json``).
    """

    def __init__(self, backbone: Backbone) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.backbone(images)
        return out.image_token, out.patch_grid
