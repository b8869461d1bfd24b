"""Decoding person images with Pillow (method.md §1: every view starts from one RGB person crop).

Every decoded image becomes 8-bit RGB by its real bit depth and meaning (:func:`to_rgb`): 16-bit
grey (Pillow's ``I;16``/``I`` modes, which a plain ``convert("RGB")`` clips to white) is scaled by
255/65535; images with transparency (RGBA, LA, palette + alpha) are composited over the ImageNet
mean colour, which normalises to zero; CMYK and palette images are converted by Pillow; the EXIF
orientation of photos is applied (for annotated evaluation data, whose labels are in the stored
pixel frame, callers pass ``apply_exif=False``).

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
from PIL import Image, ImageFile, ImageOps

logger = logging.getLogger("saip.data")

IMAGE_EXTENSIONS: tuple[str, ...] = ("jpg", "jpeg", "png", "webp", "bmp")

# Everything Pillow (or the OS) raises for an unreadable, truncated, empty or non-image file.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes PIL.UnidentifiedImageError and "image file is truncated"
    ValueError,
    SyntaxError,  # raised by some Pillow plugins for malformed headers
    EOFError,
    Image.DecompressionBombError,
)

_warned_truncated_flag = False
_SIXTEEN_BIT_GREY = ("I;16", "I;16B", "I;16L", "I;16N", "I")  # PNG's 16-bit grey opens as one of these
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
MATTE_COLOR: tuple[int, int, int] = (124, 116, 104)  # ImageNet mean in 0..255: zero after normalising


class CorruptImageError(OSError):
    """A file that cannot be decoded as an RGB image (unreadable, truncated, empty, not an image)."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"cannot decode image {os.fspath(path)!r}: {reason}")
        self.path = Path(path)
        self.reason = reason


def to_rgb(image: Image.Image, apply_exif: bool = True) -> Image.Image:
    """8-bit RGB by the image's real bit depth (see the module docstring); decodes fully."""
    if apply_exif:
        image = ImageOps.exif_transpose(image)
    if image.mode in _SIXTEEN_BIT_GREY:
        values = np.asarray(image, dtype=np.float64)
        grey = np.clip(np.rint(values * (255.0 / 65535.0)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if image.mode == "F":
        return Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8), mode="L").convert("RGB")
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        matte = Image.new("RGBA", rgba.size, (*MATTE_COLOR, 255))
        return Image.alpha_composite(matte, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def load_rgb(path: str | os.PathLike[str], apply_exif: bool = True) -> Image.Image:
    """Decode ``path`` fully into an RGB ``PIL.Image`` (:func:`to_rgb`); raise :class:`CorruptImageError`
    if impossible."""
    global _warned_truncated_flag
    if ImageFile.LOAD_TRUNCATED_IMAGES and not _warned_truncated_flag:
        _warned_truncated_flag = True
        logger.warning(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True (set by some other code): truncated images "
            "will decode as partly grey instead of being skipped as corrupt"
        )
    try:
        with Image.open(path) as image:
            image.load()  # the full decode happens inside the try
            rgb = to_rgb(image, apply_exif)
    except DECODE_ERRORS as error:
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
        return to_rgb(item, apply_exif=False)
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
