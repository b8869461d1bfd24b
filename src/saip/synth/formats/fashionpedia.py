"""Fashionpedia-style garment annotations of a multi-person scene (Jia et al., ECCV 2020, "Fashionpedia:
Ontology, Segmentation, and an Attribute Localization Dataset").

Fashionpedia is COCO instances JSON plus an ``attributes`` list and ``attribute_ids`` on every
annotation. Here each visible person contributes one annotation per garment or accessory: its mask
is the person's pixels of the matching part classes, its box the mask's tight box. Category ids and
names are Fashionpedia's (0 ``shirt, blouse`` ... 25 ``scarf``); only the categories the synthetic
persons wear are listed. Attributes follow Fashionpedia's naming where it has one (textile pattern,
sleeve and garment length); colour is a synthetic addition (Fashionpedia has no colour attribute)
taken from the identity's colour group. As in Fashionpedia, accessories (hat, glasses, glove, sock,
shoe, bag, scarf) carry no attributes. Gloves and socks are split into connected components, one
annotation per glove or sock (scipy.ndimage.label); shoes are split by the left/right part class.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from saip.synth import parts as P
from saip.synth.formats.coco import mask_box, mask_to_rle
from saip.synth.identity import Identity
from saip.synth.palette import GROUP_NAMES

# (Fashionpedia id, name, supercategory) of the categories the synthetic persons wear.
CATEGORIES: tuple[tuple[int, str, str], ...] = (
    (0, "shirt, blouse", "upperbody"),
    (1, "top, t-shirt, sweatshirt", "upperbody"),
    (5, "vest", "upperbody"),
    (6, "pants", "lowerbody"),
    (7, "shorts", "lowerbody"),
    (8, "skirt", "lowerbody"),
    (9, "coat", "wholebody"),
    (13, "glasses", "head"),
    (14, "hat", "head"),
    (17, "glove", "arms and hands"),
    (22, "sock", "legs and feet"),
    (23, "shoe", "legs and feet"),
    (24, "bag, wallet", "others"),
    (25, "scarf", "neck"),
)
TOP_CATEGORY = {"longsleeve": 0, "tshirt": 1, "vest": 5, "coat": 9}
BOTTOM_CATEGORY = {"trousers": 6, "shorts": 7, "skirt": 8}

_PATTERN = {
    "plain": "plain (pattern)",
    "stripes": "stripe",
    "stripe": "stripe",
    "twotone": "colour block",
    "logo": "letters, numbers",
}
_SLEEVE = {
    "tshirt": "short (length)",
    "longsleeve": "wrist-length",
    "coat": "wrist-length",
    "vest": "sleeveless",
}
_LENGTH = {"trousers": "maxi (length)", "shorts": "above-the-knee (length)", "skirt": "knee (length)"}

# (id, name, supercategory); ids are this dataset's own (Fashionpedia's 294 are not all used).
ATTRIBUTES: tuple[tuple[int, str, str], ...] = tuple(
    (i, name, sup)
    for i, (name, sup) in enumerate(
        [(f"{g} (colour)", "colour") for g in GROUP_NAMES]
        + [(n, "textile pattern") for n in dict.fromkeys(_PATTERN.values())]
        + [(n, "length") for n in dict.fromkeys([*_SLEEVE.values(), *_LENGTH.values()])]
    )
)
_ATTRIBUTE_ID = {name: i for i, name, _ in ATTRIBUTES}


@dataclass(frozen=True)
class Garment:
    """One annotation: Fashionpedia category id, visible mask ``(H, W)`` bool, attribute ids."""

    category_id: int
    mask: np.ndarray
    attribute_ids: tuple[int, ...]


def _attributes(*names: str) -> tuple[int, ...]:
    return tuple(sorted(_ATTRIBUTE_ID[n] for n in names))


def person_garments(identity: Identity, parts: np.ndarray, person: np.ndarray) -> list[Garment]:
    """The garments and accessories of one person from the scene's part map and the person's mask."""
    top_pattern = _PATTERN[identity.top_pattern]
    items: list[tuple[int, np.ndarray, tuple[int, ...]]] = [
        (
            TOP_CATEGORY[identity.top_type],
            np.isin(parts, (P.UPPER_CLOTHES, P.COAT)),
            _attributes(f"{identity.top_group} (colour)", top_pattern, _SLEEVE[identity.top_type]),
        ),
        (
            BOTTOM_CATEGORY[identity.bottom_type],
            np.isin(parts, (P.PANTS, P.SKIRT)),
            _attributes(
                f"{identity.bottom_group} (colour)",
                _PATTERN[identity.bottom_pattern],
                _LENGTH[identity.bottom_type],
            ),
        ),
        (23, parts == P.LEFT_SHOE, ()),
        (23, parts == P.RIGHT_SHOE, ()),
        (14, parts == P.HAT, ()),
        (13, parts == P.SUNGLASSES, ()),
        (24, parts == P.BAG, ()),
        (25, parts == P.SCARF, ()),
    ]
    for category, cls in ((17, P.GLOVE), (22, P.SOCKS)):
        labels, count = ndimage.label((parts == cls) & person)
        items.extend((category, labels == i, ()) for i in range(1, count + 1))
    garments = []
    for category, mask, attributes in items:
        mask = mask & person
        if mask.any():
            garments.append(Garment(category, mask, attributes))
    return garments


class FashionpediaWriter:
    """Accumulates images and garment annotations; :meth:`save` writes ``instances_attributes_*.json``."""

    def __init__(self) -> None:
        self.images: list[dict] = []
        self.annotations: list[dict] = []

    def add_image(self, file_name: str, height: int, width: int) -> int:
        """Register an image; returns its id (1-based)."""
        image_id = len(self.images) + 1
        self.images.append({"id": image_id, "file_name": file_name, "height": height, "width": width})
        return image_id

    def add_garment(self, image_id: int, garment: Garment) -> None:
        """Add one annotation (box, RLE mask, area, category, attribute ids)."""
        box = mask_box(garment.mask)
        if box is None:
            return
        self.annotations.append(
            {
                "id": len(self.annotations) + 1,
                "image_id": image_id,
                "category_id": garment.category_id,
                "bbox": box,
                "area": float(garment.mask.sum()),
                "iscrowd": 0,
                "segmentation": mask_to_rle(garment.mask),
                "attribute_ids": list(garment.attribute_ids),
            }
        )

    def save(self, path: Path) -> None:
        """Write the Fashionpedia JSON file."""
        data = {
            "info": {"description": "saip synthetic persons (Fashionpedia layout)", "version": "1.0"},
            "licenses": [],
            "images": self.images,
            "annotations": self.annotations,
            "categories": [{"id": i, "name": n, "supercategory": s} for i, n, s in CATEGORIES],
            "attributes": [{"id": i, "name": n, "supercategory": s} for i, n, s in ATTRIBUTES],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))
