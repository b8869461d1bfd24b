"""Random training crops for box datasets: objects keep the input's scale at a smaller cost per step.

Wraps a dataset whose items hold ``image`` ``(3, H, W)`` and ``boxes`` ``(n, 4)`` xyxy in input
pixels (e.g. :class:`~saip.evaluate.datasets.detection.LetterboxDataset`). Each item becomes a random
``(h, w)`` window; a box is kept when its centre lies inside the window (a CenterNet target needs its
centre cell) and is clipped to it. ``kept`` holds the indices of the kept boxes, so per-box labels
stay aligned. A wrapped dataset that tells its images' size (``item_size``, ``(H, W)``) lets the
window be drawn before decoding; with ``draw``/``load`` of its own, its draws are made with the
window's (:mod:`saip.evaluate.datasets.presampled`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset


class RandomBoxCrop(Dataset):
    """``dataset`` items cropped to a random ``crop`` ``(h, w)`` window, boxes shifted and clipped."""

    def __init__(self, dataset: Dataset, crop: tuple[int, int], seed: int = 0) -> None:
        self.dataset, self.crop = dataset, crop
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.load(index, self.draw(index))

    def draw(self, index: int) -> tuple[Any, tuple[int, int]]:
        """The wrapped dataset's draw for ``index`` (``None`` if it has none) and the window's ``(y, x)``."""
        inner = self.dataset.draw(index) if hasattr(self.dataset, "draw") else None
        size = getattr(self.dataset, "item_size", None)
        if size is None:  # a plain dataset: read the size from the item itself
            size = tuple(self.dataset[index]["image"].shape[-2:])
        (height, width), (ch, cw) = size, self.crop
        if ch > height or cw > width:
            raise ValueError(f"training crop {self.crop} is larger than the input {(height, width)}")
        return inner, (int(self.rng.integers(height - ch + 1)), int(self.rng.integers(width - cw + 1)))

    def load(self, index: int, draw: tuple[Any, tuple[int, int]]) -> dict[str, Any]:
        """Item ``index`` of the wrapped dataset cropped to the window of ``draw``."""
        inner, (y, x) = draw
        item = dict(self.dataset.load(index, inner) if hasattr(self.dataset, "load") else self.dataset[index])
        ch, cw = self.crop
        boxes = item["boxes"] - torch.tensor([x, y, x, y], dtype=item["boxes"].dtype)
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        kept = torch.nonzero((cx >= 0) & (cx < cw) & (cy >= 0) & (cy < ch)).flatten()
        boxes = boxes[kept]
        boxes = torch.stack(
            [
                boxes[:, 0].clamp(0, cw),
                boxes[:, 1].clamp(0, ch),
                boxes[:, 2].clamp(0, cw),
                boxes[:, 3].clamp(0, ch),
            ],
            dim=-1,
        )
        item.update(image=item["image"][:, y : y + ch, x : x + cw], boxes=boxes.reshape(-1, 4), kept=kept)
        return item
