"""Batched photometric augmentation with one parameter per image (method.md §1 item 1, DINO).

Each function takes ``(N, 3, H, W)`` float images in [0, 1] and ``(N,)`` per-image parameters, and
uses the formulas of torchvision's tensor kernels (``torchvision.transforms.v2.functional``):
brightness ``x·f``; contrast blends with the mean of the grayscale image; saturation blends with
the grayscale image; hue rotates the HSV hue; grayscale uses ITU-R 601 weights (0.2989, 0.587,
0.114); every blend is clamped to [0, 1]. Gaussian blur is a true separable Gaussian with
per-image sigma and replicated borders (Pillow's ``GaussianBlur(radius=sigma)``, which the loader
path uses, approximates the same Gaussian with box filters); solarize inverts values ``>= 128/255``
as ``ImageOps.solarize(threshold=128)`` does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)
SOLARIZE_THRESHOLD = 128.0 / 255.0


def _per_image(values: torch.Tensor) -> torch.Tensor:
    return values.to(torch.float32).view(-1, 1, 1, 1)


def grayscale(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) → (N, 1, H, W) luma."""
    r, g, b = images.unbind(dim=1)
    return (r * GRAY_WEIGHTS[0] + g * GRAY_WEIGHTS[1] + b * GRAY_WEIGHTS[2]).unsqueeze(1)


def _blend(images: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    f = _per_image(factor)
    return (images * f + other * (1.0 - f)).clamp_(0.0, 1.0)


def adjust_brightness(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``clamp(x · f)`` (``TF.adjust_brightness``)."""
    return (images * _per_image(factor)).clamp_(0.0, 1.0)


def adjust_contrast(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with the image's mean luma (``TF.adjust_contrast``)."""
    mean = grayscale(images).mean(dim=(-3, -2, -1), keepdim=True)
    return _blend(images, mean, factor)


def adjust_saturation(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with the image's luma (``TF.adjust_saturation``)."""
    return _blend(images, grayscale(images), factor)


def adjust_hue(images: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the HSV hue by ``shift`` turns (in [-0.5, 0.5]) keeping S and V (``TF.adjust_hue``).

    The HSV round trip in closed form: with ``v = max``, chroma ``c = max - min`` and the new hue
    ``h``, channel ``n ∈ {5, 3, 1}`` (R, G, B) is ``v - c · clamp(min(k, 4 - k), 0, 1)`` where
    ``k = (n + 6h) mod 6``.
    """
    r, g, b = images.unbind(dim=1)
    maxc, _ = images.max(dim=1)
    minc, _ = images.min(dim=1)
    chroma = maxc - minc
    safe = torch.where(chroma == 0, torch.ones_like(chroma), chroma)
    hue = torch.where(
        maxc == r,
        (g - b) / safe,
        torch.where(maxc == g, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe),
    )
    hue = (hue / 6.0 + _per_image(shift)[:, 0]).remainder(1.0)
    channels = []
    for n in (5.0, 3.0, 1.0):
        k = (n + 6.0 * hue).remainder(6.0)
        channels.append(maxc - chroma * torch.minimum(k, 4.0 - k).clamp(0.0, 1.0))
    return torch.stack(channels, dim=1)


def to_grayscale(images: torch.Tensor, apply: torch.Tensor) -> torch.Tensor:
    """Replace the images where ``apply`` (N,) bool by their 3-channel luma."""
    gray = grayscale(images).expand_as(images)
    return torch.where(apply.view(-1, 1, 1, 1), gray, images)


def solarize(images: torch.Tensor, apply: torch.Tensor) -> torch.Tensor:
    """Invert values ``>= 128/255`` where ``apply`` (N,) bool."""
    flip = apply.view(-1, 1, 1, 1) & (images >= SOLARIZE_THRESHOLD)
    return torch.where(flip, 1.0 - images, images)


def gaussian_kernels(sigma: torch.Tensor, radius: int) -> torch.Tensor:
    """(N, 2·radius + 1) normalised 1-D Gaussian kernels, one per sigma."""
    taps = torch.arange(-radius, radius + 1, device=sigma.device, dtype=torch.float32)
    kernels = torch.exp(-0.5 * (taps[None, :] / sigma.to(torch.float32)[:, None]) ** 2)
    return kernels / kernels.sum(dim=1, keepdim=True)


def blur_radius(max_sigma: float) -> int:
    """Kernel half-width covering ±3 sigma of the largest sigma."""
    return max(1, math.ceil(3.0 * max_sigma))


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor, radius: int) -> torch.Tensor:
    """Separable Gaussian blur, sigma per image (N,), borders replicated; one grouped conv per axis."""
    N, C, H, W = images.shape
    if N == 0:
        return images
    kernels = gaussian_kernels(sigma, radius).repeat_interleave(C, dim=0)  # (N·C, K)
    x = F.pad(images, (radius, radius, radius, radius), mode="replicate").reshape(
        1, N * C, H + 2 * radius, -1
    )
    x = F.conv2d(x, kernels[:, None, :, None], groups=N * C)
    x = F.conv2d(x, kernels[:, None, None, :], groups=N * C)
    return x.reshape(N, C, H, W)
