"""Pure-torch box ops: conversions, IoU by hand, greedy NMS against a naive loop."""

from __future__ import annotations

import pytest
import torch

import saip  # noqa: F401  (installs the torchvision shim first)
from saip.evaluate.box_ops import (
    box_area,
    box_iou,
    cxcywh_to_xyxy,
    nms,
    xywh_to_xyxy,
    xyxy_to_cxcywh,
    xyxy_to_xywh,
)


def test_conversions_round_trip() -> None:
    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 1.0, 2.0]])
    assert torch.equal(xywh_to_xyxy(torch.tensor([[10.0, 20.0, 20.0, 40.0]])), boxes[:1])
    assert torch.allclose(xywh_to_xyxy(xyxy_to_xywh(boxes)), boxes)
    assert torch.allclose(cxcywh_to_xyxy(xyxy_to_cxcywh(boxes)), boxes)
    assert xyxy_to_cxcywh(boxes)[0].tolist() == [20.0, 40.0, 20.0, 40.0]
    assert box_area(boxes).tolist() == [800.0, 2.0]


def test_iou_hand_worked() -> None:
    a = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    b = torch.tensor(
        [[5.0, 0.0, 15.0, 10.0], [0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0], [0.0, 0.0, 5.0, 5.0]]
    )
    # overlap 50 / union 150; identical; disjoint; contained 25 / 100
    assert torch.allclose(box_iou(a, b), torch.tensor([[1 / 3, 1.0, 0.0, 0.25]]))
    degenerate = torch.tensor([[3.0, 3.0, 3.0, 3.0]])
    assert box_iou(degenerate, degenerate).item() == 0.0
    with pytest.raises(ValueError, match="box_iou"):
        box_iou(torch.zeros(3), b)


def _naive_nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> list[int]:
    """Textbook greedy NMS: repeatedly take the best remaining box, drop those overlapping it."""
    remaining = sorted(range(len(boxes)), key=lambda i: -float(scores[i]))
    keep = []
    while remaining:
        best = remaining.pop(0)
        keep.append(best)
        remaining = [
            i for i in remaining if float(box_iou(boxes[best : best + 1], boxes[i : i + 1])) <= threshold
        ]
    return keep


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_nms_matches_naive_loop(threshold: float) -> None:
    generator = torch.Generator().manual_seed(0)
    xy = torch.rand(60, 2, generator=generator) * 15
    wh = torch.rand(60, 2, generator=generator) * 30 + 5
    boxes = torch.cat([xy, xy + wh], dim=1)
    scores = torch.rand(60, generator=generator)
    kept = nms(boxes, scores, threshold)
    assert kept.tolist() == _naive_nms(boxes, scores, threshold)
    assert kept.dtype == torch.int64
    assert len(kept) < len(boxes)


def test_nms_edge_cases() -> None:
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).numel() == 0
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 0.0, 11.0, 10.0], [50.0, 50.0, 60.0, 60.0]])
    assert nms(boxes, torch.tensor([0.5, 0.9, 0.1]), 0.5).tolist() == [1, 2]
    with pytest.raises(ValueError, match="scores"):
        nms(boxes, torch.zeros(2), 0.5)
