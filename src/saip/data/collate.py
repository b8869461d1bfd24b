"""``SAIPCollate``: per-batch part of the SAIP inputs (method.md §1 items 1-3).

Input: samples from :class:`~saip.data.view_dataset.ViewDataset` (uint8 views + index +
epoch). Output: a :class:`~saip.data.batch.SAIPBatch`. Steps and their CPU cost at batch 32 with
the default config, one thread (measured; ~150 ms per batch in all, vs ~12 ms per sample for the
per-sample views, i.e. ~380 ms per batch of 32 — the per-sample views dominate):

1. stack + normalise the uint8 views (in place) — ~30 ms;
2. ``n_scaled`` rescaled copies, factor per batch slot from ``(seed, epoch, first index, slot)``,
   bicubic antialiased ``F.interpolate`` on the batched tensor — ~20 ms each;
3. CSR view (global view rescaled by ``csr_scale``) + random masking — ~10 ms;
4. canvas: one background crop-resize and K (+D) person resizes per sample — ~50 ms.

Steps switched off in the config are skipped entirely. Randomness: per-batch draws use the key
``(seed, epoch, index of the first sample)``, per-sample canvas draws ``(seed, epoch, index)``,
so the batch depends only on which samples it holds, never on workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from saip.data.batch import SAIPBatch
from saip.data.canvas import crop_backgrounds, paste_persons
from saip.data.config import SAIPViewConfig
from saip.data.masking import random_masking
from saip.data.normalize import normalize, normalize_uint8
from saip.data.rescale import draw_scale_factor, resize_batch, scaled_size
from saip.data.seeding import STREAM_CANVAS, STREAM_MASK, STREAM_RESCALE, numpy_rng, torch_generator


def batch_key(samples: Sequence[dict[str, Any]], collate: str) -> tuple[int, torch.Tensor]:
    """The batch's epoch and sample indices (the key of its per-batch random draws); one epoch only."""
    if not samples:
        raise ValueError(f"{collate} got an empty batch")
    epochs = {int(s["epoch"]) for s in samples}
    if len(epochs) != 1:
        raise ValueError(f"samples of one batch come from different epochs {sorted(epochs)}")
    return epochs.pop(), torch.tensor([int(s["index"]) for s in samples], dtype=torch.int64)


def _name(kind: str, index: int) -> str:
    return f"{kind}{index}"


class SAIPCollate:
    """Collate callable for ``DataLoader(collate_fn=SAIPCollate(config, seed))``.

    ``seed`` should be the ``ViewDataset``'s seed (it keys the per-batch draws).
    """

    def __init__(self, view_config: SAIPViewConfig | None = None, seed: int = 0) -> None:
        self.config = view_config if view_config is not None else SAIPViewConfig()
        self.seed = int(seed)

    def __call__(self, samples: Sequence[dict[str, Any]]) -> SAIPBatch:
        c = self.config
        epoch, index = batch_key(samples, "SAIPCollate")
        first = int(index[0])
        B = len(samples)

        global_views = normalize_uint8(torch.stack([s["global"] for s in samples], dim=1), c.mean, c.std)
        if c.n_local > 0:
            local_views = normalize_uint8(torch.stack([s["local"] for s in samples], dim=1), c.mean, c.std)
        else:
            local_views = global_views.new_empty(0, B, 3, *c.local_size)
        batch = SAIPBatch(
            index=index,
            epoch=epoch,
            global_views=global_views,
            local_views=local_views,
            csr_anchor_source=c.csr_anchor,
        )

        for slot, (kind, i) in enumerate(c.scaled_views):
            factor = draw_scale_factor(
                numpy_rng(self.seed, epoch, first, STREAM_RESCALE, slot), c.scale_set, c.scale_range
            )
            source = batch.view(_name(kind, i))
            size = scaled_size(tuple(source.shape[-2:]), factor, c.patch_stride)
            batch.scaled_views.append(resize_batch(source, size))
            batch.scaled_factors.append(factor)
            batch.scaled_sources.append(_name(kind, i))

        if c.make_csr:
            source = batch.view(c.csr_source)
            size = scaled_size(tuple(source.shape[-2:]), c.csr_scale, c.patch_stride)
            batch.csr_view = resize_batch(source, size)
            num_patches = (size[0] // c.patch_stride) * (size[1] // c.patch_stride)
            generator = torch_generator(self.seed, epoch, first, STREAM_MASK)
            batch.csr_ids_keep, batch.csr_mask, batch.csr_ids_restore = random_masking(
                B, num_patches, c.mask_ratio, generator
            )

        if c.make_canvas:
            self._make_canvas(batch, epoch, first)
        return batch

    def _make_canvas(self, batch: SAIPBatch, epoch: int, first: int) -> None:
        c = self.config
        B = len(batch)
        batch_rng = numpy_rng(self.seed, epoch, first, STREAM_CANVAS)
        sample_rngs = [numpy_rng(self.seed, epoch, int(i), STREAM_CANVAS) for i in batch.index]
        canvas_hw = c.canvas_size
        background = c.canvas_background if (c.canvas_background != "batch" or B > 1) else "noise"
        if background == "batch":
            # another sample's second global view, via a random non-identity cyclic shift
            shift = int(batch_rng.integers(1, B))
            donors = batch.global_views[1].roll(shifts=-shift, dims=0)
            canvas = crop_backgrounds(donors, sample_rngs, canvas_hw, c.canvas_bg_scale)
        else:
            generator = torch_generator(self.seed, epoch, first, STREAM_CANVAS)
            if background == "color":
                pixels = torch.rand(B, 3, 1, 1, generator=generator).expand(B, 3, *canvas_hw)
            else:
                pixels = torch.rand(B, 3, *canvas_hw, generator=generator)
            canvas = normalize(pixels, c.mean, c.std).contiguous()
        distractors = []
        if c.n_distractors > 0 and B > 1:
            for _ in range(c.n_distractors):
                shift = int(batch_rng.integers(1, B))
                distractors.append(batch.global_views[0].roll(shifts=-shift, dims=0))
        persons = [batch.view(name) for name in c.canvas_persons]
        result = paste_persons(
            canvas, persons, distractors, sample_rngs, c.canvas_person_height, c.max_overlap, c.paste_alpha
        )
        batch.canvas = result.canvas
        batch.canvas_boxes = result.boxes
        batch.canvas_masks = result.masks
        batch.canvas_distractor_boxes = result.distractor_boxes
        batch.css_query_sources = list(c.canvas_persons)
