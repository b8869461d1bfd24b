"""Filtering person boxes and cutting them into a LUPerson-style crop folder.

LUPerson (Fu et al., CVPR 2021, §3) keeps detections that are tall enough and have a
person-like aspect ratio, then crops them; SAIP pretrains on such crops (method.md §1, LUP1M).
:func:`crop_instances` does the same from annotated boxes: each box is checked by a
:class:`CropFilter`, padded by a fraction of its size, clipped to the image and saved as JPEG.
A ``manifest.csv`` records every instance (kept or rejected, with the reason) so the folder can
be audited, and corrupt or missing source images are skipped and counted, never fatal.
"""

from __future__ import annotations

import csv
import logging
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from saip.data.image_io import CorruptImageError, load_rgb
from saip.sources.boxes import PersonBox

logger = logging.getLogger("saip.sources")

LAYOUTS = ("per-image", "flat")
MANIFEST_COLUMNS = (
    "crop",
    "source_image",
    "instance_id",
    "x",
    "y",
    "w",
    "h",
    "crop_x1",
    "crop_y1",
    "crop_x2",
    "crop_y2",
    "score",
    "visibility",
    "num_keypoints",
    "status",
    "filters_passed",
)


@dataclass(frozen=True)
class CropFilter:
    """Which annotated persons become crops (LUPerson §3 style size / shape / quality filters).

    Attributes:
        min_height: minimum box height in pixels (LUPerson-style crops are >= ~64 px tall).
        aspect_range: allowed ``w / h`` interval (persons are taller than wide).
        min_visibility: minimum visible fraction (CrowdHuman ``vbox/fbox``, COCO labelled
            keypoint fraction); 0 disables the check.
        min_keypoints: minimum labelled keypoints (COCO); 0 disables the check.
        min_score: minimum detector score (CSV with a score column); 0 disables the check.
    """

    min_height: float = 64.0
    aspect_range: tuple[float, float] = (0.2, 1.0)
    min_visibility: float = 0.0
    min_keypoints: int = 0
    min_score: float = 0.0

    def __post_init__(self) -> None:
        low, high = self.aspect_range
        if not 0 < low <= high:
            raise ValueError(f"aspect_range must satisfy 0 < low <= high, got {self.aspect_range}")
        if not 0.0 <= self.min_visibility <= 1.0:
            raise ValueError(f"min_visibility must be in [0, 1], got {self.min_visibility}")
        if self.min_height < 0 or self.min_keypoints < 0:
            raise ValueError("min_height and min_keypoints must be >= 0")

    def check(self, box: PersonBox) -> tuple[str | None, list[str]]:
        """``(rejection reason or None, names of the checks passed)``, checks run in a fixed order."""
        passed: list[str] = []
        _x, _y, w, h = box.box
        if w <= 0 or h <= 0:
            return "empty_box", passed
        if h < self.min_height:
            return "too_small", passed
        passed.append("min_height")
        low, high = self.aspect_range
        if not low <= w / h <= high:
            return "aspect", passed
        passed.append("aspect")
        if self.min_visibility > 0:
            if box.visibility is None:
                return "no_visibility", passed
            if box.visibility < self.min_visibility:
                return "occluded", passed
            passed.append("visibility")
        if self.min_keypoints > 0:
            if box.num_keypoints is None:
                return "no_keypoints", passed
            if box.num_keypoints < self.min_keypoints:
                return "few_keypoints", passed
            passed.append("keypoints")
        if self.min_score > 0:
            if box.score is None:
                return "no_score", passed
            if box.score < self.min_score:
                return "low_score", passed
            passed.append("score")
        return None, passed


def padded_crop_box(
    box: tuple[float, float, float, float], pad: float, width: int, height: int
) -> tuple[int, int, int, int] | None:
    """``(x1, y1, x2, y2)`` integer pixels: ``box`` grown by ``pad·w`` / ``pad·h`` per side, clipped.

    Returns ``None`` when nothing of the box lies inside the ``width × height`` image.
    """
    x, y, w, h = box
    x1 = max(0, int(round(x - pad * w)))
    y1 = max(0, int(round(y - pad * h)))
    x2 = min(width, int(round(x + w + pad * w)))
    y2 = min(height, int(round(y + h + pad * h)))
    if x2 <= x1 or y2 <= y1:
        return None
    return x1, y1, x2, y2


def _image_key(image: str) -> str:
    """A file-name-safe key for a source image path (sub-folders joined with ``__``, no suffix)."""
    stem = os.path.splitext(image.replace("\\", "/").lstrip("/"))[0]
    key = "__".join(part for part in stem.split("/") if part not in ("", ".", ".."))
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in key) or "image"


def crop_relpath(image: str, instance_id: str, layout: str) -> str:
    """Where the crop of ``instance_id`` in ``image`` goes, relative to the output folder."""
    key = _image_key(image)
    instance = "".join(c if c.isalnum() or c in "-_" else "_" for c in instance_id)
    name = f"{key}_i{instance}.jpg"
    if layout == "flat":
        return name
    if layout == "per-image":
        return f"{key}/{name}"
    raise ValueError(f"unknown crop layout {layout!r} (use one of {', '.join(LAYOUTS)})")


