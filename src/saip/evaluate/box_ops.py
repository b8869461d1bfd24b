"""Pure-torch box operations: format conversions, pairwise IoU and greedy NMS.

torchvision's compiled ``nms``/``roi_align`` are unavailable on the CPU wheel (environment doc),
so detection evaluation uses these. Boxes are float tensors ``(N, 4)``; ``xyxy`` is
``(x1, y1, x2, y2)`` with continuous coordinates (area = ``(x2 - x1) * (y2 - y1)``, no ``+1``, as
in torchvision and pycocotools).
"""

from __future__ import annotations

import torch


def xywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """COCO ``(x, y, w, h)`` → ``(x1, y1, x2, y2)``."""
    x, y, w, h = boxes.unbind(-1)
    return torch.stack([x, y, x + w, y + h], dim=-1)


def xyxy_to_xywh(boxes: torch.Tensor) -> torch.Tensor:
    """``(x1, y1, x2, y2)`` → COCO ``(x, y, w, h)``."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack([x1, y1, x2 - x1, y2 - y1], dim=-1)


def cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """``(cx, cy, w, h)`` → ``(x1, y1, x2, y2)``."""
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


def xyxy_to_cxcywh(boxes: torch.Tensor) -> torch.Tensor:
    """``(x1, y1, x2, y2)`` → ``(cx, cy, w, h)``."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], dim=-1)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Area of ``xyxy`` boxes ``(N,)``; degenerate boxes have area 0."""
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU ``(N, M)`` of ``xyxy`` boxes ``(N, 4)`` and ``(M, 4)`` (0 where the union is 0)."""
    if boxes1.ndim != 2 or boxes1.shape[-1] != 4 or boxes2.ndim != 2 or boxes2.shape[-1] != 4:
        raise ValueError(
            f"box_iou expects (N, 4) and (M, 4) boxes, got {tuple(boxes1.shape)}, {tuple(boxes2.shape)}"
        )
    lt = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(boxes1)[:, None] + box_area(boxes2)[None, :] - inter
    return torch.where(
        union > 0, inter / union.clamp(min=torch.finfo(union.dtype).tiny), torch.zeros_like(inter)
    )


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression (same contract as ``torchvision.ops.nms``).

    Visits boxes by decreasing score; keeps a box unless its IoU with an already kept box is
    ``> iou_threshold``. Returns the kept indices (int64) sorted by decreasing score. The IoU
    matrix is computed once (``O(N^2)`` memory), the greedy pass is a loop over kept boxes.
    """
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"nms expects boxes of shape (N, 4), got {tuple(boxes.shape)}")
    if scores.shape != boxes.shape[:1]:
        raise ValueError(f"nms expects scores of shape ({boxes.shape[0]},), got {tuple(scores.shape)}")
    if boxes.shape[0] == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    order = torch.argsort(scores, descending=True, stable=True)
    iou = box_iou(boxes[order], boxes[order])
    suppressed = torch.zeros(order.shape[0], dtype=torch.bool, device=boxes.device)
    keep: list[int] = []
    for i in range(order.shape[0]):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return order[torch.tensor(keep, dtype=torch.int64, device=boxes.device)]
