"""Multi-human parsing head: semantic part parsing + bottom-up instance grouping by person centres.

Design (chosen over detector + per-person parsing): one pass over the image, no RoI cropping
(torchvision's compiled ``roi_align`` is missing on the CPU wheel and a second pass per person
would multiply the cost of a CPU budget), and every pixel is parsed at full resolution instead of
at a fixed RoI size. It follows the grouping idea of PGN (Gong et al., ECCV 2018: semantic part
segmentation + instance grouping) with the centre/offset grouping of Panoptic-DeepLab (Cheng et
al., CVPR 2020):

* ``parts``: :class:`~saip.evaluate.heads.segmentation.SegmentationHead` logits at the input size;
* person centres: a one-class :class:`~saip.evaluate.heads.dense_detector.CenterNetHead` on the
  person boxes (centre heatmap, box size and offset at stride 4);
* ``grouping``: at every stride-4 cell of a person, the vector to that person's box centre (in
  units of 16 px), read from the same stride-4 trunk as the centres.

At test time the centre peaks above ``center_threshold`` (Panoptic-DeepLab's 0.1) are the persons
(score = peak score); every foreground pixel (part ≠ background) moves by its predicted vector and
joins the nearest centre; a person's part map is the semantic prediction on its pixels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import masks_to_boxes

from saip.evaluate.heads.dense_detector import (
    STRIDE,
    CenterNetHead,
    centernet_loss,
    centernet_targets,
    conv_branch,
    decode_centernet_peaks,
)
from saip.evaluate.heads.segmentation import SegmentationHead

OFFSET_UNIT = 16.0  # grouping vectors are predicted in units of 16 input pixels
IGNORE_INDEX = 255


class MultiHumanParsingHead(nn.Module):
    """Stride-16 features → ``parts`` logits ``(B, C, H, W)``, centre ``heatmap``/``size``/``offset``
    and ``grouping`` vectors ``(B, 2, H/4, W/4)``."""

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 64) -> None:
        super().__init__()
        self.parts = SegmentationHead(in_channels, num_classes, hidden=hidden)
        self.centers = CenterNetHead(in_channels, hidden=hidden)
        self.grouping = conv_branch(hidden, 2)

    def forward(self, features: torch.Tensor, output_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        trunk = self.centers.trunk(features)
        outputs = self.centers.branches(trunk)
        outputs["grouping"] = self.grouping(trunk)
        outputs["parts"] = self.parts(features, output_size)
        return outputs


def person_boxes(human: torch.Tensor) -> list[torch.Tensor]:
    """Tight ``xyxy`` boxes (pixel edges, ``x2 = last column + 1``) of persons 1..max in each map."""
    boxes = []
    for image in human:
        ids = [int(k) for k in torch.unique(image) if k > 0]
        if not ids:
            boxes.append(torch.zeros(0, 4))
            continue
        masks = torch.stack([image == k for k in ids])
        boxes.append(masks_to_boxes(masks) + torch.tensor([0.0, 0.0, 1.0, 1.0]))
    return boxes


def grouping_targets(human: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Vectors ``(B, 2, H/4, W/4)`` from each person cell to its box centre (÷16) and the cell mask.

    A stride-4 cell belongs to the person at its centre pixel ``(4i + 2, 4j + 2)``.
    """
    b, h, w = human.shape
    cells = human[:, STRIDE // 2 :: STRIDE, STRIDE // 2 :: STRIDE][:, : h // STRIDE, : w // STRIDE]
    ys = (torch.arange(cells.shape[1], dtype=torch.float32) + 0.5) * STRIDE
    xs = (torch.arange(cells.shape[2], dtype=torch.float32) + 0.5) * STRIDE
    target = torch.zeros(b, 2, *cells.shape[1:])
    for i, boxes in enumerate(person_boxes(human)):
        ids = [int(k) for k in torch.unique(human[i]) if k > 0]
        for k, box in zip(ids, boxes, strict=True):
            sel = cells[i] == k
            cx, cy = float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2
            target[i, 0][sel] = ((cx - xs[None, :]) / OFFSET_UNIT).expand_as(sel)[sel]
            target[i, 1][sel] = ((cy - ys[:, None]) / OFFSET_UNIT).expand_as(sel)[sel]
    return target, cells > 0


def mhp_loss(
    outputs: dict[str, torch.Tensor],
    category: torch.Tensor,
    human: torch.Tensor,
    grouping_weight: float = 0.5,
) -> torch.Tensor:
    """Cross-entropy on parts + CenterNet loss on person centres + ``grouping_weight``·L1 on the
    grouping vectors of person cells."""
    device = outputs["parts"].device
    map_size = tuple(outputs["heatmap"].shape[-2:])
    centers = {k: v.to(device) for k, v in centernet_targets(person_boxes(human), map_size).items()}
    target, mask = grouping_targets(human)
    target, mask = target.to(device), mask.to(device).unsqueeze(1).float()
    l1 = (F.l1_loss(outputs["grouping"], target, reduction="none") * mask).sum() / mask.sum().clamp(min=1)
    parts = F.cross_entropy(outputs["parts"], category.to(device), ignore_index=IGNORE_INDEX)
    return parts + centernet_loss(outputs, centers) + grouping_weight * l1


@torch.no_grad()
def group_persons(
    outputs: dict[str, torch.Tensor], center_threshold: float = 0.1, max_persons: int = 30
) -> list[tuple[np.ndarray, list[np.ndarray], list[float]]]:
    """Per image: the semantic prediction ``(H, W)`` and the persons' part maps with their scores."""
    parts = outputs["parts"].argmax(1).cpu()
    peaks = decode_centernet_peaks(
        {k: outputs[k].float().cpu() for k in ("heatmap", "size", "offset")},
        top_k=max_persons,
        score_threshold=center_threshold,
        nms_iou=None,
    )
    h, w = parts.shape[-2:]
    grouping = F.interpolate(outputs["grouping"].float().cpu(), size=(h, w), mode="nearest") * OFFSET_UNIT
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    results = []
    for i, found in enumerate(peaks):
        semantic = parts[i]
        persons: list[np.ndarray] = []
        scores: list[float] = []
        if len(found.scores):
            centres = (
                torch.stack(
                    [found.boxes[:, 0] + found.boxes[:, 2], found.boxes[:, 1] + found.boxes[:, 3]], -1
                )
                / 2
            )
            votes = torch.stack([xs + grouping[i, 0], ys + grouping[i, 1]], -1).reshape(-1, 2)
            owner = torch.cdist(votes, centres).argmin(1).reshape(h, w)
            foreground = semantic > 0
            for c in range(len(found.scores)):
                mask = foreground & (owner == c)
                if mask.any():
                    persons.append(torch.where(mask, semantic, 0).numpy())
                    scores.append(float(found.scores[c]))
        results.append((semantic.numpy(), persons, scores))
    return results
