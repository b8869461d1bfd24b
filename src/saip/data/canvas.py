"""Multi-person canvas ``x_m`` for CSS (method.md §1 item 3; copy-paste, Ghiasi et al. 2021).

K person views of each sample are resized (aspect kept, height a random fraction of the canvas
height) and pasted at random positions on a background; the box mask of person k is exactly the
rectangle it was pasted into. Unlike the reference code (person A always top-left, person B
always to its right, fixed sizes), positions and sizes are random, placement avoids overlap by
rejection sampling (or allows IoU up to ``max_overlap``), and extra distractor persons may be
added from other samples of the batch.

Boxes are ``(x1, y1, x2, y2)`` integer pixels, half-open: the person covers
``canvas[:, y1:y2, x1:x2]``.

Cost: one small bicubic resize and one slice assignment per pasted person (about 0.1 ms
each on one core), plus one background crop-resize per sample.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from saip.data.augment import random_resized_crop_box

logger = logging.getLogger("saip.data")

_PLACEMENT_ATTEMPTS = 50
_SHRINK_STEPS = 10
_SHRINK = 0.8


@dataclass
class CanvasBatch:
    """canvas (B,3,Hc,Wc) float; boxes (B,K,4) int64; masks (B,K,Hc,Wc) bool; distractor_boxes (B,D,4)."""

    canvas: torch.Tensor
    boxes: torch.Tensor
    masks: torch.Tensor
    distractor_boxes: torch.Tensor


def resize_person(person: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize one ``(3, h, w)`` person view to ``size`` (bicubic, antialiased), as pasted."""
    if tuple(person.shape[-2:]) == tuple(size):
        return person
    return F.interpolate(person[None], size=size, mode="bicubic", align_corners=False, antialias=True)[0]


def person_size(
    view_hw: tuple[int, int], height_fraction: float, canvas_hw: tuple[int, int]
) -> tuple[int, int]:
    """``(h, w)`` of a pasted person: height = fraction × canvas height, aspect of the view kept."""
    Hc, Wc = canvas_hw
    h = max(1, int(round(height_fraction * Hc)))
    w = max(1, int(round(h * view_hw[1] / view_hw[0])))
    if w > Wc:  # too wide for the canvas: fit the width instead
        w, h = Wc, max(1, min(Hc, int(round(Wc * view_hw[0] / view_hw[1]))))
    return min(h, Hc), w


def box_iou(box: tuple[int, int, int, int], others: list[tuple[int, int, int, int]]) -> float:
    """Largest IoU between ``box`` and any of ``others`` (0 when none); boxes are half-open."""
    best = 0.0
    x1, y1, x2, y2 = box
    area = (x2 - x1) * (y2 - y1)
    for ox1, oy1, ox2, oy2 in others:
        inter = max(0, min(x2, ox2) - max(x1, ox1)) * max(0, min(y2, oy2) - max(y1, oy1))
        if inter:
            best = max(best, inter / (area + (ox2 - ox1) * (oy2 - oy1) - inter))
    return best


