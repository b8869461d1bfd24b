"""Per-sample views: 2 global views and ``n_local`` local crops (method.md §1 item 1).

This is the only per-sample work of the pipeline (the hot path in DataLoader workers);
everything derived from several views (rescaled copies, CSR view and mask, canvas) is done once
per batch in :class:`saip.data.collate.SAIPCollate`.

Views are returned as uint8 tensors; view ``v`` of sample ``index`` uses the generator keyed
``(seed, epoch, index, STREAM_VIEWS, v)`` (v = 0, 1 for the global views, 2 + i for local i),
so it does not depend on worker count, order, or on how many local crops are made.
"""

from __future__ import annotations

import torch
from PIL import Image

from saip.data.augment import PhotometricParams, make_view
from saip.data.config import SAIPViewConfig
from saip.data.seeding import STREAM_VIEWS, numpy_rng


class SAIPViewMaker:
    """Builds the per-sample views of one image according to a :class:`SAIPViewConfig`."""

    def __init__(self, config: SAIPViewConfig | None = None) -> None:
        self.config = config if config is not None else SAIPViewConfig()
        c = self.config
        common = dict(
            hflip_p=c.hflip_p,
            jitter=c.jitter,
            jitter_p=c.jitter_p,
            grayscale_p=c.grayscale_p,
            blur_sigma=c.blur_sigma,
        )
        self.global_params = tuple(
            PhotometricParams(blur_p=c.global_blur_p[i], solarize_p=c.global_solarize_p[i], **common)
            for i in range(2)
        )
        self.local_params = PhotometricParams(blur_p=c.local_blur_p, solarize_p=c.local_solarize_p, **common)

    def __call__(self, image: Image.Image, seed: int, epoch: int, index: int) -> dict[str, torch.Tensor]:
        """Views of ``image`` for sample ``index`` at ``epoch``.

        Returns ``{"global": (2, 3, Hg, Wg) uint8}`` plus ``"local": (n_local, 3, Hl, Wl) uint8``
        when ``n_local > 0``.
        """
        c = self.config
        ratio_g, ratio_l = c.crop_ratio("global"), c.crop_ratio("local")
        views = {
            "global": torch.stack(
                [
                    make_view(
                        image,
                        numpy_rng(seed, epoch, index, STREAM_VIEWS, v),
                        c.global_size,
                        c.global_scale,
                        ratio_g,
                        self.global_params[v],
                    )
                    for v in range(2)
                ]
            )
        }
        if c.n_local > 0:
            views["local"] = torch.stack(
                [
                    make_view(
                        image,
                        numpy_rng(seed, epoch, index, STREAM_VIEWS, 2 + i),
                        c.local_size,
                        c.local_scale,
                        ratio_l,
                        self.local_params,
                    )
                    for i in range(c.n_local)
                ]
            )
        return views
