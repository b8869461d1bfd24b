"""Pedestrian detection metrics: COCO box AP (pycocotools) and log-average miss rate MR⁻².

* AP / AP50 / AP75: pycocotools ``COCOeval`` with iouType "bbox" (Lin et al., ECCV 2014), one
  class; ``iscrowd`` ground truth (CrowdHuman "mask"/ignore boxes) is an ignore region.
* MR⁻²: Dollár et al., "Pedestrian Detection: An Evaluation of the State of the Art", TPAMI 2012,
  as used by Caltech, CityPersons and CrowdHuman. Detections of all images are sorted by score;
  each is greedily matched (IoU ≥ 0.5) to the best still-unmatched non-ignored ground truth of its
  image, otherwise it is dropped if it lies inside an ignore region (intersection over the
  detection's area ≥ 0.5), otherwise it is a false positive. Along the ranking, miss rate =
  1 − TP / #GT and FPPI = FP / #images. MR⁻² is the geometric mean of the miss rate at the 9 FPPI
  reference points ``10^linspace(−2, 0, 9)``, each taken at the last operating point whose FPPI
  does not exceed the reference (miss rate 1 when there is none); zeros are clamped to 1e−10.
  Lower is better.
"""

from __future__ import annotations

import contextlib
import copy
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from pycocotools.cocoeval import COCOeval

from saip.evaluate.box_ops import box_iou
from saip.evaluate.metrics.pose import coco_from_dict

FPPI_REFERENCE = np.logspace(-2.0, 0.0, 9)


def coco_box_ap(ground_truth: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, float]:
    """AP (IoU 0.50:0.95), AP50 and AP75 in [0, 1] of COCO bbox results against a COCO-format dict."""
    coco = coco_from_dict(ground_truth)
    if not results:
        return {"AP": 0.0, "AP50": 0.0, "AP75": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):
        detections = coco.loadRes(copy.deepcopy(results))
        evaluator = COCOeval(coco, detections, iouType="bbox")
        evaluator.params.imgIds = sorted(coco.getImgIds())
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    stats = [max(0.0, float(v)) for v in evaluator.stats[:3]]
    return {"AP": stats[0], "AP50": stats[1], "AP75": stats[2]}


@dataclass
class ImageDetections:
    """One image (MR⁻²): ground truth ``(G, 4)`` xyxy, ``ignore`` ``(G,)``, detections ``(D, 4)``, scores."""

    gt_boxes: torch.Tensor
    gt_ignore: torch.Tensor
    boxes: torch.Tensor
    scores: torch.Tensor


def _match_image(image: ImageDetections, iou_threshold: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Scores and labels (1 TP, 0 FP; ignored detections removed) of one image, and its #non-ignored GT."""
    order = torch.argsort(image.scores, descending=True, stable=True)
    boxes, scores = image.boxes[order].float(), image.scores[order].float()
    ignore = image.gt_ignore.bool()
    real, regions = image.gt_boxes[~ignore].float(), image.gt_boxes[ignore].float()
    iou = box_iou(boxes, real) if len(real) and len(boxes) else torch.zeros(len(boxes), len(real))
    if len(regions) and len(boxes):
        lt = torch.maximum(boxes[:, None, :2], regions[None, :, :2])
        rb = torch.minimum(boxes[:, None, 2:], regions[None, :, 2:])
        inter = (rb - lt).clamp(min=0).prod(-1)
        area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).clamp(min=1e-12)
        in_ignore = (inter / area[:, None]).amax(dim=1) >= 0.5
    else:
        in_ignore = torch.zeros(len(boxes), dtype=torch.bool)
    taken = torch.zeros(len(real), dtype=torch.bool)
    kept_scores, labels = [], []
    for d in range(len(boxes)):
        candidates = iou[d].masked_fill(taken, -1.0) if len(real) else iou[d]
        if len(real) and float(candidates.max()) >= iou_threshold:
            taken[int(candidates.argmax())] = True
            labels.append(1)
        elif bool(in_ignore[d]):
            continue
        else:
            labels.append(0)
        kept_scores.append(float(scores[d]))
    return np.asarray(kept_scores, dtype=np.float64), np.asarray(labels, dtype=np.int64), len(real)


def miss_rate_curve(
    images: list[ImageDetections], iou_threshold: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """FPPI and miss rate at every operating point (detections sorted by decreasing score)."""
    if not images:
        raise ValueError("miss rate needs at least one image")
    scores, labels, num_gt = [], [], 0
    for image in images:
        s, lab, g = _match_image(image, iou_threshold)
        scores.append(s)
        labels.append(lab)
        num_gt += g
    if num_gt == 0:
        raise ValueError("miss rate is undefined without (non-ignored) ground-truth boxes")
    all_scores, all_labels = np.concatenate(scores), np.concatenate(labels)
    order = np.argsort(-all_scores, kind="stable")
    tp = np.cumsum(all_labels[order] == 1)
    fp = np.cumsum(all_labels[order] == 0)
    return fp / len(images), 1.0 - tp / num_gt


def log_average_miss_rate(images: list[ImageDetections], iou_threshold: float = 0.5) -> float:
    """MR⁻² in [0, 1] (Dollár et al. 2012): geometric mean of the miss rate at 9 FPPI points in [1e-2, 1]."""
    fppi, miss = miss_rate_curve(images, iou_threshold)
    values = []
    for ref in FPPI_REFERENCE:
        below = np.nonzero(fppi <= ref)[0]
        values.append(miss[below[-1]] if len(below) else 1.0)
    return float(np.exp(np.mean(np.log(np.maximum(np.asarray(values), 1e-10)))))
