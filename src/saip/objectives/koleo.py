"""KoLeo regulariser (DINOv2, Oquab et al., 2023, §4 "KoLeo regularizer"; Sablayrolles et al., 2019).

DINO-style objectives trained briefly from a random init tend to a *dimensional* collapse: the
image features spread over only a handful of directions (effective rank ~6-8 of 192 for ViT-Tiny
after a few hundred CPU steps, ``benchmarks/ssl_diagnosis.py``), so images that differ look alike.
The Kozachenko-Leonenko differential-entropy estimator, used as a loss, pushes every feature away
from its nearest neighbour in the batch and so spreads the batch uniformly over the sphere::

    L_koleo = - 1/n sum_i log( min_{j != i} || z_i - z_j ||_2 + eps ),    z = x / ||x||

DINOv2 applies it, with weight 0.1, to the student's image tokens of each global crop, per GPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def koleo_loss(features: Tensor, eps: float = 1e-8) -> Tensor:
    """``L_koleo`` of one batch of features ``(n, d)``, ``n >= 2`` (float32 even under autocast)."""
    if features.shape[0] < 2:
        raise ValueError(f"KoLeo needs at least 2 samples, got {features.shape[0]}")
    with torch.autocast(device_type=features.device.type, enabled=False):
        z = F.normalize(features.float(), dim=-1, eps=eps)
        with torch.no_grad():  # the neighbour's index only; the distance below carries the gradient
            sim = z @ z.T
            sim.fill_diagonal_(-2.0)
            nearest = sim.argmax(dim=1)
        distance = (z - z[nearest]).norm(dim=-1)
        return -torch.log(distance + eps).mean()
