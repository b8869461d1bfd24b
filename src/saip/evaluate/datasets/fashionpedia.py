"""Fashionpedia layout reader (Jia et al., ECCV 2020): COCO instances JSON with ``attributes`` and
per-annotation ``attribute_ids``.

Layout under ``root`` (a saip data root's ``pap/`` or the Fashionpedia folder):
``instances_attributes_{split}2020.json`` in ``annotations/`` or ``root`` itself, images in
``images/{split}/``, ``{split}/`` or (Fashionpedia's val annotations) ``test/``. Every annotation
becomes a box with a contiguous class index (the JSON's categories, sorted by id) and a multi-hot
attribute vector (the JSON's attributes, sorted by id); images become
:class:`~saip.evaluate.datasets.detection.DetectionImage` records, so the letterbox dataset of the
pedestrian detection task serves them unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from saip.evaluate.box_ops import xywh_to_xyxy
from saip.evaluate.datasets.detection import DetectionImage

_IMAGE_FOLDERS = {"train": ("images/train", "train"), "val": ("images/val", "val", "test")}


@dataclass
class FashionpediaSplit:
    """Records, per-image class indices ``(n,)`` and attribute vectors ``(n, A)``, and the raw JSON."""

    records: list[DetectionImage]
    labels: list[torch.Tensor]
    attributes: list[torch.Tensor]
    category_ids: list[int]
    attribute_ids: list[int]
    ground_truth: dict[str, Any]


def _require(data: dict[str, Any], key: str, where: Path) -> Any:
    if key not in data:
        raise ValueError(f"{where}: not a Fashionpedia annotation file (no {key!r} key)")
    return data[key]


def load_fashionpedia(annotation_file: Path, image_dir: Path) -> FashionpediaSplit:
    """Read one Fashionpedia JSON (every listed image, also those without annotations)."""
    annotation_file, image_dir = Path(annotation_file), Path(image_dir)
    if not annotation_file.is_file():
        raise FileNotFoundError(f"Fashionpedia annotations not found: {annotation_file}")
    try:
        data = json.loads(annotation_file.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{annotation_file}: invalid JSON: {error}") from error
    images = _require(data, "images", annotation_file)
    annotations = _require(data, "annotations", annotation_file)
    category_ids = sorted(int(c["id"]) for c in _require(data, "categories", annotation_file))
    attribute_ids = sorted(int(a["id"]) for a in _require(data, "attributes", annotation_file))
    class_index = {c: i for i, c in enumerate(category_ids)}
    attribute_index = {a: i for i, a in enumerate(attribute_ids)}
    per_image: dict[int, list[dict[str, Any]]] = {int(img["id"]): [] for img in images}
    for ann in annotations:
        for key in ("image_id", "category_id", "bbox", "attribute_ids"):
            if key not in ann:
                raise ValueError(f"{annotation_file}: annotation {ann.get('id')} has no {key!r}")
        if ann["image_id"] not in per_image:
            raise ValueError(f"{annotation_file}: annotation {ann.get('id')} refers to an unknown image")
        if ann["category_id"] not in class_index:
            raise ValueError(f"{annotation_file}: annotation {ann.get('id')} has an unknown category")
        unknown = [a for a in ann["attribute_ids"] if a not in attribute_index]
        if unknown:
            raise ValueError(
                f"{annotation_file}: annotation {ann.get('id')} has unknown attributes {unknown}"
            )
        if ann["bbox"][2] > 0 and ann["bbox"][3] > 0:
            per_image[ann["image_id"]].append(ann)
    split = FashionpediaSplit([], [], [], category_ids, attribute_ids, data)
    for img in images:
        anns = per_image[int(img["id"])]
        boxes = torch.tensor([a["bbox"] for a in anns], dtype=torch.float32).reshape(-1, 4)
        vectors = torch.zeros(len(anns), len(attribute_ids))
        for row, ann in enumerate(anns):
            vectors[row, [attribute_index[a] for a in ann["attribute_ids"]]] = 1.0
        split.records.append(
            DetectionImage(
                image_dir / img["file_name"],
                int(img["id"]),
                (int(img["height"]), int(img["width"])),
                xywh_to_xyxy(boxes),
                torch.zeros(len(anns), dtype=torch.bool),
            )
        )
        split.labels.append(torch.tensor([class_index[a["category_id"]] for a in anns], dtype=torch.int64))
        split.attributes.append(vectors)
    if not split.records:
        raise ValueError(f"{annotation_file}: no images")
    return split


def load_fashionpedia_split(root: Path, split: str) -> FashionpediaSplit:
    """The ``train``/``val`` split under a saip data root (``pap/``) or a Fashionpedia folder."""
    if split not in _IMAGE_FOLDERS:
        raise ValueError(f"unknown Fashionpedia split {split!r}; choose from {', '.join(_IMAGE_FOLDERS)}")
    root = Path(root)
    base = root / "pap" if (root / "pap").is_dir() else root
    name = f"instances_attributes_{split}2020.json"
    annotation_file = next(
        (p for p in (base / "annotations" / name, base / name) if p.is_file()), base / "annotations" / name
    )
    if not annotation_file.is_file():
        raise FileNotFoundError(
            f"{base}: Fashionpedia annotations {name} not found (in annotations/ or {base})"
        )
    image_dir = next(
        (base / f for f in _IMAGE_FOLDERS[split] if (base / f).is_dir()), base / _IMAGE_FOLDERS[split][0]
    )
    return load_fashionpedia(annotation_file, image_dir)
