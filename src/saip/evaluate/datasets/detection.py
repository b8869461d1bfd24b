"""Pedestrian detection layouts: COCO box JSON and CrowdHuman ``.odgt`` (Shao et al., 2018).

Both are read into :class:`DetectionImage` records (``xyxy`` boxes in image pixels and an
``ignore`` flag) and can be turned back into a COCO-format ground-truth dict for pycocotools.

* COCO: ``instances_{split}.json``; annotations of the person category (or of the only category);
  ``iscrowd=1`` boxes become ignore regions.
* CrowdHuman: one JSON object per line, ``{"ID": ..., "gtboxes": [{"tag", "fbox" xywh, "vbox",
  "hbox", "extra": {"ignore": 0/1}}]}``; the full-body box ``fbox`` is the target (the CrowdHuman
  "full body" benchmark); boxes tagged ``mask`` or with ``extra.ignore == 1`` are ignore regions.
  Images are ``<image_dir>/<ID>.jpg``.

:class:`LetterboxDataset` resizes keeping the aspect ratio and pads to a square (YOLO-style
letterbox), returning the scale/offset needed to map predictions back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from saip.data.image_io import load_rgb
from saip.data.normalize import normalize
from saip.evaluate.box_ops import xywh_to_xyxy, xyxy_to_xywh
from saip.evaluate.datasets.lip import find_image


@dataclass
class DetectionImage:
    """One image: path, id, size ``(H, W)``, boxes ``(N, 4)`` xyxy and ``ignore`` ``(N,)`` bool."""

    path: Path
    image_id: int
    size: tuple[int, int]
    boxes: torch.Tensor
    ignore: torch.Tensor


def load_coco_detection(annotation_file: Path, image_dir: Path) -> list[DetectionImage]:
    """Person boxes of a COCO instances JSON (every image, also those without persons)."""
    annotation_file, image_dir = Path(annotation_file), Path(image_dir)
    if not annotation_file.is_file():
        raise FileNotFoundError(f"COCO detection annotations not found: {annotation_file}")
    try:
        data = json.loads(annotation_file.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{annotation_file}: invalid JSON: {error}") from error
    if "images" not in data or "annotations" not in data:
        raise ValueError(f"{annotation_file}: not a COCO annotation file (needs 'images' and 'annotations')")
    categories = data.get("categories", [])
    person = [c["id"] for c in categories if c.get("name") == "person"]
    if person:
        category = person[0]
    elif len(categories) == 1:
        category = categories[0]["id"]
    else:
        raise ValueError(f"{annotation_file}: no 'person' category among {len(categories)} categories")
    per_image: dict[int, list[dict[str, Any]]] = {img["id"]: [] for img in data["images"]}
    for ann in data["annotations"]:
        if ann.get("category_id") == category:
            if ann["image_id"] not in per_image:
                raise ValueError(f"{annotation_file}: annotation {ann.get('id')} refers to unknown image")
            per_image[ann["image_id"]].append(ann)
    records = []
    for img in data["images"]:
        anns = [a for a in per_image[img["id"]] if a["bbox"][2] > 0 and a["bbox"][3] > 0]
        boxes = torch.tensor([a["bbox"] for a in anns], dtype=torch.float32).reshape(-1, 4)
        ignore = torch.tensor(
            [bool(a.get("iscrowd", 0) or a.get("ignore", 0)) for a in anns], dtype=torch.bool
        )
        records.append(
            DetectionImage(
                image_dir / img["file_name"],
                int(img["id"]),
                (int(img["height"]), int(img["width"])),
                xywh_to_xyxy(boxes),
                ignore,
            )
        )
    return records


def load_odgt(odgt_file: Path, image_dir: Path, box_key: str = "fbox") -> list[DetectionImage]:
    """Records of a CrowdHuman ``.odgt`` file; ``box_key`` picks ``fbox`` (full) or ``vbox`` (visible)."""
    odgt_file, image_dir = Path(odgt_file), Path(image_dir)
    if not odgt_file.is_file():
        raise FileNotFoundError(f"CrowdHuman annotations not found: {odgt_file}")
    records = []
    for line_no, line in enumerate(odgt_file.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{odgt_file}:{line_no}: invalid JSON: {error}") from error
        if "ID" not in entry:
            raise ValueError(f"{odgt_file}:{line_no}: record without 'ID'")
        path = find_image(image_dir, entry["ID"])
        if path is None:
            raise FileNotFoundError(f"{odgt_file}:{line_no}: image {entry['ID']!r} not found in {image_dir}")
        boxes, ignore = [], []
        for gt in entry.get("gtboxes", []):
            if box_key not in gt:
                raise ValueError(f"{odgt_file}:{line_no}: a box of {entry['ID']!r} has no {box_key!r}")
            x, y, w, h = (float(v) for v in gt[box_key])
            if w <= 0 or h <= 0:
                continue
            boxes.append([x, y, w, h])
            ignore.append(gt.get("tag", "person") != "person" or bool(gt.get("extra", {}).get("ignore", 0)))
        with Image.open(path) as image:
            width, height = image.size
        records.append(
            DetectionImage(
                path,
                line_no,
                (height, width),
                xywh_to_xyxy(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)),
                torch.tensor(ignore, dtype=torch.bool),
            )
        )
    if not records:
        raise ValueError(f"{odgt_file}: no records")
    return records


def to_coco_ground_truth(records: list[DetectionImage]) -> dict[str, Any]:
    """A COCO-format dict (one ``person`` category, ignore boxes as ``iscrowd``) for pycocotools."""
    images, annotations = [], []
    for record in records:
        h, w = record.size
        images.append({"id": record.image_id, "file_name": record.path.name, "height": h, "width": w})
        for box, ignore in zip(xyxy_to_xywh(record.boxes).tolist(), record.ignore.tolist(), strict=True):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": record.image_id,
                    "category_id": 1,
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": int(ignore),
                }
            )
    return {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}


def letterbox(image: Image.Image, size: int) -> tuple[Image.Image, float, tuple[float, float]]:
    """Resize so the longer side is ``size`` and pad (grey 114) to ``size × size``, centred.

    Returns the image, the scale and the ``(dx, dy)`` offset: ``x_input = x_image · scale + dx``.
    """
    scale = size / max(image.width, image.height)
    new_w, new_h = max(1, round(image.width * scale)), max(1, round(image.height * scale))
    canvas = Image.new("RGB", (size, size), (114, 114, 114))
    dx, dy = (size - new_w) // 2, (size - new_h) // 2
    canvas.paste(image.resize((new_w, new_h), Image.Resampling.BILINEAR), (dx, dy))
    return canvas, scale, (float(dx), float(dy))


class LetterboxDataset(Dataset):
    """Letterboxed images ``(3, S, S)`` (normalised), boxes in input pixels, and the inverse mapping.

    Items: ``image``, ``boxes`` ``(n, 4)`` (non-ignored, xyxy, input pixels), ``scale``, ``offset``,
    ``index``. With ``train=True`` images are flipped horizontally at random.
    """

    def __init__(
        self,
        records: list[DetectionImage],
        size: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        train: bool = False,
        seed: int = 0,
    ) -> None:
        self.records, self.size, self.mean, self.std, self.train = records, size, mean, std, train
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def item_size(self) -> tuple[int, int]:
        """``(H, W)`` of every item's image."""
        return self.size, self.size

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.load(index, self.draw(index))

    def draw(self, index: int) -> bool:
        """Whether item ``index`` is flipped (never in eval mode; see
        :mod:`saip.evaluate.datasets.presampled`)."""
        return bool(self.train and self.rng.random() < 0.5)

    def load(self, index: int, draw: bool) -> dict[str, Any]:
        """Item ``index``, flipped when ``draw``."""
        record = self.records[index]
        image, scale, (dx, dy) = letterbox(load_rgb(record.path, apply_exif=False), self.size)
        boxes = record.boxes[~record.ignore] * scale + torch.tensor([dx, dy, dx, dy])
        tensor = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
        if draw:
            tensor = tensor.flip(-1)
            boxes = torch.stack(
                [self.size - boxes[:, 2], boxes[:, 1], self.size - boxes[:, 0], boxes[:, 3]], -1
            )
        return {
            "image": normalize(tensor, self.mean, self.std),
            "boxes": boxes.reshape(-1, 4),
            "scale": scale,
            "offset": (dx, dy),
            "index": index,
        }


def collate_detection(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack images; keep per-image boxes, scales and offsets as lists."""
    return {
        "image": torch.stack([b["image"] for b in batch]),
        "boxes": [b["boxes"] for b in batch],
        "scale": [b["scale"] for b in batch],
        "offset": [b["offset"] for b in batch],
        "index": [b["index"] for b in batch],
    }
