"""``DecodedViewDataset``: the loader side of the device path — decode, draw parameters, stack.

A DataLoader worker only decodes the image to uint8 (resized once, bicubic, to ``decode_size`` when
its size differs, so images stack) and draws the sample's view parameters
(:mod:`saip.data.device_views.params`) from the same keyed generators as the loader path; the
views themselves are built batched on the training device by
:class:`~saip.data.device_views.transform.DeviceViewTransform` (method.md §1 item 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image

from saip.data.config import SAIPViewConfig
from saip.data.device_views.params import draw_sample_views, pack_draws
from saip.data.image_io import as_pil
from saip.data.multicrop import SAIPViewMaker
from saip.data.view_dataset import ViewDataset


class DecodedViewDataset(ViewDataset):
    """``dataset[i]`` → ``{"image": (Hd, Wd, 3) uint8, "global", "local": view draws, "index", "epoch"}``.

    The image stays channels-last as decoded (the device permutes it; one copy less per sample).

    Args:
        source, view_maker, seed: as :class:`~saip.data.view_dataset.ViewDataset` (same epoch handling).
        decode_size: ``(H, W)`` every image is stacked at; None = the config's ``global_size``.
            Crop boxes are drawn on the source image's own size (as the loader path does) and
            mapped to this frame.
    """

    def __init__(
        self,
        source: Any,
        view_maker: SAIPViewMaker | SAIPViewConfig | None = None,
        seed: int = 0,
        decode_size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(source, view_maker, seed)
        size = tuple(decode_size) if decode_size is not None else self.config.global_size
        if len(size) != 2 or any(int(s) < 1 for s in size):
            raise ValueError(f"decode_size must be two positive integers (H, W), got {decode_size!r}")
        self.decode_size: tuple[int, int] = (int(size[0]), int(size[1]))

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = int(index)
        epoch = self.epoch
        image = as_pil(self.source[index])
        Hd, Wd = self.decode_size
        draws = draw_sample_views(self.view_maker, self.seed, epoch, index, image.height, image.width)
        scale_yx = (Hd / image.height, Wd / image.width)
        if (image.height, image.width) != (Hd, Wd):
            image = image.resize((Wd, Hd), Image.Resampling.BICUBIC)
        return {
            "image": torch.from_numpy(np.array(image, dtype=np.uint8)),
            "global": pack_draws(draws["global"], scale_yx),
            "local": pack_draws(draws["local"], scale_yx),
            "index": index,
            "epoch": epoch,
        }
