"""Light segmentation decoder on the stride-16 patch grid.

A progressive-upsampling decoder in the spirit of SETR-PUP (Zheng et al., CVPR 2021, "Rethinking
Semantic Segmentation from a Sequence-to-Sequence Perspective with Transformers"), shrunk for
5M-parameter backbones: 1×1 projection to ``hidden`` channels, ×4 bilinear upsampling, two
3×3 conv-BN-ReLU blocks, a 1×1 classifier at stride 4, and bilinear upsampling of the logits to
the input size (done by the caller, which knows the size).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn_relu(cin: int, cout: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SegmentationHead(nn.Module):
    """Stride-16 features ``(B, D, h, w)`` → class logits ``(B, C, out_h, out_w)``."""

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 128) -> None:
        super().__init__()
        self.project = _conv_bn_relu(in_channels, hidden, 1)
        self.refine = nn.Sequential(_conv_bn_relu(hidden, hidden, 3), _conv_bn_relu(hidden, hidden, 3))
        self.classifier = nn.Conv2d(hidden, num_classes, kernel_size=1)

    def forward(self, features: torch.Tensor, output_size: tuple[int, int]) -> torch.Tensor:
        x = self.project(features)
        x = F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)
        x = self.classifier(self.refine(x))
        return F.interpolate(x, size=tuple(output_size), mode="bilinear", align_corners=False)
