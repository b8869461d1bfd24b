"""Readers of the person annotations of the datasets SAIP's HP1M was cropped from.

SAIP (Wang et al., 2025) builds its human-centric pretraining set from the person boxes of public
datasets; :func:`read_person_boxes` reads each of their formats into one :class:`BoxSource` of
:class:`PersonBox` ``(x, y, w, h)`` boxes:

================ ============================= ============================================
format           input                         person box / visibility
================ ============================= ============================================
``coco``         COCO instances/keypoints JSON ``bbox`` / labelled keypoints ÷ 17
``odgt``         CrowdHuman ``.odgt``          ``fbox`` / ``|vbox ∩ fbox| ÷ |fbox|``
``csv``          ``image,x,y,w,h[,score]``     the row / —
``aic``          AI Challenger keypoints JSON  ``human_annotations`` corners / visible ÷ 14
``cihp``         CIHP split folder             tight box of each ``Human_ids`` id / —
``mhp``          MHPv2 split folder            tight box of each ``parsing_annos`` PNG / —
``fashionpedia`` Fashionpedia JSON             union of the image's garment boxes / —
``humanart``     Human-Art JSON                COCO ``bbox`` + ``art_style`` / as COCO
================ ============================= ============================================

The format is detected (:func:`detect_format`) from the folder layout, the suffix (``.odgt``,
``.csv``) or, for ``.json``, the content; ``fmt`` overrides it. Bad input — a missing path, an
unknown format, malformed JSON, an unreadable mask — raises :class:`saip.errors.InputError` with
one line naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from saip.errors import InputError
from saip.sources.boxes import BoxSource, _load_json, read_coco_boxes, read_csv_boxes, read_odgt_boxes
from saip.sources.boxes import detect_format as suffix_format
from saip.sources.formats.aic import is_aic_data, read_aic_boxes
from saip.sources.formats.cihp import is_cihp_folder, read_cihp_boxes
from saip.sources.formats.fashionpedia import is_fashionpedia_data, read_fashionpedia_boxes
from saip.sources.formats.humanart import is_humanart_data, read_humanart_boxes
from saip.sources.formats.mhp import is_mhp_folder, read_mhp_boxes

_JSON_READERS: dict[str, Callable[[Path, object], BoxSource]] = {
    "coco": lambda path, data: read_coco_boxes(path, data=data),
    "aic": read_aic_boxes,
    "fashionpedia": read_fashionpedia_boxes,
    "humanart": read_humanart_boxes,
}
_FILE_READERS: dict[str, Callable[[Path], BoxSource]] = {"odgt": read_odgt_boxes, "csv": read_csv_boxes}
_FOLDER_READERS: dict[str, Callable[[Path], BoxSource]] = {"cihp": read_cihp_boxes, "mhp": read_mhp_boxes}

FORMATS = (*_JSON_READERS, *_FILE_READERS, *_FOLDER_READERS)
ALIASES = {"crowdhuman": "odgt", "mhpv2": "mhp", "ai_challenger": "aic", "human-art": "humanart"}
DATASET_NAMES = {"odgt": "crowdhuman", "mhp": "mhpv2"}  # the dataset a format comes from, if not its name


class AnnotationNotFoundError(InputError, FileNotFoundError):
    """The annotation file or folder does not exist (an :class:`InputError` and a ``FileNotFoundError``)."""


def _formats() -> str:
    return "|".join(FORMATS)


def json_format(data: object, path: Path) -> str:
    """The format of parsed annotation JSON ``data`` (``aic``, ``fashionpedia``, ``humanart`` or ``coco``)."""
    if is_aic_data(data):
        return "aic"
    if isinstance(data, dict) and "images" in data and "annotations" in data:
        if is_fashionpedia_data(data):
            return "fashionpedia"
        return "humanart" if is_humanart_data(data) else "coco"
    raise InputError(
        f"{path}: not a known annotation JSON (a COCO-style object with 'images' and 'annotations', "
        "or an AI Challenger list of records with 'human_annotations')"
    )


def _load(path: Path) -> object:
    try:
        return _load_json(path)
    except ValueError as error:  # JSON or text decoding errors
        message = str(error)
        raise InputError(
            message if str(path) in message else f"{path}: not valid JSON ({message})"
        ) from error


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format of the annotation file or folder ``path``; raises :class:`InputError` naming it."""
    path = Path(path)
    if path.is_dir():
        if is_cihp_folder(path):
            return "cihp"
        if is_mhp_folder(path):
            return "mhp"
        raise InputError(
            f"cannot tell the format of folder {path}: a CIHP split has Human_ids/, an MHPv2 split "
            f"has parsing_annos/ (or pass --format {_formats()})"
        )
    if not path.is_file():
        raise AnnotationNotFoundError(f"annotation file {path} does not exist")
    if path.suffix.lower() == ".json":
        return json_format(_load(path), path)
    try:
        return suffix_format(path)
    except ValueError:
        raise InputError(
            f"cannot tell the format of {path} from its suffix: pass --format {_formats()}"
        ) from None


