"""COCO keypoint AP/AR via pycocotools (Lin et al., ECCV 2014; OKS-based ``COCOeval``, iouType "keypoints").

Reported as the COCO keypoint challenge does: AP (mean over OKS 0.50:0.95), AP50, AP75, APm,
APl and AR (mean over OKS thresholds, 20 detections per image), all in [0, 1]. Ground-truth
persons without labelled keypoints are ignored by ``COCOeval`` itself.
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

_STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def coco_from_dict(dataset: dict[str, Any]) -> COCO:
    """A pycocotools ``COCO`` index over an in-memory COCO-format dict (deep-copied; ``area`` filled)."""
    dataset = copy.deepcopy(dataset)
    for ann in dataset.get("annotations", []):
        if "area" not in ann and "bbox" in ann:
            ann["area"] = float(ann["bbox"][2] * ann["bbox"][3])
        ann.setdefault("iscrowd", 0)
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def coco_keypoint_ap(
    ground_truth: COCO | dict[str, Any], results: list[dict[str, Any]], sigmas: Sequence[float] | None = None
) -> dict[str, float]:
    """Keypoint AP/AR of ``results`` (COCO result dicts: image_id, category_id, keypoints, score).

    ``sigmas`` overrides the per-keypoint OKS constants (needed for non-COCO keypoint sets,
    e.g. CrowdPose's 14); the default is pycocotools' COCO-17 set. No results → all zeros.
    """
    coco = ground_truth if isinstance(ground_truth, COCO) else coco_from_dict(ground_truth)
    if not results:
        return {name: 0.0 for name in _STAT_NAMES}
    with contextlib.redirect_stdout(io.StringIO()):
        detections = coco.loadRes(copy.deepcopy(results))
        evaluator = COCOeval(coco, detections, iouType="keypoints")
        if sigmas is not None:
            evaluator.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
        evaluator.params.imgIds = sorted({r["image_id"] for r in results} | set(coco.getImgIds()))
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {name: max(0.0, float(value)) for name, value in zip(_STAT_NAMES, evaluator.stats, strict=True)}
