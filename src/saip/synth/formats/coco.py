"""COCO ``instances`` / ``person_keypoints`` JSON built incrementally."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from saip.synth.skeleton import COCO_SKELETON, KEYPOINT_NAMES


def mask_to_rle(mask: np.ndarray) -> dict:
    """Compressed COCO RLE of a boolean (H, W) mask, JSON-ready."""
    from pycocotools import mask as mask_utils  # imported here: only the writer needs it

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def mask_box(mask: np.ndarray) -> list[float] | None:
    """Tight ``[x, y, w, h]`` box of a boolean mask (None if empty)."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1 - xs.min()), float(ys.max() + 1 - ys.min())]


class CocoWriter:
    """Accumulates images and person annotations; :meth:`save` writes the JSON."""

    def __init__(self, keypoints: bool) -> None:
        self.keypoints = keypoints
        self.images: list[dict] = []
        self.annotations: list[dict] = []

    def add_image(self, file_name: str, height: int, width: int) -> int:
        """Register an image; returns its id (1-based)."""
        image_id = len(self.images) + 1
        self.images.append({"id": image_id, "file_name": file_name, "height": height, "width": width})
        return image_id

    def add_person(self, image_id: int, mask: np.ndarray, keypoints: np.ndarray | None = None) -> bool:
        """Add one person from its visible mask (and (17, 3) keypoints); False if the mask is empty."""
        box = mask_box(mask)
        if box is None:
            return False
        ann = {
            "id": len(self.annotations) + 1,
            "image_id": image_id,
            "category_id": 1,
            "bbox": box,
            "area": float(mask.sum()),
            "iscrowd": 0,
            "segmentation": mask_to_rle(mask),
        }
        if self.keypoints:
            kp = np.zeros((17, 3), dtype=np.float64) if keypoints is None else keypoints.astype(np.float64)
            flat = np.round(kp, 2).ravel().tolist()
            flat[2::3] = [int(v) for v in kp[:, 2]]
            ann["keypoints"] = flat
            ann["num_keypoints"] = int((kp[:, 2] > 0).sum())
        self.annotations.append(ann)
        return True

    def save(self, path: Path) -> None:
        """Write the COCO JSON file."""
        category: dict = {"id": 1, "name": "person", "supercategory": "person"}
        if self.keypoints:
            category.update(keypoints=list(KEYPOINT_NAMES), skeleton=[list(e) for e in COCO_SKELETON])
        data = {
            "info": {"description": "saip synthetic persons", "version": "1.0"},
            "licenses": [],
            "images": self.images,
            "annotations": self.annotations,
            "categories": [category],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))