@dataclass(frozen=True)
class KeptCrop:
    """One crop written by :func:`crop_instances`: its box, file (relative to the output folder),
    pixel rectangle ``(x1, y1, x2, y2)`` in the source image and the filter checks it passed."""

    box: PersonBox
    crop: str
    crop_box: tuple[int, int, int, int]
    filters_passed: tuple[str, ...]


@dataclass
class CropReport:
    """What :func:`crop_instances` did: counts of kept crops, rejections per reason, bad images."""

    kept: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    images_read: int = 0
    bad_images: dict[str, str] = field(default_factory=dict)  # image -> "missing" / "corrupt: ..."
    manifest: Path | None = None
    crops: list[KeptCrop] = field(default_factory=list, repr=False)  # the kept crops, in order

    def as_dict(self) -> dict[str, object]:
        """The counts (not :attr:`crops`), JSON-serialisable."""
        return {
            "kept": self.kept,
            "rejected": dict(sorted(self.rejected.items())),
            "images_read": self.images_read,
            "bad_images": dict(self.bad_images),
            "manifest": str(self.manifest) if self.manifest else None,
        }


def _resolve(image: str, images_root: Path) -> Path:
    return Path(image) if os.path.isabs(image) else images_root / image


def _fmt(value: float | int | None) -> str:
    return "" if value is None else (f"{value:.6g}" if isinstance(value, float) else str(value))


def crop_instances(
    boxes: list[PersonBox],
    images_root: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    crop_filter: CropFilter | None = None,
    pad: float = 0.1,
    layout: str = "per-image",
    quality: int = 95,
) -> CropReport:
    """Cut every box passing ``crop_filter`` out of its image and save it under ``out_dir``.

    Args:
        boxes: person boxes (from :func:`saip.sources.boxes.read_boxes`).
        images_root: folder that relative image paths are resolved against.
        out_dir: output folder (created); receives the crops and ``manifest.csv``.
        crop_filter: which boxes to keep (default :class:`CropFilter()`).
        pad: fraction of the box width/height added on each side before clipping to the image.
        layout: ``per-image`` (one sub-folder per source image) or ``flat``.
        quality: JPEG quality of the crops.

    Each source image is decoded once (Pillow); a missing or corrupt image is logged with its
    path, counted in :attr:`CropReport.bad_images` and its boxes are rejected as
    ``missing_image`` / ``corrupt_image``.
    """
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    crop_filter = crop_filter or CropFilter()
    crop_relpath("x", "0", layout)  # validates ``layout`` before any work
    images_root, out_dir = Path(images_root), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = CropReport(manifest=out_dir / "manifest.csv")

    by_image: dict[str, list[PersonBox]] = defaultdict(list)
    for box in boxes:
        by_image[box.image].append(box)

    rows: list[dict[str, str]] = []
    for image_name, image_boxes in by_image.items():
        decisions = [(box, *crop_filter.check(box)) for box in image_boxes]
        image: Image.Image | None = None
        bad_reason: str | None = None
        if any(reason is None for _box, reason, _passed in decisions):
            path = _resolve(image_name, images_root)
            if not path.is_file():
                bad_reason = "missing_image"
                report.bad_images[image_name] = "missing"
                logger.warning("skipping missing image %s", path)
            else:
                try:
                    image = load_rgb(path)
                    report.images_read += 1
                except CorruptImageError as error:
                    bad_reason = "corrupt_image"
                    report.bad_images[image_name] = f"corrupt: {error.reason}"
                    logger.warning("skipping corrupt image %s (%s)", path, error.reason)
        for box, reason, passed in decisions:
            crop_box = None
            relpath = ""
            if reason is None and bad_reason is not None:
                reason = bad_reason
            if reason is None and image is not None:
                crop_box = padded_crop_box(box.box, pad, image.width, image.height)
                if crop_box is None:
                    reason = "outside_image"
            if reason is None and image is not None and crop_box is not None:
                relpath = crop_relpath(image_name, box.instance_id, layout)
                target = out_dir / relpath
                target.parent.mkdir(parents=True, exist_ok=True)
                image.crop(crop_box).save(target, format="JPEG", quality=quality)
                report.kept += 1
                report.crops.append(KeptCrop(box, relpath, crop_box, tuple(passed)))
            else:
                report.rejected[str(reason)] += 1
            x, y, w, h = box.box
            c = crop_box or ("", "", "", "")
            rows.append(
                dict(
                    zip(
                        MANIFEST_COLUMNS,
                        [
                            relpath,
                            image_name,
                            box.instance_id,
                            _fmt(x),
                            _fmt(y),
                            _fmt(w),
                            _fmt(h),
                            *(str(v) for v in c),
                            _fmt(box.score),
                            _fmt(box.visibility),
                            _fmt(box.num_keypoints),
                            "kept" if relpath else str(reason),
                            ";".join(passed),
                        ],
                        strict=True,
                    )
                )
            )

    tmp = report.manifest.with_suffix(".csv.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, report.manifest)
    return report
