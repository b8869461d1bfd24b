"""Multi-class CenterNet detector with per-box attribute classification (for Fashionpedia-style
part-level attribute parsing, Jia et al., ECCV 2020).

The detector is :class:`~saip.evaluate.heads.dense_detector.CenterNetHead` with one heatmap channel
per garment category (CenterNet, Zhou et al., 2019). An extra branch on the same stride-4 trunk
predicts attribute logits at every cell; a detection's attributes are read at its peak cell
(CenterNet's recipe for per-object properties), trained with binary cross-entropy at the
ground-truth centre cells. This replaces the RoI attribute head of Attribute-Mask R-CNN, whose
``roi_align`` is unavailable on the CPU torchvision wheel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from saip.evaluate.heads.dense_detector import (
    CenterNetHead,
    CenterNetPeaks,
    centernet_loss,
    centernet_targets,
    conv_branch,
    decode_centernet_peaks,
)


class AttributeCenterNetHead(CenterNetHead):
    """Stride-16 features → ``heatmap`` ``(B, K, 4h, 4w)``, ``size``, ``offset`` and ``attributes``
    logits ``(B, A, 4h, 4w)``."""

    def __init__(self, in_channels: int, num_classes: int, num_attributes: int, hidden: int = 64) -> None:
        super().__init__(in_channels, hidden=hidden, num_classes=num_classes)
        self.attributes = conv_branch(hidden, num_attributes)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        trunk = self.trunk(features)
        outputs = self.branches(trunk)
        outputs["attributes"] = self.attributes(trunk)
        return outputs


def attribute_detector_loss(
    outputs: dict[str, torch.Tensor],
    boxes: list[torch.Tensor],
    labels: list[torch.Tensor],
    attributes: list[torch.Tensor],
    attribute_weight: float = 1.0,
) -> torch.Tensor:
    """CenterNet loss (per-class heatmaps) + ``attribute_weight``·BCE of the attributes at centre cells."""
    num_classes = outputs["heatmap"].shape[1]
    map_size = tuple(outputs["heatmap"].shape[-2:])
    targets = centernet_targets(boxes, map_size, labels=labels, num_classes=num_classes, values=attributes)
    targets = {k: v.to(outputs["heatmap"].device) for k, v in targets.items()}
    mask = targets["mask"]
    logits = outputs["attributes"].permute(0, 2, 3, 1)[mask]  # (objects, A)
    values = targets["values"].permute(0, 2, 3, 1)[mask]
    bce = F.binary_cross_entropy_with_logits(logits, values) if len(logits) else logits.sum()
    return centernet_loss(outputs, targets) + attribute_weight * bce


@torch.no_grad()
def decode_attribute_detections(
    outputs: dict[str, torch.Tensor],
    top_k: int = 100,
    score_threshold: float = 0.01,
    nms_iou: float | None = 0.6,
    attribute_threshold: float = 0.5,
) -> list[tuple[CenterNetPeaks, torch.Tensor]]:
    """Per image: the decoded detections and their attribute decisions ``(n, A)`` bool (prob > threshold)."""
    cpu = {k: v.float().cpu() for k, v in outputs.items()}
    results = []
    for i, peaks in enumerate(decode_centernet_peaks(cpu, top_k, score_threshold, nms_iou)):
        probs = torch.sigmoid(cpu["attributes"][i][:, peaks.rows, peaks.cols]).T
        results.append((peaks, probs > attribute_threshold))
    return results
