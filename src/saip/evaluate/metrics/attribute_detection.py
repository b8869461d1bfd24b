"""Fashionpedia's AP^box with the IoU + F1 criterion (Jia et al., ECCV 2020, "Fashionpedia: Ontology,
Segmentation, and an Attribute Localization Dataset", §5; the ``fashionpedia-api`` evaluation).

A detection carries a box, a category, a score and a set of predicted ``attribute_ids``. It is a
true positive at thresholds ``(t_IoU, t_F1)`` only when it matches a ground-truth object of its
category with IoU ≥ ``t_IoU`` *and* attribute F1 ≥ ``t_F1``; matching is otherwise COCO's greedy
one (pycocotools ``COCOeval``: detections by score, each to the unmatched ground truth of highest
IoU among those passing). Implemented by gating pycocotools' IoU matrix: pairs whose F1 is below
``t_F1`` get IoU −1 and can never match.

* Attribute F1 is Fashionpedia's ``binary_macro`` F1: the ground-truth and predicted attribute sets
  become 0/1 vectors over all attributes of the dataset, and F1 is the mean over the labels
  {present, absent} that occur in either vector of ``2·TP / (2·TP + FP + FN)`` (scikit-learn's
  ``f1_score(average="macro")`` on the two vectors). Two empty sets give 1.
* ``t_IoU`` ∈ {0.50, 0.55, …, 0.95}, ``t_F1`` ∈ {0.50, 0.55, …, 0.95} (compared with a 1e−9
  tolerance). Categories without attributes in the ground truth (accessories such as shoes) are
  scored with IoU alone, as ``fashionpedia-api`` does for its categories without attributes.
* AP^{IoU+F1} = the mean of COCO's 101-point interpolated precision over IoU thresholds, recall
  thresholds and categories (those with ground truth), where each category with attributes
  contributes one slice per F1 threshold and each category without one slice (the api's average).
  ``AP_iou50_f150`` fixes both thresholds at 0.5. Plain box AP (no F1 gate) is reported alongside.
"""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import numpy as np
from pycocotools.cocoeval import COCOeval

from saip.evaluate.metrics.pose import coco_from_dict

F1_THRESHOLDS: tuple[float, ...] = tuple(float(v) for v in np.round(np.linspace(0.5, 0.95, 10), 2))
_TOLERANCE = 1e-9
_AREA_ALL, _MAX_DETS_100 = 0, 2  # pycocotools' indices of area "all" and maxDets 100


def attribute_f1(gt_ids: list[int], dt_ids: list[int], attribute_ids: list[int]) -> float:
    """Fashionpedia's binary-macro F1 of two attribute-id sets over the universe ``attribute_ids``."""
    index = {a: i for i, a in enumerate(attribute_ids)}
    truth = np.zeros(len(index), dtype=bool)
    pred = np.zeros(len(index), dtype=bool)
    for ids, vector in ((gt_ids, truth), (dt_ids, pred)):
        for a in ids:
            if a not in index:
                raise ValueError(f"attribute id {a} is not in the dataset's attributes")
            vector[index[a]] = True
    scores = []
    for label in (True, False):
        t, p = truth == label, pred == label
        if not (t.any() or p.any()):
            continue
        tp = float((t & p).sum())
        scores.append(2 * tp / (2 * tp + float((~t & p).sum()) + float((t & ~p).sum())))
    return float(np.mean(scores)) if scores else 1.0


class _F1GatedEval(COCOeval):
    """pycocotools bbox evaluation where a pair only matches if its attribute F1 ≥ ``f1_threshold``."""

    def __init__(self, gt: Any, dt: Any, f1_threshold: float | None, attribute_ids: list[int]) -> None:
        super().__init__(gt, dt, iouType="bbox")
        self.f1_threshold = f1_threshold
        self.attribute_ids = attribute_ids

    def computeIoU(self, imgId: int, catId: int) -> Any:  # noqa: N802 - pycocotools' name
        ious = super().computeIoU(imgId, catId)
        if self.f1_threshold is None or len(ious) == 0:
            return ious
        gt, dt = self._gts[imgId, catId], self._dts[imgId, catId]
        order = np.argsort([-d["score"] for d in dt], kind="mergesort")  # the order computeIoU uses
        dt = [dt[i] for i in order][: self.params.maxDets[-1]]
        f1 = np.array(
            [
                [
                    attribute_f1(g.get("attribute_ids", []), d.get("attribute_ids", []), self.attribute_ids)
                    for g in gt
                ]
                for d in dt
            ]
        ).reshape(len(dt), len(gt))
        return np.where(f1 >= self.f1_threshold - _TOLERANCE, ious, -1.0)


def _precision(
    gt: Any, results: list[dict[str, Any]], f1_threshold: float | None, attrs: list[int]
) -> np.ndarray:
    """pycocotools precision ``(T, R, K)`` at area "all", 100 detections (−1: category without GT)."""
    with contextlib.redirect_stdout(io.StringIO()):
        detections = gt.loadRes(copy.deepcopy(results))
        evaluator = _F1GatedEval(gt, detections, f1_threshold, attrs)
        evaluator.params.imgIds = sorted(gt.getImgIds())
        evaluator.evaluate()
        evaluator.accumulate()
    return evaluator.eval["precision"][:, :, :, _AREA_ALL, _MAX_DETS_100]


def _mean_defined(slices: list[np.ndarray]) -> float:
    values = np.concatenate([s.reshape(-1) for s in slices]) if slices else np.zeros(0)
    values = values[values > -1]
    return float(values.mean()) if len(values) else 0.0


def fashionpedia_ap(ground_truth: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, float]:
    """AP^{IoU+F1}, AP^{IoU+F1} at (0.5, 0.5), plain box AP/AP50/AP75, and plain box AP50 per
    category with ground truth (``"AP50/<category name>"``), all in [0, 1].

    ``ground_truth`` is a COCO-format dict whose annotations carry ``attribute_ids`` and which lists
    the dataset's ``attributes``; ``results`` are COCO bbox results with ``attribute_ids``.
    """
    if not results:
        return {"AP_iou_f1": 0.0, "AP_iou50_f150": 0.0, "AP": 0.0, "AP50": 0.0, "AP75": 0.0}
    attrs = [int(a["id"]) for a in ground_truth.get("attributes", [])]
    gt = coco_from_dict(ground_truth)
    categories = sorted(gt.getCatIds())
    with_attributes = {a["category_id"] for a in ground_truth["annotations"] if a.get("attribute_ids")}
    k_with = [k for k, c in enumerate(categories) if c in with_attributes]
    k_without = [k for k, c in enumerate(categories) if c not in with_attributes]
    plain = _precision(gt, results, None, attrs)
    gated = {t: _precision(gt, results, t, attrs) for t in F1_THRESHOLDS} if k_with else {}
    iou50 = 0  # pycocotools' first IoU threshold is 0.50
    combined = [plain[:, :, k_without]] + [p[:, :, k_with] for p in gated.values()]
    at_50 = [plain[iou50, :, k_without]] + ([gated[0.5][iou50, :, k_with]] if gated else [])
    per_category = {
        f"AP50/{gt.cats[c]['name']}": _mean_defined([plain[iou50, :, k]])
        for k, c in enumerate(categories)
        if (plain[iou50, :, k] > -1).any()
    }
    return {
        "AP_iou_f1": _mean_defined(combined),
        "AP_iou50_f150": _mean_defined(at_50),
        "AP": _mean_defined([plain]),
        "AP50": _mean_defined([plain[iou50]]),
        "AP75": _mean_defined([plain[5]]),
        **per_category,
    }
