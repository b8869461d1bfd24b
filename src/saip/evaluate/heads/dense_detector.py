"""One-class CenterNet-style dense person detector head (Zhou et al., 2019, "Objects as Points").

The stride-16 backbone map is projected to ``hidden`` channels (1×1 conv-BN-ReLU, as the
segmentation head does: the 3×3 convolutions then never run over the backbone's full width at the
upsampled resolution) and upsampled to stride 4 by two (×2 bilinear, 3×3 conv-BN-ReLU) stages;
three 3×3-conv + 1×1 heads predict the centre heatmap (1 channel, logits), the box size ``(w, h)``
in input pixels and the sub-cell centre offset. Centre targets are elliptical Gaussians with σ =
α·(w, h)/6, α = 0.54 (TTFNet, Liu et al., AAAI 2020), which avoids CornerNet's radius formula and
suits tall pedestrian boxes. Loss: CenterNet's penalty-reduced focal loss (α=2, β=4) + 0.1·L1 size +
L1 offset at the centre cells.

With ``num_classes > 1`` the heatmap has one channel per class (CenterNet's multi-class detector);
per-object vectors (e.g. attributes) can be written at the centre cells (``values``) for extra
heads that read their prediction at each detected peak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from saip.evaluate.box_ops import nms

STRIDE = 4


def _conv_bn_relu(cin: int, cout: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def conv_branch(hidden: int, out: int) -> nn.Sequential:
    """A prediction branch on the stride-4 trunk: 3×3 conv, ReLU, 1×1 conv to ``out`` channels."""
    return nn.Sequential(
        nn.Conv2d(hidden, hidden, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(hidden, out, 1)
    )


class CenterNetHead(nn.Module):
    """Stride-16 features ``(B, D, h, w)`` → ``heatmap`` logits ``(B, K, 4h, 4w)``, ``size``, ``offset``."""

    def __init__(self, in_channels: int, hidden: int = 96, num_classes: int = 1) -> None:
        super().__init__()
        self.project = _conv_bn_relu(in_channels, hidden, kernel=1)
        self.up1 = _conv_bn_relu(hidden, hidden)
        self.up2 = _conv_bn_relu(hidden, hidden)
        self.heatmap = conv_branch(hidden, num_classes)
        self.size = conv_branch(hidden, 2)
        self.offset = conv_branch(hidden, 2)
        nn.init.constant_(self.heatmap[-1].bias, -math.log((1 - 0.1) / 0.1))  # prior 0.1 (CenterNet)

    def trunk(self, features: torch.Tensor) -> torch.Tensor:
        """The shared stride-4 map ``(B, hidden, 4h, 4w)`` the branches read."""
        x = self.project(features)
        x = self.up1(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
        return self.up2(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.branches(self.trunk(features))

    def branches(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``heatmap``, ``size`` and ``offset`` from the trunk's stride-4 map."""
        # Sizes are predicted in units of 16 px through softplus so they stay positive.
        return {"heatmap": self.heatmap(x), "size": F.softplus(self.size(x)) * 16.0, "offset": self.offset(x)}


