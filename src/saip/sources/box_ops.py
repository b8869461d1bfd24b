"""Box geometry in pure numpy: IoU matrix and greedy non-maximum suppression.

torchvision's compiled ``nms`` is unavailable on the CPU wheel used here (environment doc), and a
video-crop pipeline should not need torch at all, so these are written from the definitions:
IoU(a, b) = |a ∩ b| / |a ∪ b| on ``x1, y1, x2, y2`` boxes, and NMS as in Dalal & Triggs /
Felzenszwalb et al.: keep the highest-scoring box, drop every box overlapping it by more than a
threshold, repeat.
"""

from __future__ import annotations

import numpy as np


def as_xyxy(boxes: np.ndarray) -> np.ndarray:
    """Validate and return ``boxes`` as a float64 ``(N, 4+)`` array (extra columns are kept)."""
    array = np.asarray(boxes, dtype=np.float64)
    if array.ndim == 1 and array.size == 0:
        array = array.reshape(0, 4)
    if array.ndim != 2 or array.shape[1] < 4:
        raise ValueError(f"boxes must have shape (N, 4) or (N, 5), got {array.shape}")
    return array


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Area of ``x1, y1, x2, y2`` boxes (0 for degenerate boxes)."""
    boxes = as_xyxy(boxes)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU ``(N, M)`` between ``x1, y1, x2, y2`` boxes ``a (N, 4)`` and ``b (M, 4)``."""
    a, b = as_xyxy(a)[:, :4], as_xyxy(b)[:, :4]
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])  # (N, M, 2)
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept by greedy NMS, highest score first.

    A box is dropped when its IoU with an already kept, higher-scoring box is ``> iou_threshold``.
    Ties in score keep the earlier box (stable sort), so the result is deterministic.
    """
    boxes = as_xyxy(boxes)[:, :4]
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.shape[0] != boxes.shape[0]:
        raise ValueError(f"nms: {boxes.shape[0]} boxes but {scores.shape[0]} scores")
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        if order.size == 1:
            break
        overlaps = iou_matrix(boxes[best : best + 1], boxes[order[1:]])[0]
        order = order[1:][overlaps <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)
