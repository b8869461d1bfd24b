"""ViTPose keypoint heads on the stride-16 patch grid (Xu et al., NeurIPS 2022, "ViTPose", §3.1).

* ``simple``: bilinear ×4 upsampling of the feature map, ReLU, one 3×3 convolution to ``K``
  heatmaps (the paper's "simple decoder").
* ``classic``: two deconvolution blocks (4×4, stride 2, BN, ReLU; 256 channels) and a 1×1
  convolution (SimpleBaseline's decoder, ViTPose's "classic decoder").

Both give heatmaps at stride 4 (64×48 for a 256×192 crop).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class HeatmapHead(nn.Module):
    """Stride-16 features ``(B, D, h, w)`` → keypoint heatmaps ``(B, K, 4h, 4w)``."""

    def __init__(
        self, in_channels: int, num_keypoints: int = 17, kind: str = "simple", hidden: int = 256
    ) -> None:
        super().__init__()
        if kind not in ("simple", "classic"):
            raise ValueError(f"heatmap head kind must be 'simple' or 'classic', got {kind!r}")
        self.kind = kind
        if kind == "simple":
            self.layers = nn.Conv2d(in_channels, num_keypoints, kernel_size=3, padding=1)
        else:
            blocks: list[nn.Module] = []
            channels = in_channels
            for _ in range(2):
                blocks += [
                    nn.ConvTranspose2d(channels, hidden, kernel_size=4, stride=2, padding=1, bias=False),
                    nn.BatchNorm2d(hidden),
                    nn.ReLU(inplace=True),
                ]
                channels = hidden
            blocks.append(nn.Conv2d(hidden, num_keypoints, kernel_size=1))
            self.layers = nn.Sequential(*blocks)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.kind == "simple":
            features = F.relu(F.interpolate(features, scale_factor=4, mode="bilinear", align_corners=False))
        return self.layers(features)


def keypoint_mse_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Target-weighted heatmap MSE (mmpose ``KeypointMSELoss(use_target_weight=True)``).

    ``pred``/``target`` ``(B, K, h, w)``, ``weight`` ``(B, K)``; mean over all elements.
    """
    return ((pred - target) ** 2 * weight[:, :, None, None]).mean()
