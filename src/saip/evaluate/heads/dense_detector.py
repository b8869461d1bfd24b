"""One-class CenterNet-style dense person detector head (Zhou et al., 2019, "Objects as Points").

The stride-16 backbone map is upsampled to stride 4 by two (×2 bilinear, 3×3 conv-BN-ReLU)
stages; three 3×3-conv + 1×1 heads predict the centre heatmap (1 channel, logits), the box size
``(w, h)`` in input pixels and the sub-cell centre offset. Centre targets are elliptical
Gaussians with σ = α·(w, h)/6, α = 0.54 (TTFNet, Liu et al., AAAI 2020), which avoids CornerNet's
radius formula and suits tall pedestrian boxes. Loss: CenterNet's penalty-reduced focal loss
(α=2, β=4) + 0.1·L1 size + L1 offset at the centre cells.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from saip.evaluate.box_ops import nms

STRIDE = 4


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


def _branch(hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(hidden, hidden, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(hidden, out, 1)
    )


class CenterNetHead(nn.Module):
    """Stride-16 features ``(B, D, h, w)`` → ``heatmap`` logits ``(B, 1, 4h, 4w)``, ``size``, ``offset``."""

    def __init__(self, in_channels: int, hidden: int = 96) -> None:
        super().__init__()
        self.up1 = _conv_bn_relu(in_channels, hidden)
        self.up2 = _conv_bn_relu(hidden, hidden)
        self.heatmap = _branch(hidden, 1)
        self.size = _branch(hidden, 2)
        self.offset = _branch(hidden, 2)
        nn.init.constant_(self.heatmap[-1].bias, -math.log((1 - 0.1) / 0.1))  # prior 0.1 (CenterNet)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.up1(F.interpolate(features, scale_factor=2, mode="bilinear", align_corners=False))
        x = self.up2(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
        # Sizes are predicted in units of 16 px through softplus so they stay positive.
        return {"heatmap": self.heatmap(x), "size": F.softplus(self.size(x)) * 16.0, "offset": self.offset(x)}


def centernet_targets(
    boxes: list[torch.Tensor], map_size: tuple[int, int], alpha: float = 0.54
) -> dict[str, torch.Tensor]:
    """Dense targets for ``xyxy`` boxes in input pixels (one tensor ``(n_i, 4)`` per image).

    Returns ``heatmap`` ``(B,1,h,w)`` (max over each object's Gaussian, 1 at its centre cell),
    ``size`` ``(B,2,h,w)``, ``offset`` ``(B,2,h,w)`` and ``mask`` ``(B,h,w)`` marking centre cells.
    Cell ``(i, j)`` has its centre at input pixel ``((j + 0.5)·4, (i + 0.5)·4)``.
    """
    h, w = map_size
    b = len(boxes)
    heatmap = torch.zeros(b, 1, h, w)
    size = torch.zeros(b, 2, h, w)
    offset = torch.zeros(b, 2, h, w)
    mask = torch.zeros(b, h, w, dtype=torch.bool)
    ys = torch.arange(h, dtype=torch.float32)[:, None]
    xs = torch.arange(w, dtype=torch.float32)[None, :]
    for i, image_boxes in enumerate(boxes):
        # Larger boxes first, so a small box's centre regression wins a shared cell.
        areas = (image_boxes[:, 2] - image_boxes[:, 0]) * (image_boxes[:, 3] - image_boxes[:, 1])
        for box in image_boxes[torch.argsort(areas, descending=True)]:
            bw, bh = float(box[2] - box[0]), float(box[3] - box[1])
            if bw <= 0 or bh <= 0:
                continue
            cx, cy = float(box[0] + box[2]) / 2 / STRIDE - 0.5, float(box[1] + box[3]) / 2 / STRIDE - 0.5
            ci, cj = int(round(cy)), int(round(cx))
            if not (0 <= ci < h and 0 <= cj < w):
                continue
            sx, sy = max(alpha * bw / STRIDE / 6, 0.5), max(alpha * bh / STRIDE / 6, 0.5)
            g = torch.exp(-((xs - cj) ** 2) / (2 * sx**2) - ((ys - ci) ** 2) / (2 * sy**2))
            heatmap[i, 0] = torch.maximum(heatmap[i, 0], g)
            size[i, :, ci, cj] = torch.tensor([bw, bh])
            offset[i, :, ci, cj] = torch.tensor([cx - cj, cy - ci])
            mask[i, ci, cj] = True
    return {"heatmap": heatmap, "size": size, "offset": offset, "mask": mask}


def centernet_loss(outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """CenterNet loss: penalty-reduced focal loss (α=2, β=4) + 0.1·L1(size) + L1(offset), per object."""
    logits, gt = outputs["heatmap"], targets["heatmap"]
    pred = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    positive = gt.eq(1).float()
    pos_loss = -torch.log(pred) * (1 - pred) ** 2 * positive
    neg_loss = -torch.log(1 - pred) * pred**2 * (1 - gt) ** 4 * (1 - positive)
    num = positive.sum().clamp(min=1)
    focal = (pos_loss.sum() + neg_loss.sum()) / num
    mask = targets["mask"].unsqueeze(1).float()
    size_l1 = (F.l1_loss(outputs["size"], targets["size"], reduction="none") * mask).sum() / num
    offset_l1 = (F.l1_loss(outputs["offset"], targets["offset"], reduction="none") * mask).sum() / num
    return focal + 0.1 * size_l1 + offset_l1


def decode_centernet(
    outputs: dict[str, torch.Tensor],
    top_k: int = 100,
    score_threshold: float = 0.01,
    nms_iou: float | None = 0.6,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per image ``(boxes xyxy (n,4), scores (n,))`` in input pixels.

    Peaks = cells equal to the 3×3 max-pool of the score map (CenterNet), best ``top_k`` above
    ``score_threshold``; optional greedy NMS (``box_ops.nms``) removes duplicate peaks.
    """
    scores = torch.sigmoid(outputs["heatmap"])
    peaks = scores * (F.max_pool2d(scores, 3, stride=1, padding=1) == scores).float()
    b, _, h, w = scores.shape
    flat = peaks.reshape(b, -1)
    k = min(top_k, flat.shape[1])
    top_scores, index = flat.topk(k, dim=1)
    results = []
    for i in range(b):
        keep = top_scores[i] > score_threshold
        idx, sc = index[i][keep], top_scores[i][keep]
        row, col = torch.div(idx, w, rounding_mode="floor"), idx % w
        off = outputs["offset"][i][:, row, col]
        wh = outputs["size"][i][:, row, col]
        cx = (col.float() + off[0] + 0.5) * STRIDE
        cy = (row.float() + off[1] + 0.5) * STRIDE
        boxes = torch.stack([cx - wh[0] / 2, cy - wh[1] / 2, cx + wh[0] / 2, cy + wh[1] / 2], dim=-1)
        if nms_iou is not None and len(sc):
            kept = nms(boxes, sc, nms_iou)
            boxes, sc = boxes[kept], sc[kept]
        results.append((boxes, sc))
    return results
