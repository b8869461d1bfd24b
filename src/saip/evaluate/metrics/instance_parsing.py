"""Instance-level human parsing metrics: AP^p and AP^p_vol (CIHP, Gong et al., ECCV 2018, "Instance-level
Human Parsing via Part Grouping Network"; defined for MHP by Li et al., 2017, "Multiple-Human Parsing in
the Wild").

Each predicted person is a full-image part label map (0 outside the person) with a score; each
ground-truth person likewise (``Category_ids`` where ``Human_ids == k``). As in the MHP/CIHP
evaluation script:

* the *part IoU* of a predicted and a ground-truth person is the mean, over the classes 0..C−1
  (background included) whose union is non-empty, of the per-class IoU of the two label maps;
* predictions of all images are ranked by score; each takes the ground-truth person of its image
  with the largest part IoU (the first one on ties). At threshold ``t`` it is a true positive when
  that IoU is ``> t`` and this person is not matched yet, else a false positive (a prediction whose
  best person is already taken does not fall back to another one);
* AP at ``t`` is the VOC all-points area under the interpolated precision/recall curve, recall
  = TP / #ground-truth persons. AP^p_50 is AP at ``t = 0.5``; AP^p_vol the mean AP over
  ``t ∈ {0.1, 0.2, …, 0.9}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

AP_P_THRESHOLDS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass
class ImagePersons:
    """One image: ground-truth person label maps ``(H, W)`` and predicted ones with their scores."""

    gt: list[np.ndarray]
    predictions: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)


def split_persons(category: np.ndarray, human: np.ndarray) -> list[np.ndarray]:
    """Per-person label maps ``category · [human == k]`` for every person id ``k > 0`` (ascending)."""
    if category.shape != human.shape:
        raise ValueError(f"category map {category.shape} and human map {human.shape} differ in shape")
    return [np.where(human == k, category, 0) for k in np.unique(human) if k > 0]


def part_iou(prediction: np.ndarray, target: np.ndarray, num_classes: int) -> float:
    """Mean per-class IoU (background included, empty unions skipped) of two person label maps."""
    if prediction.shape != target.shape:
        raise ValueError(f"prediction {prediction.shape} and target {target.shape} differ in shape")
    t, p = target.reshape(-1).astype(np.int64), prediction.reshape(-1).astype(np.int64)
    keep = (t >= 0) & (t < num_classes) & (p >= 0) & (p < num_classes)
    hist = np.bincount(num_classes * t[keep] + p[keep], minlength=num_classes**2).reshape(num_classes, -1)
    tp = np.diag(hist).astype(np.float64)
    union = hist.sum(0) + hist.sum(1) - tp
    defined = union > 0
    return float((tp[defined] / union[defined]).mean()) if defined.any() else 0.0


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC all-points AP: area under the precision envelope (max precision at recall ≥ r)."""
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    changes = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[changes + 1] - mrec[changes]) * mpre[changes + 1]))


def parsing_ap(
    images: list[ImagePersons], num_classes: int, thresholds: tuple[float, ...] = AP_P_THRESHOLDS
) -> dict[float, float]:
    """AP^p (in [0, 1]) at each part-IoU threshold over ``images``."""
    num_gt = sum(len(image.gt) for image in images)
    if num_gt == 0:
        raise ValueError("AP^p is undefined without ground-truth persons")
    entries: list[tuple[float, int, float]] = []  # (score, image index, best part IoU) + best person
    best_person: list[int] = []
    for i, image in enumerate(images):
        if len(image.predictions) != len(image.scores):
            raise ValueError(
                f"image {i}: {len(image.predictions)} predictions but {len(image.scores)} scores"
            )
        for prediction, score in zip(image.predictions, image.scores, strict=True):
            ious = [part_iou(prediction, gt, num_classes) for gt in image.gt]
            j = int(np.argmax(ious)) if ious else -1
            entries.append((float(score), i, ious[j] if ious else -np.inf))
            best_person.append(j)
    order = np.argsort([-e[0] for e in entries], kind="stable")
    results = {}
    for t in thresholds:
        taken: set[tuple[int, int]] = set()
        tp = np.zeros(len(entries))
        for rank, d in enumerate(order):
            _, i, iou = entries[d]
            key = (i, best_person[d])
            if iou > t and key not in taken:
                taken.add(key)
                tp[rank] = 1.0
        tp_cum = np.cumsum(tp)
        fp_cum = np.cumsum(1.0 - tp)
        recall = tp_cum / num_gt
        precision = tp_cum / np.maximum(tp_cum + fp_cum, np.finfo(np.float64).eps)
        results[t] = voc_ap(recall, precision)
    return results


def parsing_ap_summary(images: list[ImagePersons], num_classes: int) -> dict[str, float]:
    """``APp50`` (AP^p at part IoU 0.5) and ``APp_vol`` (mean AP^p over 0.1..0.9), in [0, 1]."""
    ap = parsing_ap(images, num_classes)
    return {"APp50": ap[0.5], "APp_vol": float(np.mean(list(ap.values())))}
