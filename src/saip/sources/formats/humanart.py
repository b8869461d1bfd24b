"""Human-Art (Ju et al., "Human-Art: A Versatile Human-Centric Dataset Bridging Natural and
Artificial Scenes", CVPR 2023): COCO-format person boxes of natural and artificial humans.

The annotation files (``annotations/training_humanart.json``, ``..._humanart_<scenario>.json``)
follow COCO person keypoints (``bbox``, ``iscrowd``, 17 ``keypoints``, ``num_keypoints``) with
extra fields: per image ``category`` — the scenario / art style (``cartoon``, ``oil_painting``,
``sculpture``, ``cosplay``, ...) — and per annotation ``keypoints_21``, ``self_contact``. Boxes
and visibility are read exactly as COCO (:func:`saip.sources.boxes.read_coco_boxes`); the image's
style is kept as ``art_style`` in the manifest. ``file_name`` is relative to the Human-Art root
(``images/2D_virtual_human/...``), the folder above ``annotations/``, which is the default image
folder.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from saip.sources.boxes import BoxSource, _load_json, read_coco_boxes


def is_humanart_data(data: object) -> bool:
    """Whether COCO-style JSON ``data`` has Human-Art's per-image ``category`` (or ``keypoints_21``)."""
    if not isinstance(data, dict):
        return False
    images = data.get("images") or []
    annotations = data.get("annotations") or []
    return any(isinstance(i, dict) and "category" in i for i in images[:100]) or any(
        isinstance(a, dict) and "keypoints_21" in a for a in annotations[:100]
    )


def read_humanart_boxes(path: str | os.PathLike[str], data: object | None = None) -> BoxSource:
    """Person boxes of a Human-Art annotation file, each with its image's ``art_style``."""
    path = Path(path)
    data = _load_json(path) if data is None else data
    source = read_coco_boxes(path, data=data)
    styles = {str(image["file_name"]): image.get("category") for image in data["images"]}  # type: ignore[index]
    source.format = "humanart"
    source.boxes = [
        dataclasses.replace(box, extra={**box.extra, "art_style": styles.get(box.image)})
        for box in source.boxes
    ]
    if path.parent.name == "annotations":
        source.images = path.parent.parent
    return source
