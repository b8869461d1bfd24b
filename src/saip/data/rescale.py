"""Multi-resolution copies ``x_s`` (method.md §1 item 2): factors, stride rounding, batched resizing.

A factor is drawn per batch slot (all samples of a batch share it so the copies stack) and the
copy is made on the batched tensor with antialiased bicubic interpolation (the reference code
used nearest-neighbour, which aliases when downscaling).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def round_to_stride(length: float, stride: int) -> int:
    """Nearest multiple of ``stride`` to ``length`` (halves round up), at least ``stride``.

    ``stride * floor(length / stride + 0.5)``; e.g. with stride 16: 112 → 112, 56 → 64, 48.6 → 48.
    """
    return max(stride, stride * math.floor(length / stride + 0.5))


def scaled_size(size: tuple[int, int], factor: float, stride: int) -> tuple[int, int]:
    """``(H, W)`` of a view of ``size`` rescaled by ``factor``, each side rounded to ``stride``."""
    return round_to_stride(size[0] * factor, stride), round_to_stride(size[1] * factor, stride)


def draw_scale_factor(
    rng: np.random.Generator, scale_set: tuple[float, ...] | None, scale_range: tuple[float, float]
) -> float:
    """One factor: uniform over ``scale_set`` when given, else uniform in ``scale_range``."""
    if scale_set is not None:
        return float(scale_set[int(rng.integers(len(scale_set)))])
    return float(rng.uniform(scale_range[0], scale_range[1]))


def resize_batch(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a ``(B, C, H, W)`` float batch to ``size`` (bicubic, antialiased); no-op if equal."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return F.interpolate(images, size=size, mode="bicubic", align_corners=False, antialias=True)
