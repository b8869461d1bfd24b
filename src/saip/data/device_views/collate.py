"""``DeviceViewCollate``: stacks decoded samples and draws the per-batch parameters (method.md §1).

Runs in the DataLoader workers like :class:`~saip.data.collate.SAIPCollate` and makes the same
per-batch draws with the same keys — rescale factors ``(seed, epoch, first index, STREAM_RESCALE,
slot)``, the CSR mask ``(seed, epoch, first index, STREAM_MASK)``, the canvas geometry
(:func:`~saip.data.device_views.layout.canvas_layout`) — but no pixel work beyond stacking uint8
images: the views are built on the training device.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from saip.data.collate import batch_key
from saip.data.config import SAIPViewConfig, parse_view_source
from saip.data.device_views.layout import canvas_layout
from saip.data.device_views.raw_batch import RawViewBatch, ViewPlan
from saip.data.masking import random_masking
from saip.data.rescale import draw_scale_factor, scaled_size
from saip.data.seeding import STREAM_MASK, STREAM_RESCALE, numpy_rng, torch_generator


def _plan(samples: Sequence[dict[str, Any]], kind: str, strengths: tuple[float, ...]) -> ViewPlan:
    """Stack one view kind's parameters view-major and index the views each op applies to."""

    def stacked(key: str) -> np.ndarray:  # (V, B, ...) → (V·B, ...)
        values = np.stack([s[kind][key] for s in samples], axis=1)
        return values.reshape(-1, *values.shape[2:])

    jitter, order = stacked("jitter"), stacked("order")
    steps = []
    for step in range(4):
        for op in range(4):
            chosen = jitter & (order[:, step] == op) if strengths[op] > 0 else np.zeros_like(jitter)
            steps.append(torch.from_numpy(np.flatnonzero(chosen)))
    blur = np.flatnonzero(stacked("blur"))
    return ViewPlan(
        count=int(jitter.shape[0]),
        boxes=torch.from_numpy(stacked("box")),
        flip=torch.from_numpy(stacked("flip")),
        factors=torch.from_numpy(stacked("factors")),
        jitter_steps=steps,
        gray=torch.from_numpy(stacked("gray")),
        blur_index=torch.from_numpy(blur),
        blur_sigma=torch.from_numpy(stacked("sigma")[blur]),
        solarize=torch.from_numpy(stacked("solarize")),
    )


class DeviceViewCollate:
    """``DataLoader(collate_fn=DeviceViewCollate(config, seed))`` over a ``DecodedViewDataset``."""

    def __init__(self, view_config: SAIPViewConfig | None = None, seed: int = 0) -> None:
        self.config = view_config if view_config is not None else SAIPViewConfig()
        self.seed = int(seed)

    def __call__(self, samples: Sequence[dict[str, Any]]) -> RawViewBatch:
        c = self.config
        epoch, index = batch_key(samples, "DeviceViewCollate")
        first = int(index[0])
        batch = RawViewBatch(
            index=index,
            epoch=epoch,
            images=torch.stack([s["image"] for s in samples]),
            views={kind: _plan(samples, kind, c.jitter) for kind in ("global", "local")},
        )
        batch.scaled_factors = [
            draw_scale_factor(
                numpy_rng(self.seed, epoch, first, STREAM_RESCALE, slot), c.scale_set, c.scale_range
            )
            for slot in range(len(c.scaled_views))
        ]
        if c.make_csr:
            kind, _ = parse_view_source(c.csr_source, c.n_local, "csr_source")
            size = scaled_size(
                c.global_size if kind == "global" else c.local_size, c.csr_scale, c.patch_stride
            )
            num_patches = (size[0] // c.patch_stride) * (size[1] // c.patch_stride)
            generator = torch_generator(self.seed, epoch, first, STREAM_MASK)
            batch.csr_ids_keep, batch.csr_mask, batch.csr_ids_restore = random_masking(
                len(samples), num_patches, c.mask_ratio, generator
            )
        if c.make_canvas:
            batch.canvas = canvas_layout(c, self.seed, epoch, index)
        return batch
