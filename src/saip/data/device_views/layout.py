"""Canvas geometry of one batch, drawn on the CPU exactly as ``SAIPCollate`` draws it (method.md §1 item 3).

The loader path's canvas (:meth:`saip.data.collate.SAIPCollate._make_canvas`) draws a donor shift
(and distractor shifts) from ``numpy_rng(seed, epoch, first index, STREAM_CANVAS)`` and, per sample
from ``numpy_rng(seed, epoch, index, STREAM_CANVAS)``, the background crop box
(:func:`saip.data.canvas.crop_backgrounds`) then each person's height and position
(:func:`saip.data.canvas.paste_persons`, :func:`~saip.data.canvas.place_box`). None of these draws
depends on pixels, only on view sizes, so :func:`canvas_layout` makes them without images, with
the same helpers in the same order: the device path pastes the same persons into the same boxes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from saip.data.augment import random_resized_crop_box
from saip.data.canvas import person_size, place_box
from saip.data.config import SAIPViewConfig, parse_view_source
from saip.data.seeding import STREAM_CANVAS, numpy_rng, torch_generator


@dataclass
class CanvasLayout:
    """Where everything goes on the canvases of one batch (B samples, K queries, D distractors).

    background: "batch" (crop of another sample's ``global1``), "color" or "noise".
    donor_shift: the batch's cyclic shift picking each sample's background donor ("batch").
    background_boxes: (B, 4) int64 ``(x1, y1, x2, y2)`` crop of the donor view ("batch").
    pixel_seed: seed of the generator of the "color"/"noise" pixels (``torch_generator``'s).
    boxes: (B, K, 4) int64 pasted query boxes; distractor_boxes: (B, D, 4) int64.
    distractor_shifts: D cyclic shifts picking each distractor's donor sample.
    """

    background: str
    boxes: torch.Tensor
    distractor_boxes: torch.Tensor
    donor_shift: int = 0
    background_boxes: torch.Tensor | None = None
    pixel_seed: int = 0
    distractor_shifts: list[int] = field(default_factory=list)


def _view_size(config: SAIPViewConfig, name: str) -> tuple[int, int]:
    kind, _ = parse_view_source(name, config.n_local, "canvas_persons")
    return config.global_size if kind == "global" else config.local_size


def canvas_layout(config: SAIPViewConfig, seed: int, epoch: int, index: torch.Tensor) -> CanvasLayout:
    """The canvas geometry ``SAIPCollate`` would draw for the samples ``index`` (B,) at ``epoch``."""
    c = config
    B = int(index.shape[0])
    first = int(index[0])
    Hc, Wc = c.canvas_size
    batch_rng = numpy_rng(seed, epoch, first, STREAM_CANVAS)
    sample_rngs = [numpy_rng(seed, epoch, int(i), STREAM_CANVAS) for i in index]
    background = c.canvas_background if (c.canvas_background != "batch" or B > 1) else "noise"
    layout = CanvasLayout(
        background=background,
        boxes=torch.zeros(B, len(c.canvas_persons), 4, dtype=torch.int64),
        distractor_boxes=torch.zeros(B, 0, 4, dtype=torch.int64),
    )
    if background == "batch":
        layout.donor_shift = int(batch_rng.integers(1, B))
        ratio = (0.75 * Wc / Hc, 4.0 / 3.0 * Wc / Hc)
        Hg, Wg = c.global_size
        crops = [random_resized_crop_box(rng, Hg, Wg, c.canvas_bg_scale, ratio) for rng in sample_rngs]
        layout.background_boxes = torch.tensor([(left, top, left + w, top + h) for top, left, h, w in crops])
    else:
        layout.pixel_seed = torch_generator(seed, epoch, first, STREAM_CANVAS).initial_seed()
    if c.n_distractors > 0 and B > 1:
        layout.distractor_shifts = [int(batch_rng.integers(1, B)) for _ in range(c.n_distractors)]
    sizes = [_view_size(c, name) for name in c.canvas_persons] + [c.global_size] * len(
        layout.distractor_shifts
    )
    K = len(c.canvas_persons)
    placed_all = []
    for rng in sample_rngs:
        placed: list[tuple[int, int, int, int]] = []
        for view_hw in sizes:
            size = person_size(view_hw, rng.uniform(*c.canvas_person_height), (Hc, Wc))
            placed.append(place_box(rng, size, (Hc, Wc), placed, c.max_overlap))
        placed_all.append(placed)
    all_boxes = torch.tensor(placed_all, dtype=torch.int64).view(B, len(sizes), 4)
    layout.boxes, layout.distractor_boxes = all_boxes[:, :K].contiguous(), all_boxes[:, K:].contiguous()
    return layout
