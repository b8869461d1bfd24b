"""CIHP label maps of a multi-person scene (Gong et al., ECCV 2018, "Instance-level Human Parsing via
Part Grouping Network").

CIHP ships, per image, three single-channel PNGs: ``Category_ids`` (the semantic part class of each
pixel, 20 classes), ``Human_ids`` (0 background, ``k`` for the k-th person) and ``Instance_ids`` (one
id per part instance, i.e. per (person, part class) pair). The 20 classes are LIP's with class 10
named ``Torso-skin``. Scene part ids are LIP ids; the synthetic ``Bag`` (id 20) has no CIHP class, so
bag pixels become background in all three maps.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from saip.synth.parts import BAG, PART_CLASSES

CIHP_CLASSES: tuple[str, ...] = (*PART_CLASSES[:10], "Torso-skin", *PART_CLASSES[11:20])


def cihp_maps(parts: np.ndarray, instances: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(Category_ids, Human_ids, Instance_ids)`` (uint8, uint8, uint16) of a scene's part/instance maps.

    A pixel belongs to a person when its instance id is non-zero and its part class is a CIHP class
    other than background. Human ids are renumbered 1..N over the persons left visible; part
    instance ids are numbered 1..M in (person, class) order.
    """
    if parts.shape != instances.shape:
        raise ValueError(f"part map {parts.shape} and instance map {instances.shape} differ in shape")
    category = np.where(parts == BAG, 0, parts).astype(np.uint8)
    person = (instances > 0) & (category > 0)
    category[~person] = 0
    human = np.zeros_like(category)
    part_instance = np.zeros(category.shape, dtype=np.uint16)  # may exceed 255 in crowded scenes
    next_human, next_part = 1, 1
    for k in np.unique(instances[person]):
        mask = person & (instances == k)
        human[mask] = next_human
        next_human += 1
        for c in np.unique(category[mask]):
            part_instance[mask & (category == c)] = next_part
            next_part += 1
    return category, human, part_instance


CIHP_SPLIT_FOLDERS = {"train": ("Training", "train_id.txt"), "val": ("Validation", "val_id.txt")}


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


class CihpWriter:
    """Writes scenes into the CIHP folder layout under ``root``.

    ``Training/`` and ``Validation/`` each hold ``Images/<id>.jpg``, ``Category_ids/<id>.png``,
    ``Human_ids/<id>.png``, ``Instance_ids/<id>.png`` (16-bit), and the id list
    ``train_id.txt`` / ``val_id.txt`` (written by :meth:`save`).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.ids: dict[str, list[str]] = {split: [] for split in CIHP_SPLIT_FOLDERS}

    def add(self, split: str, stem: str, jpeg: bytes, parts: np.ndarray, instances: np.ndarray) -> None:
        """Write one scene (its JPEG bytes and label maps) to ``split``."""
        folder = self.root / CIHP_SPLIT_FOLDERS[split][0]
        category, human, part_instance = cihp_maps(parts, instances)
        for sub, data in (
            ("Images", jpeg),
            ("Category_ids", _png(category)),
            ("Human_ids", _png(human)),
            ("Instance_ids", _png(part_instance)),
        ):
            path = folder / sub / (f"{stem}.jpg" if sub == "Images" else f"{stem}.png")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        self.ids[split].append(stem)

    def save(self) -> None:
        """Write the id lists of both splits."""
        for split, (folder, id_file) in CIHP_SPLIT_FOLDERS.items():
            (self.root / folder).mkdir(parents=True, exist_ok=True)
            (self.root / folder / id_file).write_text("".join(f"{s}\n" for s in self.ids[split]))
