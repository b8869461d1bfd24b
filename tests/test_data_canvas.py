"""Multi-person canvas: exact box masks, no overlap, pasted pixels, alpha blend (method.md §1 item 3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from saip.data import SAIPCollate, SAIPViewConfig, ViewDataset, normalize, paste_persons, resize_person
from saip.data.canvas import box_iou, place_box


def _rects(boxes: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    masks = torch.zeros(*boxes.shape[:2], *hw, dtype=torch.bool)
    for b in range(boxes.shape[0]):
        for k in range(boxes.shape[1]):
            x1, y1, x2, y2 = boxes[b, k].tolist()
            masks[b, k, y1:y2, x1:x2] = True
    return masks


def _persons(B: int, sizes: list[tuple[int, int]], seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(B, 3, h, w, generator=g) for h, w in sizes]


def test_masks_equal_boxes_no_overlap_and_pixels_equal_pasted_person() -> None:
    B, hw = 6, (224, 224)
    persons = _persons(B, [(256, 128), (128, 64)])
    distractors = _persons(B, [(256, 128), (256, 128)], seed=1)
    background = torch.zeros(B, 3, *hw)
    rngs = [np.random.default_rng(i) for i in range(B)]
    result = paste_persons(background.clone(), persons, distractors, rngs, (0.4, 0.7), max_overlap=0.0)
    assert torch.equal(result.masks, _rects(result.boxes, hw))
    for b in range(B):
        boxes = result.boxes[b].tolist() + result.distractor_boxes[b].tolist()
        for i, box in enumerate(boxes):
            x1, y1, x2, y2 = box
            assert 0 <= x1 < x2 <= hw[1] and 0 <= y1 < y2 <= hw[0]
            assert box_iou(tuple(box), [tuple(o) for o in boxes[:i]]) == 0.0
        for k, person in enumerate(persons):
            x1, y1, x2, y2 = result.boxes[b, k].tolist()
            assert 0.4 * 224 - 1 <= y2 - y1 <= 0.7 * 224 + 1
            assert abs((x2 - x1) / (y2 - y1) - 0.5) < 0.02  # aspect kept
            expected = resize_person(person[b], (y2 - y1, x2 - x1))
            assert torch.equal(result.canvas[b, :, y1:y2, x1:x2], expected)
        # outside all pasted boxes the background is untouched
        covered = _rects(torch.tensor([boxes]), hw)[0].any(0)
        assert (result.canvas[b][:, ~covered] == 0).all()


def test_alpha_blend() -> None:
    B, hw = 2, (96, 96)
    persons = _persons(B, [(64, 32)])
    background = torch.randn(B, 3, *hw, generator=torch.Generator().manual_seed(3))
    result = paste_persons(
        background.clone(), persons, [], [np.random.default_rng(0)] * B, (0.5, 0.6), alpha=0.7
    )
    for b in range(B):
        x1, y1, x2, y2 = result.boxes[b, 0].tolist()
        expected = (
            0.7 * resize_person(persons[0][b], (y2 - y1, x2 - x1)) + 0.3 * background[b, :, y1:y2, x1:x2]
        )
        torch.testing.assert_close(result.canvas[b, :, y1:y2, x1:x2], expected)


def test_controlled_overlap_and_crowded_fallback() -> None:
    rng = np.random.default_rng(0)
    placed: list[tuple[int, int, int, int]] = []
    for _ in range(4):
        placed.append(place_box(rng, (60, 30), (96, 96), placed, max_overlap=0.3))
        assert box_iou(placed[-1], placed[:-1]) <= 0.3
    # persons that cannot fit side by side are shrunk, never overlapping
    placed = []
    for _ in range(3):
        placed.append(place_box(rng, (90, 60), (96, 96), placed, max_overlap=0.0))
        assert box_iou(placed[-1], placed[:-1]) == 0.0


@pytest.mark.parametrize("background", ["batch", "color", "noise"])
def test_collate_canvas_backgrounds(background: str) -> None:
    from PIL import Image

    config = SAIPViewConfig(
        global_size=(64, 32),
        local_size=(32, 16),
        n_local=1,
        n_scaled=0,
        make_csr=False,
        canvas_size=(64, 64),
        canvas_background=background,
        canvas_person_height=(0.4, 0.6),
    )
    images = [Image.new("RGB", (30, 60), (40 * i, 100, 200 - 40 * i)) for i in range(3)]
    dataset = ViewDataset(images, config, seed=0)
    batch = SAIPCollate(config, seed=0)([dataset[i] for i in range(3)])
    assert batch.canvas.shape == (3, 3, 64, 64)
    assert torch.equal(batch.canvas_masks, _rects(batch.canvas_boxes, (64, 64)))
    covered = batch.canvas_masks.any(1)
    if background == "color":
        for b in range(3):
            outside = batch.canvas[b][:, ~covered[b]]
            assert torch.allclose(outside, outside[:, :1].expand_as(outside))
    if background in ("color", "noise"):
        pixels = normalize(torch.zeros(3, 1, 1), config.mean, config.std)
        assert (batch.canvas[0][:, ~covered[0]] >= pixels.view(3, 1) - 1e-5).all()
    # a batch of one cannot borrow another sample's background: falls back to noise
    single = SAIPCollate(config, seed=0)([dataset[0]])
    assert single.canvas.shape == (1, 3, 64, 64)
