"""CIHP (Crowd Instance-level Human Parsing; Gong et al., ECCV 2018): person boxes from ``Human_ids/``.

A CIHP split folder (``instance-level_human_parsing/Training``, ``.../Validation``) holds
``Images/<id>.jpg`` and, per image, label PNGs: ``Category_ids/`` (the 19 part classes),
``Human_ids/`` (one id per person, 0 = background) and ``Instance_ids/`` (one id per *part*
instance, i.e. per (person, part) pair — not per person, so it is not used for boxes). Each
person's box is the tight box of its ``Human_ids`` pixels (:func:`instance_boxes`); the instance
id is the person id. CIHP has no visibility or keypoints.
"""

from __future__ import annotations

import os
from pathlib import Path

from saip.sources.boxes import BoxSource, PersonBox
from saip.sources.formats.label_masks import instance_boxes, read_label_map

PERSON_MAPS = "Human_ids"
IMAGES = "Images"


def is_cihp_folder(folder: Path) -> bool:
    """Whether ``folder`` looks like a CIHP split (has ``Human_ids/``)."""
    return (folder / PERSON_MAPS).is_dir()


def read_cihp_boxes(folder: str | os.PathLike[str], image_suffix: str = ".jpg") -> BoxSource:
    """One box per person of every ``Human_ids/*.png`` of the CIHP split ``folder``.

    Images are ``Images/<stem><image_suffix>`` (:attr:`BoxSource.images` is ``folder/Images``).
    A label map without any person pixel is counted as ``skipped["no_person_pixels"]``.
    """
    folder = Path(folder)
    if not is_cihp_folder(folder):
        hint = (
            " (its Instance_ids/ are part instances, not persons)"
            if (folder / "Instance_ids").is_dir()
            else ""
        )
        raise ValueError(
            f"{folder}: no {PERSON_MAPS}/ folder; pass a CIHP split folder such as "
            f"instance-level_human_parsing/Training{hint}"
        )
    source = BoxSource(path=folder, format="cihp", boxes=[], images=folder / IMAGES)
    for png in sorted((folder / PERSON_MAPS).glob("*.png")):
        persons = instance_boxes(read_label_map(png))
        if not persons:
            source.skipped["no_person_pixels"] += 1
        for person, box in persons.items():
            source.boxes.append(PersonBox(image=png.stem + image_suffix, instance_id=str(person), box=box))
    return source
