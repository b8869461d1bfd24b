"""AI Challenger human keypoints (Wu et al., "AI Challenger: A Large-scale Dataset for Going Deeper
in Image Understanding", 2017): person boxes and keypoint visibility.

The annotation file (``keypoint_train_annotations_20170909.json``, ...) is a JSON list with one
record per image::

    {"image_id": "<hash>", "url": ...,
     "human_annotations":    {"human1": [x1, y1, x2, y2], ...},
     "keypoint_annotations": {"human1": [x, y, v] * 14, ...}}

Boxes are corners (converted to ``x, y, w, h``); the image is ``<image_id>.jpg``. Each of the 14
keypoints has a flag ``v``: 1 visible, 2 labelled but occluded, 3 not labelled (outside the
image or not inferable). *visibility* is the visible fraction ``#(v == 1) / 14`` and
``num_keypoints`` the labelled count ``#(v in {1, 2})`` (COCO's meaning). The instance id is the
``humanN`` key.
"""

from __future__ import annotations

import os
from pathlib import Path

from saip.sources.boxes import BoxSource, PersonBox, _box4, _load_json

NUM_KEYPOINTS = 14
VISIBLE, OCCLUDED, UNLABELLED = 1, 2, 3


def is_aic_data(data: object) -> bool:
    """Whether parsed JSON ``data`` is an AI Challenger keypoint list."""
    return (
        isinstance(data, list) and bool(data) and isinstance(data[0], dict) and "human_annotations" in data[0]
    )


def _image_folder(path: Path) -> Path:
    """``keypoint_*_images_*/`` beside the annotation file (the release layout), else its folder."""
    folders = sorted(p for p in path.parent.glob("keypoint_*_images_*") if p.is_dir())
    return folders[0] if len(folders) == 1 else path.parent


def _flags(keypoints: object, where: str) -> list[int]:
    if not isinstance(keypoints, list) or len(keypoints) != 3 * NUM_KEYPOINTS:
        raise ValueError(f"{where}: expected {3 * NUM_KEYPOINTS} numbers (x, y, v) * {NUM_KEYPOINTS}")
    flags = keypoints[2::3]
    if any(flag not in (VISIBLE, OCCLUDED, UNLABELLED) for flag in flags):
        raise ValueError(f"{where}: visibility flags must be 1, 2 or 3, got {sorted(set(flags))}")
    return flags


def read_aic_boxes(
    path: str | os.PathLike[str], data: object | None = None, image_suffix: str = ".jpg"
) -> BoxSource:
    """Person boxes from an AI Challenger keypoint annotation file (``data``: its parsed content).

    :attr:`BoxSource.images` is the single ``keypoint_*_images_*/`` folder next to the file when
    there is one (the release layout), else the file's folder.
    """
    path = Path(path)
    data = _load_json(path) if data is None else data
    if not isinstance(data, list):
        raise ValueError(f"{path}: AI Challenger keypoint annotations are a JSON list of image records")
    source = BoxSource(path=path, format="aic", boxes=[], images=_image_folder(path))
    for index, record in enumerate(data):
        where = f"{path}: [{index}]"
        if not isinstance(record, dict) or "image_id" not in record:
            raise ValueError(f"{where}: record has no 'image_id'")
        humans = record.get("human_annotations")
        keypoints = record.get("keypoint_annotations") or {}
        if not isinstance(humans, dict) or not isinstance(keypoints, dict):
            raise ValueError(f"{where}: 'human_annotations' / 'keypoint_annotations' must be objects")
        for human, corners in humans.items():
            x1, y1, x2, y2 = _box4(corners, f"{where}.human_annotations.{human}")
            visibility = num_keypoints = None
            if human in keypoints:
                flags = _flags(keypoints[human], f"{where}.keypoint_annotations.{human}")
                visibility = flags.count(VISIBLE) / NUM_KEYPOINTS
                num_keypoints = flags.count(VISIBLE) + flags.count(OCCLUDED)
            source.boxes.append(
                PersonBox(
                    image=f"{record['image_id']}{image_suffix}",
                    instance_id=str(human),
                    box=(x1, y1, x2 - x1, y2 - y1),
                    visibility=visibility,
                    num_keypoints=num_keypoints,
                )
            )
    return source
