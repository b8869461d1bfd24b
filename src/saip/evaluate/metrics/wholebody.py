"""COCO-WholeBody keypoint AP/AR per part and for the whole body, with plain pycocotools.

The official evaluation (xtcocotools' ``COCOeval`` with iouTypes ``keypoints_body``, ``_foot``,
``_face``, ``_lefthand``, ``_righthand`` and ``_wholebody``, ``use_area=True``; Jin et al., ECCV
2020) runs the COCO OKS evaluation once per part, on that part's keypoints with that part's sigmas
and the person's area as the OKS scale, and once on all 133. The same is done here with
pycocotools: each run sees ground-truth annotations whose ``keypoints`` hold only the part
(``num_keypoints`` = its labelled count, so persons without a labelled point of the part are
ignored, as xtcocotools does) and predictions cut to the same slice (a prediction whose scores in
the part are all ≤ 0 is dropped, as xtcocotools drops all-zero ones). ``hand_AP``/``hand_AR`` are
the means of the left- and right-hand values (the two runs the official tool makes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from saip.evaluate.datasets.coco_wholebody import WHOLEBODY_SIGMAS
from saip.evaluate.metrics.pose import coco_keypoint_ap
from saip.synth.formats.coco_wholebody import NUM_WHOLEBODY_KEYPOINTS, WHOLEBODY_PARTS, part_slices

_PART_FIELDS = tuple(field for _, field, _ in WHOLEBODY_PARTS)


def _part_ground_truth(ground_truth: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    annotations = []
    for ann in ground_truth["annotations"]:
        kps = [v for field in fields for v in ann.get(field, [])]
        part = {k: v for k, v in ann.items() if k not in _PART_FIELDS}
        part["keypoints"] = kps
        part["num_keypoints"] = int(np.count_nonzero(np.asarray(kps[2::3]) > 0))
        annotations.append(part)
    return {**ground_truth, "annotations": annotations}


def _part_results(results: list[dict[str, Any]], part: slice) -> list[dict[str, Any]]:
    out = []
    for r in results:
        kps = np.asarray(r["keypoints"], dtype=np.float64).reshape(-1, 3)
        if len(kps) != NUM_WHOLEBODY_KEYPOINTS:
            raise ValueError(f"whole-body results need {NUM_WHOLEBODY_KEYPOINTS} keypoints, got {len(kps)}")
        sub = kps[part]
        if (sub[:, 2] > 0).any():
            out.append({**r, "keypoints": [float(v) for v in sub.reshape(-1)]})
    return out


def wholebody_keypoint_ap(ground_truth: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, float]:
    """COCO-WholeBody AP/AR (in [0, 1]): ``AP``/``AR`` (whole body, 133 keypoints) and
    ``{body,foot,face,lefthand,righthand,hand}_{AP,AR}`` (plus the whole body's AP50/AP75).

    ``ground_truth`` is a COCO-WholeBody dict (annotations with the part fields); ``results`` are
    COCO keypoint results whose ``keypoints`` hold all 133 points ``[x, y, score] * 133``.
    """
    slices = part_slices()
    out: dict[str, float] = {}
    for name, field, _ in WHOLEBODY_PARTS:
        stats = coco_keypoint_ap(
            _part_ground_truth(ground_truth, (field,)),
            _part_results(results, slices[name]),
            sigmas=WHOLEBODY_SIGMAS[name],
        )
        out[f"{name}_AP"], out[f"{name}_AR"] = stats["AP"], stats["AR"]
    out["hand_AP"] = 0.5 * (out["lefthand_AP"] + out["righthand_AP"])
    out["hand_AR"] = 0.5 * (out["lefthand_AR"] + out["righthand_AR"])
    sigmas = [s for name, _, _ in WHOLEBODY_PARTS for s in WHOLEBODY_SIGMAS[name]]
    whole = coco_keypoint_ap(
        _part_ground_truth(ground_truth, _PART_FIELDS),
        _part_results(results, slice(0, NUM_WHOLEBODY_KEYPOINTS)),
        sigmas=sigmas,
    )
    out.update(AP=whole["AP"], AP50=whole["AP50"], AP75=whole["AP75"], AR=whole["AR"])
    return out
