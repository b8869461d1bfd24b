"""Per-channel normalisation of view batches (method.md §1; ImageNet mean/std by default)."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _channel_shape(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    shape = [1] * like.ndim
    shape[-3] = len(values)
    return torch.tensor(values, dtype=torch.float32, device=like.device).view(shape)


def normalize_uint8(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 ``(..., 3, H, W)`` in [0, 255] → float32 ``(x / 255 - mean) / std`` (two in-place passes)."""
    if images.dtype != torch.uint8:
        raise TypeError(f"normalize_uint8 expects uint8 images, got {images.dtype}")
    std_t = _channel_shape(std, images)
    scale = 1.0 / (255.0 * std_t)
    shift = _channel_shape(mean, images) / std_t
    return images.to(torch.float32).mul_(scale).sub_(shift)


def normalize(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Float ``(..., 3, H, W)`` in [0, 1] → ``(x - mean) / std``."""
    return (images - _channel_shape(mean, images)) / _channel_shape(std, images)


def denormalize(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Inverse of :func:`normalize`: ``x * std + mean`` (not clamped)."""
    return images * _channel_shape(std, images) + _channel_shape(mean, images)
