"""MHPv2 (Multi-Human Parsing v2; Zhao et al., ACM MM 2018): person boxes from ``parsing_annos/``.

An MHPv2 split folder (``LV-MHP-v2/train``, ``.../val``) holds ``images/<image>.jpg`` and
``parsing_annos/<image>_<N>_<i>.png``: one PNG per person ``i`` (1-based, 2 digits) of the ``N``
persons of ``<image>``, whose non-zero pixels (part labels, in the R channel of 3 equal channels)
are that person. The box is the tight box of those pixels; the instance id is ``i``. MHPv2 has no
visibility in this folder (``pose_annos/`` is not read).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from saip.sources.boxes import BoxSource, PersonBox
from saip.sources.formats.label_masks import instance_boxes, read_label_map

PERSON_MASKS = "parsing_annos"
IMAGES = "images"
_NAME = re.compile(r"(?P<image>.+)_(?P<count>\d+)_(?P<index>\d+)")


def is_mhp_folder(folder: Path) -> bool:
    """Whether ``folder`` looks like an MHPv2 split (has ``parsing_annos/``)."""
    return (folder / PERSON_MASKS).is_dir()


def read_mhp_boxes(folder: str | os.PathLike[str], image_suffix: str = ".jpg") -> BoxSource:
    """One box per ``parsing_annos/<image>_<N>_<i>.png`` of the MHPv2 split ``folder``.

    Images are ``images/<image><image_suffix>`` (:attr:`BoxSource.images` is ``folder/images``).
    Skipped and counted: PNGs not named ``<image>_<N>_<i>`` (``not_a_person_mask``) and masks
    without any non-zero pixel (``empty_mask``).
    """
    folder = Path(folder)
    if not is_mhp_folder(folder):
        raise ValueError(
            f"{folder}: no {PERSON_MASKS}/ folder; pass an MHPv2 split folder such as LV-MHP-v2/train"
        )
    source = BoxSource(path=folder, format="mhp", boxes=[], images=folder / IMAGES)
    for png in sorted((folder / PERSON_MASKS).glob("*.png")):
        match = _NAME.fullmatch(png.stem)
        if match is None:
            source.skipped["not_a_person_mask"] += 1
            continue
        boxes = instance_boxes(read_label_map(png) != 0)
        if not boxes:
            source.skipped["empty_mask"] += 1
            continue
        source.boxes.append(
            PersonBox(
                image=match["image"] + image_suffix,
                instance_id=str(int(match["index"])),
                box=boxes[1],
            )
        )
    return source
