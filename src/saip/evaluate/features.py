"""Batched frozen-feature extraction: image files → resized uint8 tensors → backbone features.

Used by the frozen protocols (kNN ReID, linear attribute probe, the built-in probe) and by the
fine-tuning loops' evaluation. Images are decoded with Pillow and resized (bilinear) to the
evaluation size, as the reference ReID/attribute pipelines do (256×128 person crops). Workers, autocast
and the progress bar follow an :class:`~saip.evaluate.runtime.EvalRuntime`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import Dataset

from saip.data.image_io import load_rgb
from saip.data.normalize import normalize_uint8
from saip.evaluate.runtime import EvalRuntime, resolve_runtime

Pooling = Literal["token", "mean", "concat"]
POOLINGS: tuple[str, ...] = ("token", "mean", "concat")


def read_resized(path: str | Path, size: tuple[int, int]) -> torch.Tensor:
    """Decode ``path`` to RGB and resize it to ``size`` = (H, W): uint8 ``(3, H, W)``."""
    image = load_rgb(path)
    h, w = size
    if image.size != (w, h):
        image = image.resize((w, h), Image.BILINEAR)
    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).contiguous()


class ImageListDataset(Dataset):
    """Images from a list of files, resized to ``size``; items are ``(uint8 (3, H, W), index)``."""

    def __init__(self, paths: Sequence[str | Path], size: tuple[int, int]) -> None:
        self.paths = list(paths)
        self.size = tuple(size)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return read_resized(self.paths[index], self.size), index


def load_images(
    paths: Sequence[str | Path], size: tuple[int, int], runtime: EvalRuntime | None = None
) -> torch.Tensor:
    """All images of ``paths`` as one uint8 tensor ``(N, 3, H, W)`` (for small evaluation sets), decoded
    by ``runtime``'s workers."""
    if not paths:
        return torch.empty(0, 3, *size, dtype=torch.uint8)
    runtime = resolve_runtime(runtime)
    loader = runtime.loader(ImageListDataset(paths, size), batch_size=64)
    return torch.cat([batch for batch, _ in runtime.bar(loader, "decode", total=len(loader))])


def pool_output(image_token: torch.Tensor, patch_tokens: torch.Tensor, pooling: Pooling) -> torch.Tensor:
    """The feature of an image: its image token, the mean patch token, or both concatenated."""
    if pooling == "token":
        return image_token
    if pooling == "mean":
        return patch_tokens.mean(dim=1)
    if pooling == "concat":
        return torch.cat([image_token, patch_tokens.mean(dim=1)], dim=1)
    raise ValueError(f"unknown pooling {pooling!r}; choose from {', '.join(POOLINGS)}")


@torch.no_grad()
def extract_features(
    backbone: nn.Module,
    images: torch.Tensor | Sequence[str | Path],
    mean: Sequence[float],
    std: Sequence[float],
    size: tuple[int, int] | None = None,
    batch_size: int = 64,
    pooling: Pooling = "token",
    device: str | torch.device = "cpu",
    runtime: EvalRuntime | None = None,
) -> torch.Tensor:
    """Frozen features ``(N, D)`` (float32, on the CPU) of ``images``.

    Args:
        images: uint8 ``(N, 3, H, W)`` tensor, or image files (then ``size`` = (H, W) is required).
        mean, std: the backbone's input normalisation.
        pooling: ``token`` (image token), ``mean`` (mean patch token) or ``concat``.
        runtime: decoding workers, autocast and progress bar (default :class:`EvalRuntime`).
    """
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; choose from {', '.join(POOLINGS)}")
    runtime = resolve_runtime(runtime)
    was_training = backbone.training
    backbone.eval()
    if isinstance(images, torch.Tensor):
        batches = [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
    else:
        if size is None:
            raise ValueError("extract_features: size=(H, W) is required for image files")
        loader = runtime.loader(ImageListDataset(images, size), batch_size=batch_size, device=device)
        batches = (batch for batch, _ in loader)
    feats = []
    total = -(-len(images) // batch_size)
    for batch in runtime.bar(batches, "features", total=total):
        x = normalize_uint8(batch.to(device, non_blocking=True), mean, std)
        with runtime.autocast(device):
            out = backbone(x)
        feats.append(pool_output(out.image_token.float(), out.patch_tokens.float(), pooling).cpu())
    backbone.train(was_training)
    if not feats:
        raise ValueError("extract_features: no images")
    return torch.cat(feats)