def _grid_ious(
    size: tuple[int, int], canvas_hw: tuple[int, int], placed: list[tuple[int, int, int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """All positions on a grid (step ~1/8 of the box side) and their largest IoU with ``placed``."""
    (Hc, Wc), (h, w) = canvas_hw, size
    ys = np.unique(np.r_[np.arange(0, Hc - h + 1, max(1, h // 8)), Hc - h])
    xs = np.unique(np.r_[np.arange(0, Wc - w + 1, max(1, w // 8)), Wc - w])
    y1, x1 = (a.ravel() for a in np.meshgrid(ys, xs, indexing="ij"))
    worst = np.zeros(y1.shape, dtype=np.float64)
    for ox1, oy1, ox2, oy2 in placed:
        inter = np.clip(np.minimum(x1 + w, ox2) - np.maximum(x1, ox1), 0, None) * np.clip(
            np.minimum(y1 + h, oy2) - np.maximum(y1, oy1), 0, None
        )
        worst = np.maximum(worst, inter / (h * w + (ox2 - ox1) * (oy2 - oy1) - inter))
    return np.stack([x1, y1], axis=1), worst


def place_box(
    rng: np.random.Generator,
    size: tuple[int, int],
    canvas_hw: tuple[int, int],
    placed: list[tuple[int, int, int, int]],
    max_overlap: float,
) -> tuple[int, int, int, int]:
    """A random box of ``size`` = (h, w) inside the canvas whose IoU with ``placed`` is ≤ ``max_overlap``.

    ``max_overlap == 0`` means no shared pixel. Rejection sampling (50 tries); if that fails, a
    uniform pick among the valid positions of a grid; if there are none the person is shrunk by
    0.8 and the search repeated (up to 10 times); as a last resort the least-overlapping grid
    position is used (only reachable with very crowded configs; logged at debug level).
    """
    Hc, Wc = canvas_hw
    h, w = size
    for _ in range(_PLACEMENT_ATTEMPTS):
        y1 = int(rng.integers(0, Hc - h + 1))
        x1 = int(rng.integers(0, Wc - w + 1))
        box = (x1, y1, x1 + w, y1 + h)
        if box_iou(box, placed) <= max_overlap:
            return box
    best: tuple[float, tuple[int, int, int, int]] | None = None
    for _ in range(_SHRINK_STEPS + 1):
        positions, ious = _grid_ious((h, w), canvas_hw, placed)
        valid = np.flatnonzero(ious <= max_overlap)
        if valid.size:
            x1, y1 = (int(v) for v in positions[valid[int(rng.integers(valid.size))]])
            return (x1, y1, x1 + w, y1 + h)
        i = int(np.argmin(ious))
        if best is None or ious[i] < best[0]:
            x1, y1 = (int(v) for v in positions[i])
            best = (float(ious[i]), (x1, y1, x1 + w, y1 + h))
        h, w = max(1, int(h * _SHRINK)), max(1, int(w * _SHRINK))
    assert best is not None
    logger.debug("canvas: no placement with IoU <= %s; using IoU %.3f", max_overlap, best[0])
    return best[1]


def crop_backgrounds(
    images: torch.Tensor,
    rngs: list[np.random.Generator],
    canvas_hw: tuple[int, int],
    scale: tuple[float, float],
) -> torch.Tensor:
    """Random resized crop (aspect of the canvas ×[3/4, 4/3]) of each ``(3, H, W)`` image to the canvas."""
    Hc, Wc = canvas_hw
    ratio = (0.75 * Wc / Hc, 4.0 / 3.0 * Wc / Hc)
    out = images.new_empty(images.shape[0], images.shape[1], Hc, Wc)
    for b, rng in enumerate(rngs):
        top, left, h, w = random_resized_crop_box(rng, images.shape[-2], images.shape[-1], scale, ratio)
        out[b] = resize_person(images[b, :, top : top + h, left : left + w], (Hc, Wc))
    return out


def paste_persons(
    backgrounds: torch.Tensor,
    persons: list[torch.Tensor],
    distractors: list[torch.Tensor],
    rngs: list[np.random.Generator],
    height_range: tuple[float, float],
    max_overlap: float = 0.0,
    alpha: float = 1.0,
) -> CanvasBatch:
    """Paste persons onto ``backgrounds`` (B,3,Hc,Wc), modified in place and returned.

    Args:
        persons: K tensors (B,3,h_k,w_k); person k of sample b is ``persons[k][b]`` and gets
            box/mask k.
        distractors: D tensors (B,3,h,w) pasted too (first, so query persons lie on top) but
            without masks; their boxes are returned in ``distractor_boxes``.
        rngs: one generator per sample (sizes then positions are drawn from it).
        height_range: pasted height as a fraction of the canvas height.
        max_overlap: largest IoU allowed between any two pasted persons (0 = disjoint).
        alpha: ``alpha * person + (1 - alpha) * background`` inside each box.
    """
    B, _, Hc, Wc = backgrounds.shape
    K, D = len(persons), len(distractors)
    boxes = torch.zeros(B, K, 4, dtype=torch.int64)
    distractor_boxes = torch.zeros(B, D, 4, dtype=torch.int64)
    masks = torch.zeros(B, K, Hc, Wc, dtype=torch.bool)
    for b in range(B):
        rng = rngs[b]
        # queries are placed first so they are never the ones squeezed by the fallback
        order = [(k, persons[k][b]) for k in range(K)] + [(K + d, distractors[d][b]) for d in range(D)]
        placed: list[tuple[int, int, int, int]] = []
        for _, view in order:
            size = person_size(tuple(view.shape[-2:]), rng.uniform(*height_range), (Hc, Wc))
            placed.append(place_box(rng, size, (Hc, Wc), placed, max_overlap))
        for slot in list(range(K, K + D)) + list(range(K)):  # paste distractors first, queries on top
            x1, y1, x2, y2 = placed[slot]
            view = persons[slot][b] if slot < K else distractors[slot - K][b]
            pasted = resize_person(view, (y2 - y1, x2 - x1))
            region = backgrounds[b, :, y1:y2, x1:x2]
            if alpha >= 1.0:
                region.copy_(pasted)
            else:
                region.mul_(1.0 - alpha).add_(pasted, alpha=alpha)
            if slot < K:
                boxes[b, slot] = torch.tensor(placed[slot])
                masks[b, slot, y1:y2, x1:x2] = True
            else:
                distractor_boxes[b, slot - K] = torch.tensor(placed[slot])
    return CanvasBatch(backgrounds, boxes, masks, distractor_boxes)
