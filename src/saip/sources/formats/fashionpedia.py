"""Fashionpedia (Jia et al., "Fashionpedia: Ontology, Segmentation, and an Attribute Localization
Dataset", ECCV 2020): one person box per image, the union of its garment boxes.

The annotation files (``instances_attributes_train2020.json``, ...) are COCO-style (``images``,
``annotations`` with ``bbox``, ``categories``) plus a top-level ``attributes`` list, but the 46
categories are apparel and apparel parts (shirt, pants, shoe, sleeve, collar, ...): there is no
person category and no person box. Fashionpedia images are fashion photos of one wearer, so the
person box here is the **union of all garment boxes of the image** (what a person detector would
roughly return, minus the uncovered head/hands; ``--pad`` grows it). Carried objects that may reach
far from the body (``umbrella`` by default) are left out of the union and counted
(``skipped["not_worn"]``). The single-wearer assumption is checked: an image with more than one
lower-body or whole-body garment (``pants``, ``shorts``, ``skirt``, ``dress``, ``jumpsuit``) shows
several people and is skipped (``several_wearers``); an image without garments is skipped
(``no_garments``). The instance id is ``0``; the number of garments in the union is kept as
``garments``. There is no visibility.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from saip.sources.boxes import BoxSource, PersonBox, _box4, _load_json

NOT_WORN = ("umbrella",)
ONE_PER_WEARER = ("pants", "shorts", "skirt", "dress", "jumpsuit")


def is_fashionpedia_data(data: object) -> bool:
    """Whether parsed JSON ``data`` is Fashionpedia: COCO-style with ``attributes``, no person category."""
    if not isinstance(data, dict) or "attributes" not in data or "annotations" not in data:
        return False
    return not any(isinstance(c, dict) and c.get("name") == "person" for c in data.get("categories") or [])


def read_fashionpedia_boxes(
    path: str | os.PathLike[str], data: object | None = None, not_worn: tuple[str, ...] = NOT_WORN
) -> BoxSource:
    """One union-of-garments person box per image of a Fashionpedia file (``data``: its parsed content)."""
    path = Path(path)
    data = _load_json(path) if data is None else data
    if not isinstance(data, dict) or "annotations" not in data or "images" not in data:
        raise ValueError(f"{path}: not a Fashionpedia annotation file (needs 'images' and 'annotations')")
    names = {c.get("id"): str(c.get("name")) for c in data.get("categories") or [] if isinstance(c, dict)}
    files = {image["id"]: str(image["file_name"]) for image in data["images"]}
    garments: dict[object, list[tuple[float, float, float, float]]] = defaultdict(list)
    one_per_wearer: dict[object, int] = defaultdict(int)
    source = BoxSource(path=path, format="fashionpedia", boxes=[])
    for index, ann in enumerate(data["annotations"]):
        where = f"{path}: annotations[{index}]"
        if ann.get("image_id") not in files:
            raise ValueError(f"{where}: image_id {ann.get('image_id')!r} is not in 'images'")
        name = names.get(ann.get("category_id"), "")
        if name in not_worn:
            source.skipped["not_worn"] += 1
            continue
        garments[ann["image_id"]].append(_box4(ann.get("bbox"), where))
        one_per_wearer[ann["image_id"]] += name in ONE_PER_WEARER
    for image_id, file_name in files.items():
        boxes = garments.get(image_id)
        if not boxes:
            source.skipped["no_garments"] += 1
            continue
        if one_per_wearer[image_id] > 1:
            source.skipped["several_wearers"] += 1
            continue
        x1 = min(x for x, _y, _w, _h in boxes)
        y1 = min(y for _x, y, _w, _h in boxes)
        x2 = max(x + w for x, _y, w, _h in boxes)
        y2 = max(y + h for _x, y, _w, h in boxes)
        source.boxes.append(
            PersonBox(
                image=file_name,
                instance_id="0",
                box=(x1, y1, x2 - x1, y2 - y1),
                extra={"garments": len(boxes)},
            )
        )
    return source