def centernet_targets(
    boxes: list[torch.Tensor],
    map_size: tuple[int, int],
    alpha: float = 0.54,
    labels: list[torch.Tensor] | None = None,
    num_classes: int = 1,
    values: list[torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Dense targets for ``xyxy`` boxes in input pixels (one tensor ``(n_i, 4)`` per image).

    Returns ``heatmap`` ``(B,K,h,w)`` (per class, max over each object's Gaussian, 1 at its centre
    cell), ``size`` ``(B,2,h,w)``, ``offset`` ``(B,2,h,w)`` and ``mask`` ``(B,h,w)`` marking centre
    cells; with ``labels`` (class indices ``(n_i,)``) objects go to their class channel, and with
    ``values`` (``(n_i, E)`` per image) also ``values`` ``(B,E,h,w)`` holding each object's vector at
    its centre cell. Cell ``(i, j)`` has its centre at input pixel ``((j + 0.5)·4, (i + 0.5)·4)``.
    """
    h, w = map_size
    b = len(boxes)
    heatmap = torch.zeros(b, num_classes, h, w)
    size = torch.zeros(b, 2, h, w)
    offset = torch.zeros(b, 2, h, w)
    mask = torch.zeros(b, h, w, dtype=torch.bool)
    dims = values[0].shape[-1] if values else 0
    dense_values = torch.zeros(b, dims, h, w)
    ys = torch.arange(h, dtype=torch.float32)[:, None]
    xs = torch.arange(w, dtype=torch.float32)[None, :]
    for i, image_boxes in enumerate(boxes):
        # Larger boxes first, so a small box's centre regression wins a shared cell.
        areas = (image_boxes[:, 2] - image_boxes[:, 0]) * (image_boxes[:, 3] - image_boxes[:, 1])
        for n in torch.argsort(areas, descending=True).tolist():
            box = image_boxes[n]
            k = int(labels[i][n]) if labels is not None else 0
            bw, bh = float(box[2] - box[0]), float(box[3] - box[1])
            if bw <= 0 or bh <= 0:
                continue
            cx, cy = float(box[0] + box[2]) / 2 / STRIDE - 0.5, float(box[1] + box[3]) / 2 / STRIDE - 0.5
            ci, cj = int(round(cy)), int(round(cx))
            if not (0 <= ci < h and 0 <= cj < w):
                continue
            sx, sy = max(alpha * bw / STRIDE / 6, 0.5), max(alpha * bh / STRIDE / 6, 0.5)
            g = torch.exp(-((xs - cj) ** 2) / (2 * sx**2) - ((ys - ci) ** 2) / (2 * sy**2))
            heatmap[i, k] = torch.maximum(heatmap[i, k], g)
            size[i, :, ci, cj] = torch.tensor([bw, bh])
            offset[i, :, ci, cj] = torch.tensor([cx - cj, cy - ci])
            mask[i, ci, cj] = True
            if values is not None:
                dense_values[i, :, ci, cj] = values[i][n]
    targets = {"heatmap": heatmap, "size": size, "offset": offset, "mask": mask}
    if values is not None:
        targets["values"] = dense_values
    return targets


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


@dataclass
class CenterNetPeaks:
    """Decoded detections of one image: ``boxes`` xyxy ``(n, 4)`` in input pixels, ``scores``,
    class indices ``labels`` and the peak cells ``rows``/``cols`` on the stride-4 map."""

    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor


def decode_centernet(
    outputs: dict[str, torch.Tensor],
    top_k: int = 100,
    score_threshold: float = 0.01,
    nms_iou: float | None = 0.6,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per image ``(boxes xyxy (n,4), scores (n,))`` in input pixels (see :func:`decode_centernet_peaks`)."""
    return [(p.boxes, p.scores) for p in decode_centernet_peaks(outputs, top_k, score_threshold, nms_iou)]


def decode_centernet_peaks(
    outputs: dict[str, torch.Tensor],
    top_k: int = 100,
    score_threshold: float = 0.01,
    nms_iou: float | None = 0.6,
) -> list[CenterNetPeaks]:
    """Per image, the detections with their class and peak cell.

    Peaks = cells equal to the 3×3 max-pool of their class's score map (CenterNet), best ``top_k``
    over all classes above ``score_threshold``; optional greedy NMS (``box_ops.nms``, per class)
    removes duplicate peaks.
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
        label, idx = torch.div(idx, h * w, rounding_mode="floor"), idx % (h * w)
        row, col = torch.div(idx, w, rounding_mode="floor"), idx % w
        off = outputs["offset"][i][:, row, col]
        wh = outputs["size"][i][:, row, col]
        cx = (col.float() + off[0] + 0.5) * STRIDE
        cy = (row.float() + off[1] + 0.5) * STRIDE
        boxes = torch.stack([cx - wh[0] / 2, cy - wh[1] / 2, cx + wh[0] / 2, cy + wh[1] / 2], dim=-1)
        if nms_iou is not None and len(sc):
            # Per-class NMS in one call: shift each class's boxes far apart (torchvision's trick).
            shift = (label.float() * (float(boxes.abs().max()) + 1.0) * 2.0)[:, None]
            kept = nms(boxes + shift, sc, nms_iou)
            boxes, sc, label, row, col = boxes[kept], sc[kept], label[kept], row[kept], col[kept]
        results.append(CenterNetPeaks(boxes, sc, label, row, col))
    return results
