"""COCO-WholeBody person annotations (Jin et al., "Whole-Body Human Pose Estimation in the Wild", ECCV 2020).

A COCO-WholeBody annotation is a COCO person-keypoints annotation (``keypoints``: the 17 body
points) with four more keypoint lists, ``foot_kpts`` (6), ``face_kpts`` (68), ``lefthand_kpts``
(21) and ``righthand_kpts`` (21), each ``[x, y, v] * n``, the ``*_valid`` flags and
``face_box``/``lefthand_box``/``righthand_box`` (``[0, 0, 0, 0]`` when the part is unlabelled).
133 keypoints in this order; unlabelled points are ``0, 0, 0`` exactly as in COCO.
"""

from __future__ import annotations

import numpy as np

from saip.synth.formats.coco import CocoWriter

# (part, annotation field, number of keypoints), in the order of the 133 whole-body keypoints.
WHOLEBODY_PARTS: tuple[tuple[str, str, int], ...] = (
    ("body", "keypoints", 17),
    ("foot", "foot_kpts", 6),
    ("face", "face_kpts", 68),
    ("lefthand", "lefthand_kpts", 21),
    ("righthand", "righthand_kpts", 21),
)
NUM_WHOLEBODY_KEYPOINTS = sum(n for _, _, n in WHOLEBODY_PARTS)
_BOXED = {"face": "face_box", "lefthand": "lefthand_box", "righthand": "righthand_box"}


def part_slices() -> dict[str, slice]:
    """``{part: slice}`` of each part in the 133 whole-body keypoints."""
    out, start = {}, 0
    for name, _, n in WHOLEBODY_PARTS:
        out[name] = slice(start, start + n)
        start += n
    return out


def _flat(kp: np.ndarray) -> list[float]:
    flat = np.round(kp.astype(np.float64), 2).ravel().tolist()
    flat[2::3] = [int(v) for v in kp[:, 2]]
    return flat


def _box(kp: np.ndarray) -> list[float]:
    labelled = kp[kp[:, 2] > 0]
    if len(labelled) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    x0, y0 = labelled[:, :2].min(axis=0)
    x1, y1 = labelled[:, :2].max(axis=0)
    return [round(float(x0), 2), round(float(y0), 2), round(float(x1 - x0), 2), round(float(y1 - y0), 2)]


class CocoWholeBodyWriter(CocoWriter):
    """:class:`CocoWriter` whose persons carry the 133 COCO-WholeBody keypoints."""

    def __init__(self) -> None:
        super().__init__(keypoints=True)

    def add_person(self, image_id: int, mask: np.ndarray, keypoints: np.ndarray | None = None) -> bool:
        """Add a person from its visible mask and ``(133, 3)`` whole-body keypoints."""
        kp = np.zeros((NUM_WHOLEBODY_KEYPOINTS, 3)) if keypoints is None else np.asarray(keypoints)
        if kp.shape != (NUM_WHOLEBODY_KEYPOINTS, 3):
            raise ValueError(f"whole-body keypoints must be ({NUM_WHOLEBODY_KEYPOINTS}, 3), got {kp.shape}")
        slices = part_slices()
        if not super().add_person(image_id, mask, kp[slices["body"]]):
            return False
        ann = self.annotations[-1]
        for name, field, _ in WHOLEBODY_PARTS[1:]:
            part = kp[slices[name]]
            ann[field] = _flat(part)
            ann[f"{name}_valid"] = bool((part[:, 2] > 0).any())
            if name in _BOXED:
                ann[_BOXED[name]] = _box(part)
        return True
