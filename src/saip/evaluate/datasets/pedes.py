"""Text-to-image person retrieval datasets: CUHK-PEDES, ICFG-PEDES and RSTPReid annotation files.

The three benchmarks ship one JSON list of images, each with an identity, a split and captions,
and the images under ``imgs/`` beside the file (the layout IRRA's loaders read):

* CUHK-PEDES (Li et al., CVPR 2017): ``reid_raw.json``; entries ``file_path``, ``id``,
  ``captions``, ``split`` (``train``/``val``/``test``);
* ICFG-PEDES (Ding et al., arXiv 2107.12666): ``ICFG-PEDES.json``; same keys, ``train``/``test``;
* RSTPReid (Zhu et al., ACM MM 2021): ``data_captions.json``; ``img_path`` instead of
  ``file_path``, ``train``/``val``/``test``.

The embedded synthetic data is written in the CUHK-PEDES layout under ``<data>/t2i/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

# format name -> (annotation file name, image path key)
PEDES_FORMATS: dict[str, tuple[str, str]] = {
    "cuhk-pedes": ("reid_raw.json", "file_path"),
    "icfg-pedes": ("ICFG-PEDES.json", "file_path"),
    "rstpreid": ("data_captions.json", "img_path"),
}
IMAGE_DIR = "imgs"


@dataclass(frozen=True)
class CaptionedImage:
    """One image of a person and its captions."""

    path: Path
    pid: int
    captions: tuple[str, ...]


@dataclass(frozen=True)
class PedesLayout:
    """Where a text-to-image dataset lives and in which of :data:`PEDES_FORMATS` it is written."""

    annotation_file: Path
    image_dir: Path
    fmt: str


def resolve_pedes_layout(root: Path) -> PedesLayout:
    """Find the annotation file of a saip data root (``t2i/``) or of a dataset folder.

    Raises ``FileNotFoundError`` naming the folder and the file names looked for.
    """
    root = Path(root)
    for base in (root / "t2i", root):
        for fmt, (name, _) in PEDES_FORMATS.items():
            if (base / name).is_file():
                return PedesLayout(base / name, base / IMAGE_DIR, fmt)
    names = ", ".join(name for name, _ in PEDES_FORMATS.values())
    raise FileNotFoundError(f"{root}: no text-to-image annotation file ({names}) in it or in {root / 't2i'}")


def _entry_field(entry: object, key: str, index: int, annotation_file: Path) -> object:
    if not isinstance(entry, dict) or key not in entry:
        raise ValueError(f"{annotation_file}: entry {index} has no {key!r}")
    return entry[key]


def load_pedes(layout: PedesLayout) -> dict[str, list[CaptionedImage]]:
    """``{split: [CaptionedImage, ...]}`` from the annotation file; every image file must exist.

    Raises ``FileNotFoundError``/``ValueError`` naming the file (and entry) that is missing or malformed.
    """
    ann, image_dir = layout.annotation_file, layout.image_dir
    if layout.fmt not in PEDES_FORMATS:
        raise ValueError(
            f"unknown text-to-image format {layout.fmt!r}; choose from {', '.join(PEDES_FORMATS)}"
        )
    if not ann.is_file():
        raise FileNotFoundError(f"text-to-image annotations not found: {ann}")
    if not image_dir.is_dir():
        raise FileNotFoundError(f"text-to-image image folder not found: {image_dir}")
    try:
        entries = json.loads(ann.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{ann}: invalid JSON: {error}") from error
    if not isinstance(entries, list):
        raise ValueError(f"{ann}: expected a JSON list of images")
    path_key = PEDES_FORMATS[layout.fmt][1]
    splits: dict[str, list[CaptionedImage]] = {}
    for index, entry in enumerate(entries):
        rel = _entry_field(entry, path_key, index, ann)
        captions = _entry_field(entry, "captions", index, ann)
        split = str(_entry_field(entry, "split", index, ann))
        try:
            pid = int(_entry_field(entry, "id", index, ann))  # type: ignore[arg-type]
        except (TypeError, ValueError) as error:
            raise ValueError(f"{ann}: entry {index} has a non-integer 'id'") from error
        if not isinstance(captions, list) or not captions or not all(isinstance(c, str) for c in captions):
            raise ValueError(f"{ann}: entry {index} needs 'captions' as a non-empty list of strings")
        path = image_dir / str(rel)
        if not path.is_file():
            raise FileNotFoundError(f"{ann}: entry {index}: image not found: {path}")
        splits.setdefault(split, []).append(CaptionedImage(path, pid, tuple(captions)))
    return splits
