"""Decoding person images with Pillow (method.md §1: every view starts from one RGB person crop).

Truncated files are corrupt: we never set ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` (it must stay
False), so Pillow raises on them and the caller can skip the file instead of training on a
half-grey image.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFile

logger = logging.getLogger("saip.data")

IMAGE_EXTENSIONS: tuple[str, ...] = ("jpg", "jpeg", "png", "webp", "bmp")

# Everything Pillow (or the OS) raises for an unreadable, truncated, empty or non-image file.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes PIL.UnidentifiedImageError and "image file is truncated"
    ValueError,
    SyntaxError,  # raised by some Pillow plugins for malformed headers
    EOFError,
    Image.DecompressionBombError,
)

_warned_truncated_flag = False


class CorruptImageError(OSError):
    """A file that cannot be decoded as an RGB image (unreadable, truncated, empty, not an image)."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"cannot decode image {os.fspath(path)!r}: {reason}")
        self.path = Path(path)
        self.reason = reason


def load_rgb(path: str | os.PathLike[str]) -> Image.Image:
    """Decode ``path`` fully into an RGB ``PIL.Image``; raise :class:`CorruptImageError` if impossible."""
    global _warned_truncated_flag
    if ImageFile.LOAD_TRUNCATED_IMAGES and not _warned_truncated_flag:
        _warned_truncated_flag = True
        logger.warning(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True (set by some other code): truncated images "
            "will decode as partly grey instead of being skipped as corrupt"
        )
    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")  # forces the full decode inside the try
    except _DECODE_ERRORS as error:
        raise CorruptImageError(path, f"{type(error).__name__}: {error}") from error
    if rgb.width < 1 or rgb.height < 1:
        raise CorruptImageError(path, "empty image")
    return rgb


def as_pil(item: Any) -> Image.Image:
    """Adapt one dataset item to an RGB ``PIL.Image``.

    Accepts a PIL image, a mapping with key ``"image"`` (the synthetic dataset's format), an
    HWC uint8 ``numpy`` array, or a CHW uint8 / float-in-[0,1] ``torch`` tensor.
    """
    if isinstance(item, Mapping):
        if "image" not in item:
            raise KeyError(f"dataset item is a mapping without an 'image' key (keys: {sorted(item)})")
        item = item["image"]
    if isinstance(item, Image.Image):
        return item if item.mode == "RGB" else item.convert("RGB")
    if isinstance(item, torch.Tensor):
        if item.ndim != 3 or item.shape[0] not in (1, 3):
            raise ValueError(f"image tensor must be CHW with 1 or 3 channels, got shape {tuple(item.shape)}")
        if item.is_floating_point():
            item = (item.clamp(0, 1) * 255).round().to(torch.uint8)
        item = item.expand(3, -1, -1).permute(1, 2, 0).contiguous().numpy()
    if isinstance(item, np.ndarray):
        if item.dtype != np.uint8 or item.ndim != 3 or item.shape[2] != 3:
            raise ValueError(f"image array must be HWC uint8 RGB, got {item.dtype} {item.shape}")
        return Image.fromarray(item, mode="RGB")
    raise TypeError(
        f"cannot use a {type(item).__name__} as an image (expected PIL image or dict with 'image')"
    )