def read_person_boxes(path: str | os.PathLike[str], fmt: str | None = None) -> BoxSource:
    """Person boxes from the annotation file or folder ``path`` in format ``fmt`` (``None``: detected)."""
    path = Path(path)
    if not path.exists():
        raise AnnotationNotFoundError(f"annotation file {path} does not exist")
    if fmt is not None:
        fmt = ALIASES.get(fmt.lower(), fmt.lower())
        if fmt not in FORMATS:
            raise InputError(
                f"unknown annotation format {fmt!r} for {path} (use one of {', '.join(FORMATS)})"
            )
    try:
        data = None
        if fmt is None and path.is_file() and path.suffix.lower() == ".json":
            data = _load(path)  # parsed once: detection looks at the content
            fmt = json_format(data, path)
        fmt = fmt or detect_format(path)
        if fmt in _FOLDER_READERS:
            if not path.is_dir():
                raise InputError(f"{path}: the {fmt} format reads a dataset split folder, not a file")
            return _FOLDER_READERS[fmt](path)
        if path.is_dir():
            raise InputError(f"{path} is a folder; the {fmt} format reads an annotation file")
        if fmt in _FILE_READERS:
            return _FILE_READERS[fmt](path)
        return _JSON_READERS[fmt](path, _load(path) if data is None else data)
    except InputError:
        raise
    except (KeyError, TypeError, AttributeError) as error:  # a field missing or of the wrong type
        raise InputError(f"{path}: malformed {fmt} annotations ({type(error).__name__}: {error})") from error
    except (ValueError, OSError) as error:  # the readers' messages name the file (and line or entry)
        message = str(error)
        raise InputError(message if str(path) in message else f"{path}: {message}") from error


def default_images_root(source: BoxSource) -> Path:
    """The folder ``source``'s image paths are relative to when none is given.

    The format's own (:attr:`BoxSource.images`: CIHP/MHPv2 image folder, Human-Art root, AI
    Challenger image folder), else for CrowdHuman the ``Images/`` folder beside the file when
    present, else the annotation file's folder.
    """
    if source.images is not None:
        return source.images
    folder = source.path if source.path.is_dir() else source.path.parent
    if source.format == "odgt" and (folder / "Images").is_dir():
        return folder / "Images"
    return folder


def dataset_name(fmt: str) -> str:
    """The dataset a format's boxes come from (``odgt`` -> ``crowdhuman``), used in the manifest."""
    return DATASET_NAMES.get(fmt, fmt)


__all__ = [
    "ALIASES",
    "FORMATS",
    "AnnotationNotFoundError",
    "dataset_name",
    "default_images_root",
    "detect_format",
    "json_format",
    "read_person_boxes",
]
