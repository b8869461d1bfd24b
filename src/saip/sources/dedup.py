"""Duplicate person crops across and within datasets, removed before cropping.

Public person datasets overlap (Human-Art's ``*_humanart_coco`` files ship COCO images, the same
split is easily listed twice) and annotation files repeat boxes, so a pretraining set pooled
from several of them (SAIP's HP1M) would hold the same crop more than once. The rule here:

- two images are **the same image** when their files have identical content (SHA-1 of the
  bytes), whatever their path or dataset;
- two boxes on the same image are **the same crop** when their IoU is ``>= iou_threshold``
  (default 0.9: near-identical boxes; :func:`saip.sources.box_ops.iou_matrix`).

The first occurrence is kept (sources in the order given, boxes in annotation order); each later
one is removed and counted as ``duplicate_box`` (same image file of the same source: a repeated
annotation) or ``duplicate_image`` (the same content under another path or from another source).
Only boxes that pass the crop filter take part, so a box that would be rejected anyway never
removes a usable one. A missing or unreadable image is not hashed: its boxes are compared only
with boxes of the same path (cropping then reports the image).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from saip.sources.box_ops import iou_matrix
from saip.sources.boxes import PersonBox
from saip.sources.crops import CropFilter, _resolve

DUPLICATE_REASONS = ("duplicate_box", "duplicate_image")


@dataclass
class DedupResult:
    """Per source: the boxes left to crop and the removed counts; the SHA-1 of every hashed image."""

    boxes: list[list[PersonBox]]
    removed: list[Counter[str]]
    digests: dict[Path, str]

    def total_removed(self) -> Counter[str]:
        return sum(self.removed, Counter())


def file_digest(path: Path) -> str | None:
    """SHA-1 of the file's bytes, ``None`` when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha1").hexdigest()
    except OSError:
        return None


def _xyxy(box: PersonBox) -> np.ndarray:
    x, y, w, h = box.box
    return np.array([x, y, x + w, y + h], dtype=np.float64)


def deduplicate(
    sources: Sequence[tuple[Sequence[PersonBox], Path]],
    crop_filter: CropFilter,
    iou_threshold: float = 0.9,
) -> DedupResult:
    """Remove repeated crops from ``sources`` (``(boxes, image folder)`` pairs), see the module docstring."""
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"the duplicate IoU threshold must be in (0, 1], got {iou_threshold}")
    kept_per_image: dict[str, list[tuple[int, str, np.ndarray]]] = defaultdict(list)
    digests: dict[Path, str] = {}
    unreadable: set[Path] = set()
    result = DedupResult(boxes=[], removed=[], digests=digests)
    for index, (boxes, images) in enumerate(sources):
        left: list[PersonBox] = []
        removed: Counter[str] = Counter()
        for box in boxes:
            if crop_filter.check(box)[0] is not None:
                left.append(box)  # rejected later by cropping, with its reason
                continue
            path = _resolve(box.image, images)
            if path not in digests and path not in unreadable:
                digest = file_digest(path)
                if digest is None:
                    unreadable.add(path)
                else:
                    digests[path] = digest
            key = digests.get(path) or f"unread:{path}"
            earlier = kept_per_image[key]
            xyxy = _xyxy(box)
            if earlier:
                overlaps = iou_matrix(xyxy[None], np.stack([e[2] for e in earlier]))[0]
                best = int(np.argmax(overlaps))
                if overlaps[best] >= iou_threshold:
                    same_file = earlier[best][:2] == (index, box.image)
                    removed["duplicate_box" if same_file else "duplicate_image"] += 1
                    continue
            earlier.append((index, box.image, xyxy))
            left.append(box)
        result.boxes.append(left)
        result.removed.append(removed)
    return result
