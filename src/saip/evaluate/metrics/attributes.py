"""Pedestrian attribute recognition metrics: label-based mA and instance-based acc/prec/rec/F1.

* **mA** (Deng et al., "Pedestrian Attribute Recognition At Far Distance", ACM MM 2014 — PETA):
  for each attribute j, ``(TPR_j + TNR_j) / 2``, averaged over attributes. Attributes without a
  positive or without a negative in the evaluated set have an undefined TPR or TNR; they are left
  out of the mean (their count is reported as ``num_attributes_scored``).
* **Instance-based** metrics (Li et al., "A Richly Annotated Dataset for Pedestrian Attribute
  Recognition", arXiv:1603.07054 — RAP): for each image i with predicted set P_i and true set Y_i,
  ``acc_i = |P∩Y| / |P∪Y|``, ``prec_i = |P∩Y| / |P|``, ``rec_i = |P∩Y| / |Y|``, averaged over images;
  ``F1 = 2·prec·rec / (prec + rec)`` of the averages. As in Jia et al.'s strong baseline ("Rethinking
  of Pedestrian Attribute Recognition", 2021), an empty denominator counts as 0 for that image.

All values are returned in percent.
"""

from __future__ import annotations

import numpy as np


def _as_bool(name: str, array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"{name} must be (n_images, n_attributes), got shape {array.shape}")
    return array.astype(bool)


def attribute_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Label- and instance-based metrics of binary predictions ``pred`` vs ``target`` (both (N, A))."""
    pred, target = _as_bool("pred", pred), _as_bool("target", target)
    if pred.shape != target.shape:
        raise ValueError(f"pred {pred.shape} and target {target.shape} differ in shape")
    if pred.shape[0] == 0:
        raise ValueError("no images to score")
    tp = (pred & target).sum(axis=0)
    tn = (~pred & ~target).sum(axis=0)
    n_pos = target.sum(axis=0)
    n_neg = (~target).sum(axis=0)
    scored = (n_pos > 0) & (n_neg > 0)
    if not scored.any():
        raise ValueError("no attribute has both positive and negative samples: mA is undefined")
    tpr = tp[scored] / n_pos[scored]
    tnr = tn[scored] / n_neg[scored]
    per_attribute = (tpr + tnr) / 2

    inter = (pred & target).sum(axis=1)
    union = (pred | target).sum(axis=1)
    n_pred = pred.sum(axis=1)
    n_true = target.sum(axis=1)
    acc = np.divide(inter, union, out=np.zeros(len(inter)), where=union > 0).mean()
    prec = np.divide(inter, n_pred, out=np.zeros(len(inter)), where=n_pred > 0).mean()
    rec = np.divide(inter, n_true, out=np.zeros(len(inter)), where=n_true > 0).mean()
    f1 = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0
    return {
        "mA": float(100 * per_attribute.mean()),
        "accuracy": float(100 * acc),
        "precision": float(100 * prec),
        "recall": float(100 * rec),
        "F1": float(100 * f1),
        "num_attributes_scored": float(scored.sum()),
    }


def positive_ratio_weights(train_targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-attribute weights of the weighted BCE of Li et al. 2015 (DeepMAR, "Multi-attribute
    Learning for Pedestrian Attribute Recognition in Surveillance Scenarios", ACPR 2015), in the form
    used by Jia et al. 2021: ``w_pos = exp(1 - p_j)``, ``w_neg = exp(p_j)``, ``p_j`` = positive ratio
    of attribute j in the training set. Rare attributes get a larger weight on their positives.
    """
    targets = _as_bool("train_targets", train_targets)
    ratio = targets.mean(axis=0)
    return np.exp(1.0 - ratio), np.exp(ratio)
