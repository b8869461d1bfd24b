"""Semantic / body-part segmentation metrics from a confusion matrix (LIP protocol, Gong et al., CVPR 2017).

``hist[t, p]`` counts pixels of ground-truth class ``t`` predicted as ``p`` (pixels labelled
``ignore_index`` are skipped). From it, with ``tp = diag``, ``gt = row sums``, ``pred = column sums``:

* pixel accuracy = Σ tp / Σ gt;
* mean class accuracy = mean over classes with ``gt > 0`` of ``tp / gt``;
* mIoU = mean over classes with a non-empty union (``gt + pred − tp > 0``) of
  ``tp / (gt + pred − tp)``: classes absent from both ground truth and prediction are undefined
  and skipped, so small evaluation sets are not penalised for classes they do not contain;
* mIoU_all = the LIP/SCHP evaluation script's mean over *all* classes with an empty union
  counted as 0. On the full LIP validation set (all 20 classes present) the two agree.
"""

from __future__ import annotations

import numpy as np
import torch


def confusion_matrix(
    prediction: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int = 255
) -> torch.Tensor:
    """``(C, C)`` int64 confusion matrix (rows: ground truth, columns: prediction) of label maps."""
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ in shape"
        )
    target = target.reshape(-1).long()
    prediction = prediction.reshape(-1).long()
    keep = target != ignore_index
    target, prediction = target[keep], prediction[keep]
    if len(target) and (int(target.min()) < 0 or int(target.max()) >= num_classes):
        raise ValueError(f"target labels must lie in [0, {num_classes}) or equal {ignore_index}")
    if len(prediction) and (int(prediction.min()) < 0 or int(prediction.max()) >= num_classes):
        raise ValueError(f"predicted labels must lie in [0, {num_classes})")
    counts = torch.bincount(target * num_classes + prediction, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def segmentation_scores(hist: torch.Tensor | np.ndarray) -> dict[str, float]:
    """Pixel accuracy, mean class accuracy, mIoU and mIoU_all (all in [0, 1]) from a confusion matrix."""
    hist = np.asarray(hist, dtype=np.float64)
    tp = np.diag(hist)
    gt = hist.sum(axis=1)
    pred = hist.sum(axis=0)
    union = gt + pred - tp
    total = gt.sum()
    if total == 0:
        raise ValueError("confusion matrix is empty: no labelled pixels")
    present = gt > 0
    defined = union > 0
    iou = np.divide(tp, union, out=np.zeros_like(tp), where=defined)
    return {
        "pixel_acc": float(tp.sum() / total),
        "mean_acc": float((tp[present] / gt[present]).mean()),
        "mIoU": float(iou[defined].mean()),
        "mIoU_all": float(iou.mean()),
    }


def per_class_iou(hist: torch.Tensor | np.ndarray) -> np.ndarray:
    """IoU per class ``(C,)``; NaN where the class is absent from both ground truth and prediction."""
    hist = np.asarray(hist, dtype=np.float64)
    tp = np.diag(hist)
    union = hist.sum(axis=1) + hist.sum(axis=0) - tp
    return np.divide(tp, union, out=np.full_like(tp, np.nan), where=union > 0)
