"""Reading person boxes from the standard annotation formats (LUPerson-style crop building).

LUPerson (Fu et al., CVPR 2021) was built by detecting people in street videos and cropping them;
the same crops can be cut from any person-box annotation. Three formats are read into one
:class:`PersonBox` list:

- **COCO** instances / keypoints JSON (Lin et al., 2014): ``iscrowd`` regions are skipped;
  ``num_keypoints`` is kept and *visibility* is the fraction of the category's keypoints that are
  labelled (``num_keypoints / K``; ``None`` when the file has no keypoints).
- **CrowdHuman** ``.odgt`` (Shao et al., 2018; one JSON object per line): the full-body box
  ``fbox`` is the person box, *visibility* is ``|vbox ∩ fbox| / |fbox|``; boxes tagged ``mask``
  (ignore regions) and boxes with ``extra.ignore == 1`` are skipped.
- **CSV**: ``image,x,y,w,h[,score]`` (header optional), boxes in pixels, top-left + size.

Boxes are ``(x, y, w, h)`` in pixels of the source image. Entries skipped while reading are
counted per reason in :attr:`BoxSource.skipped`. The other datasets SAIP's HP1M was cropped from
(AI Challenger, CIHP, MHPv2, Fashionpedia, HumanArt) are read by :mod:`saip.sources.formats`;
:func:`read_boxes` reads any of them.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BOX_FORMATS = ("coco", "odgt", "csv")
_SUFFIX_FORMATS = {".json": "coco", ".odgt": "odgt", ".csv": "csv"}


@dataclass(frozen=True)
class PersonBox:
    """One person instance in one source image.

    Attributes:
        image: the image's path as written in the annotation file (relative to the image folder,
            or absolute).
        instance_id: identifier unique within the image (COCO annotation id, CrowdHuman box index,
            CSV row order within the image).
        box: ``(x, y, w, h)`` in pixels.
        score: detector confidence (CSV only), else ``None``.
        visibility: visible fraction in [0, 1], ``None`` when the format does not say.
        num_keypoints: labelled keypoints (COCO, AI Challenger, HumanArt), else ``None``.
        extra: format-specific fields kept in the crop manifest (e.g. HumanArt's ``art_style``);
            JSON-serialisable values. Not part of equality or the hash.
    """

    image: str
    instance_id: str
    box: tuple[float, float, float, float]
    score: float | None = None
    visibility: float | None = None
    num_keypoints: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass
class BoxSource:
    """The boxes read from one annotation file or folder, plus counts of entries skipped while reading.

    ``images`` is the folder the image paths are relative to when the format defines it (e.g. a
    CIHP split's ``Images/``), else ``None`` (the caller decides, by default the file's folder).
    """

    path: Path
    format: str
    boxes: list[PersonBox]
    skipped: Counter[str] = field(default_factory=Counter)
    images: Path | None = None

    def has_visibility(self) -> bool:
        return any(box.visibility is not None for box in self.boxes)

    def has_keypoints(self) -> bool:
        return any(box.num_keypoints is not None for box in self.boxes)

    def has_scores(self) -> bool:
        return any(box.score is not None for box in self.boxes)


def _box4(value: object, where: str) -> tuple[float, float, float, float]:
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise ValueError(f"{where}: expected a box of 4 numbers, got {value!r}")
    try:
        x, y, w, h = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: box values must be numbers, got {value!r}") from None
    return x, y, w, h


def _load_json(path: Path) -> object:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error


def read_coco_boxes(
    path: str | os.PathLike[str], category: str = "person", data: object | None = None
) -> BoxSource:
    """Person boxes from a COCO instances/keypoints JSON file (``iscrowd`` regions skipped).

    ``data``: the file's already parsed content (read from ``path`` when ``None``).
    """
    path = Path(path)
    data = _load_json(path) if data is None else data
    if not isinstance(data, dict) or "annotations" not in data or "images" not in data:
        raise ValueError(f"{path}: not a COCO annotation file (needs 'images' and 'annotations')")
    categories = data.get("categories") or []
    wanted = {c["id"]: c for c in categories if c.get("name") == category}
    if categories and not wanted:
        names = sorted({str(c.get("name")) for c in categories})
        raise ValueError(f"{path}: no category named {category!r} (categories: {', '.join(names[:10])})")
    files = {image["id"]: str(image["file_name"]) for image in data["images"]}
    source = BoxSource(path=path, format="coco", boxes=[])
    for index, ann in enumerate(data["annotations"]):
        where = f"{path}: annotations[{index}]"
        if wanted and ann.get("category_id") not in wanted:
            source.skipped["other_category"] += 1
            continue
        if ann.get("iscrowd", 0):
            source.skipped["iscrowd"] += 1
            continue
        if ann.get("image_id") not in files:
            raise ValueError(f"{where}: image_id {ann.get('image_id')!r} is not in 'images'")
        num_keypoints = visibility = None
        n_kpt_labels = len(wanted.get(ann.get("category_id"), {}).get("keypoints", [])) or (
            len(ann["keypoints"]) // 3 if "keypoints" in ann else 0
        )
        if "num_keypoints" in ann and n_kpt_labels:
            num_keypoints = int(ann["num_keypoints"])
            visibility = min(1.0, num_keypoints / n_kpt_labels)
        source.boxes.append(
            PersonBox(
                image=files[ann["image_id"]],
                instance_id=str(ann.get("id", index)),
                box=_box4(ann.get("bbox"), where),
                visibility=visibility,
                num_keypoints=num_keypoints,
            )
        )
    return source


def _visible_fraction(full: tuple[float, ...], visible: tuple[float, ...]) -> float:
    fx, fy, fw, fh = full
    vx, vy, vw, vh = visible
    inter_w = max(0.0, min(fx + fw, vx + vw) - max(fx, vx))
    inter_h = max(0.0, min(fy + fh, vy + vh) - max(fy, vy))
    area = fw * fh
    return 0.0 if area <= 0 else min(1.0, inter_w * inter_h / area)


def read_odgt_boxes(path: str | os.PathLike[str], image_suffix: str = ".jpg") -> BoxSource:
    """Full-body person boxes from a CrowdHuman ``.odgt`` file (``mask`` / ignored boxes skipped)."""
    path = Path(path)
    source = BoxSource(path=path, format="odgt", boxes=[])
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{where}: not a JSON object ({error})") from error
            if not isinstance(record, dict) or "ID" not in record:
                raise ValueError(f"{where}: record has no 'ID'")
            image = str(record["ID"]) + image_suffix
            for index, gt in enumerate(record.get("gtboxes", [])):
                if gt.get("tag") == "mask":
                    source.skipped["mask"] += 1
                    continue
                if gt.get("tag", "person") != "person":
                    source.skipped["other_category"] += 1
                    continue
                if (gt.get("extra") or {}).get("ignore", 0) == 1:
                    source.skipped["ignore"] += 1
                    continue
                if "fbox" not in gt:
                    raise ValueError(f"{where}: gtboxes[{index}] has no 'fbox'")
                full = _box4(gt["fbox"], f"{where}: gtboxes[{index}].fbox")
                visibility = None
                if "vbox" in gt:
                    visibility = _visible_fraction(full, _box4(gt["vbox"], f"{where}: gtboxes[{index}].vbox"))
                box_id = (gt.get("extra") or {}).get("box_id", index)
                source.boxes.append(
                    PersonBox(image=image, instance_id=str(box_id), box=full, visibility=visibility)
                )
    return source


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_csv_boxes(path: str | os.PathLike[str]) -> BoxSource:
    """Boxes from a CSV file with rows ``image,x,y,w,h[,score]`` (an optional header row is skipped)."""
    path = Path(path)
    source = BoxSource(path=path, format="csv", boxes=[])
    per_image: Counter[str] = Counter()
    with open(path, encoding="utf-8", newline="") as handle:
        for line_number, row in enumerate(csv.reader(handle), start=1):
            if not row or not "".join(row).strip() or row[0].startswith("#"):
                continue
            if line_number == 1 and len(row) >= 5 and not _is_number(row[1]):
                header = [cell.strip().lower() for cell in row]
                if header[:5] != ["image", "x", "y", "w", "h"]:
                    raise ValueError(f"{path}:1: header must start with image,x,y,w,h, got {','.join(row)}")
                continue
            if len(row) not in (5, 6):
                raise ValueError(
                    f"{path}:{line_number}: expected image,x,y,w,h[,score], got {len(row)} columns"
                )
            values = [cell.strip() for cell in row]
            if not all(_is_number(v) for v in values[1:]):
                raise ValueError(f"{path}:{line_number}: x,y,w,h[,score] must be numbers, got {values[1:]}")
            image = values[0]
            source.boxes.append(
                PersonBox(
                    image=image,
                    instance_id=str(per_image[image]),
                    box=(float(values[1]), float(values[2]), float(values[3]), float(values[4])),
                    score=float(values[5]) if len(values) == 6 else None,
                )
            )
            per_image[image] += 1
    return source


def detect_format(path: str | os.PathLike[str]) -> str:
    """``coco``, ``odgt`` or ``csv`` from the file suffix; raises ``ValueError`` naming the file."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIX_FORMATS:
        raise ValueError(
            f"cannot tell the format of {path} from its suffix {suffix!r}: pass --format "
            f"({'|'.join(BOX_FORMATS)})"
        )
    return _SUFFIX_FORMATS[suffix]


def read_boxes(path: str | os.PathLike[str], fmt: str | None = None) -> BoxSource:
    """Read person boxes from the file or folder ``path`` in format ``fmt`` (``None``: detected).

    Any format of :data:`saip.sources.formats.FORMATS`; bad input raises
    :class:`saip.errors.InputError` naming the file (see :func:`saip.sources.formats.read_person_boxes`).
    """
    from saip.sources.formats import read_person_boxes

    return read_person_boxes(path, fmt)
