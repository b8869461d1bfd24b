"""``DeviceViewTransform``: builds the ``SAIPBatch`` from a ``RawViewBatch`` with batched tensor ops.

Runs on whatever device the raw batch is on (the training loop calls it right after ``.to(device)``)
and produces the same :class:`~saip.data.batch.SAIPBatch` as :class:`~saip.data.collate.SAIPCollate`
(method.md §1 items 1-3), with the same random draws:

1. global and local views: crop + resize + flip as two batched matmuls per view index
   (:mod:`~saip.data.device_views.resample`, Pillow's antialiased bicubic), clamp to
   [0, 1]; colour jitter (ops in each view's own random order), grayscale, Gaussian blur, solarize
   (:mod:`~saip.data.device_views.color`, torchvision's formulas); normalise;
2. rescaled copies and the CSR view with :func:`saip.data.rescale.resize_batch` (as the loader path);
3. canvas: background crop of the donor sample's ``global1`` and each person pasted into its box,
   both as batched matmuls; box masks from the boxes.

No step reads a device tensor back to the host.
"""

from __future__ import annotations

import torch

from saip.data.batch import SAIPBatch
from saip.data.config import SAIPViewConfig
from saip.data.device_views import color
from saip.data.device_views.raw_batch import RawViewBatch, ViewPlan
from saip.data.device_views.resample import box_masks, crop_resize, paste_resized
from saip.data.normalize import normalize
from saip.data.rescale import resize_batch, scaled_size

_JITTER_OPS = (color.adjust_brightness, color.adjust_contrast, color.adjust_saturation, color.adjust_hue)


class DeviceViewTransform:
    """``DeviceViewTransform(config)(raw_batch) -> SAIPBatch`` (no gradients are recorded)."""

    def __init__(self, view_config: SAIPViewConfig | None = None) -> None:
        self.config = view_config if view_config is not None else SAIPViewConfig()
        self.blur_radius = color.blur_radius(self.config.blur_sigma[1])

    def __call__(self, raw: RawViewBatch) -> SAIPBatch:
        with torch.no_grad():
            return self._build(raw)

    # ------------------------------------------------------------------------------ views
    def views(self, pixels: torch.Tensor, plan: ViewPlan, size: tuple[int, int]) -> torch.Tensor:
        """(V, B, 3, h, w) float views in [0, 1] (not normalised) of ``pixels`` (B, 3, Hd, Wd) in [0, 1]."""
        B = pixels.shape[0]
        V = plan.count // B if B else 0
        if V == 0:
            return pixels.new_empty(0, B, 3, *size)
        x = crop_resize(pixels, plan.boxes, size, flip=plan.flip).clamp_(0.0, 1.0)
        x = self.photometric(x, plan)
        return x.view(V, B, 3, *size)

    def photometric(self, x: torch.Tensor, plan: ViewPlan) -> torch.Tensor:
        """Jitter (per-view op order), grayscale, blur, solarize — the loader path's order."""
        for step in range(4):
            for op in range(4):
                chosen = plan.jitter_steps[4 * step + op]
                if chosen.numel():
                    x.index_copy_(
                        0, chosen, _JITTER_OPS[op](x.index_select(0, chosen), plan.factors[chosen, op])
                    )
        x = color.to_grayscale(x, plan.gray)
        if plan.blur_index.numel():
            blurred = color.gaussian_blur(
                x.index_select(0, plan.blur_index), plan.blur_sigma, self.blur_radius
            )
            x = x.index_copy(0, plan.blur_index, blurred)
        return color.solarize(x, plan.solarize)

    # ------------------------------------------------------------------------------ batch
    def _build(self, raw: RawViewBatch) -> SAIPBatch:
        c = self.config
        B = len(raw)
        pixels = raw.images.permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
        global_views = normalize(self.views(pixels, raw.views["global"], c.global_size), c.mean, c.std)
        local_views = normalize(self.views(pixels, raw.views["local"], c.local_size), c.mean, c.std)
        batch = SAIPBatch(
            index=raw.index,
            epoch=raw.epoch,
            global_views=global_views,
            local_views=local_views.view(c.n_local, B, 3, *c.local_size),
            csr_anchor_source=c.csr_anchor,
        )
        for (kind, i), factor in zip(c.scaled_views, raw.scaled_factors, strict=True):
            source = batch.view(f"{kind}{i}")
            size = scaled_size(tuple(source.shape[-2:]), factor, c.patch_stride)
            batch.scaled_views.append(resize_batch(source, size))
            batch.scaled_factors.append(factor)
            batch.scaled_sources.append(f"{kind}{i}")
        if c.make_csr:
            source = batch.view(c.csr_source)
            batch.csr_view = resize_batch(
                source, scaled_size(tuple(source.shape[-2:]), c.csr_scale, c.patch_stride)
            )
            batch.csr_ids_keep, batch.csr_mask, batch.csr_ids_restore = (
                raw.csr_ids_keep,
                raw.csr_mask,
                raw.csr_ids_restore,
            )
        if c.make_canvas and raw.canvas is not None:
            self._canvas(batch, raw)
        return batch

    def _canvas(self, batch: SAIPBatch, raw: RawViewBatch) -> None:
        c, layout = self.config, raw.canvas
        assert layout is not None
        B, device = len(batch), batch.global_views.device
        hw = c.canvas_size
        if layout.background == "batch":
            donors = batch.global_views[1].roll(shifts=-layout.donor_shift, dims=0)
            canvas = crop_resize(donors, layout.background_boxes, hw, clip_to_box=True)
        else:
            generator = torch.Generator(device=device).manual_seed(layout.pixel_seed)
            shape = (B, 3, 1, 1) if layout.background == "color" else (B, 3, *hw)
            pixels = torch.rand(shape, generator=generator, device=device).expand(B, 3, *hw)
            canvas = normalize(pixels, c.mean, c.std).contiguous()
        for d, shift in enumerate(layout.distractor_shifts):  # distractors first, queries on top
            donor = batch.global_views[0].roll(shifts=-shift, dims=0)
            canvas = paste_resized(canvas, donor, layout.distractor_boxes[:, d], c.paste_alpha)
        for k, name in enumerate(c.canvas_persons):
            canvas = paste_resized(canvas, batch.view(name), layout.boxes[:, k], c.paste_alpha)
        batch.canvas = canvas
        batch.canvas_boxes = layout.boxes
        batch.canvas_masks = box_masks(layout.boxes, hw)
        batch.canvas_distractor_boxes = layout.distractor_boxes
        batch.css_query_sources = list(c.canvas_persons)
