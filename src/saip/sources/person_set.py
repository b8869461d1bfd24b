"""A person-crop pretraining set pooled from several annotated datasets (SAIP's HP1M).

SAIP (Wang et al., 2025; method.md §1) pretrains on HP1M, crops of the person boxes of 7 public
datasets (COCO, CrowdHuman, AI Challenger, CIHP, MHPv2, Fashionpedia, Human-Art).
:func:`build_person_set` builds such a set from any sources :mod:`saip.sources.formats` reads:

1. each source is read (:func:`load_source`; format detected or given, image folder defaulted);
2. duplicate crops are removed (:mod:`saip.sources.dedup`: same image content and IoU >= 0.9);
3. each source's boxes are filtered and cropped (:func:`saip.sources.crops.crop_instances`) into
   the output folder — into ``OUT/<dataset>/`` when there are several sources — which also
   writes that folder's ``manifest.csv`` (every instance that reached cropping, with its status);
4. ``OUT/manifest.jsonl`` gets one JSON object per kept crop, ``OUT/summary.json`` the counts of
   everything dropped, per reason (while reading, as duplicates, by the filters);
5. optionally the crops are packed into WebDataset tar shards (:func:`saip.sources.shards.
   write_shards`) whose ``KEY.json`` is the crop's manifest row, for ``saip pretrain
   data.shards=DIR`` (:class:`saip.data.shard_source.ShardImageSource`).

The manifest is JSON lines, not CSV, because rows differ between datasets (Human-Art's
``art_style``, Fashionpedia's ``garments``, ``null`` for what a format does not give, lists for
boxes), because a row is exactly the JSON stored beside the crop in a shard, and because it
streams and appends at LUPerson scale. A row holds ``crop`` (path under ``OUT``), ``dataset``,
``format``, ``annotations``, ``image`` (as annotated), ``image_sha1``, ``instance_id``, ``box``
``[x, y, w, h]``, ``crop_box`` ``[x1, y1, x2, y2]`` (after padding and clipping), ``visibility``,
``num_keypoints``, ``score``, ``filters_passed``, then the format's own fields.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from saip.errors import InputError
from saip.sources.boxes import BoxSource
from saip.sources.crops import CropFilter, KeptCrop, _resolve, crop_instances
from saip.sources.dedup import deduplicate
from saip.sources.formats import dataset_name, default_images_root, read_person_boxes
from saip.sources.shards import write_shards

MANIFEST = "manifest.jsonl"
SUMMARY = "summary.json"


@dataclass
class PersonSource:
    """One dataset to crop from: its boxes, the folder its image paths are relative to, its name."""

    name: str
    boxes: BoxSource
    images: Path


def load_source(
    annotations: str | os.PathLike[str],
    fmt: str | None = None,
    images: str | os.PathLike[str] | None = None,
    name: str | None = None,
) -> PersonSource:
    """Read ``annotations`` (file or folder) in format ``fmt`` (``None``: detected).

    ``images`` defaults to :func:`saip.sources.formats.default_images_root`; ``name`` to the
    dataset of the format (``crowdhuman`` for ``odgt``). Raises :class:`InputError` naming the
    file or folder.
    """
    boxes = read_person_boxes(annotations, fmt)
    root = Path(images) if images is not None else default_images_root(boxes)
    if not root.is_dir():
        raise InputError(f"--images: image folder {root} (for {annotations}) does not exist")
    return PersonSource(name=name or dataset_name(boxes.format), boxes=boxes, images=root)


@dataclass
class PersonSetReport:
    """What :func:`build_person_set` wrote and dropped (all counts are summed over the sources)."""

    out: Path
    manifest: Path
    kept: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # while reading
    duplicates: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)  # filters, missing / corrupt images
    images_read: int = 0
    bad_images: dict[str, str] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    shards: list[Path] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (``summary.json``)."""
        return {
            "kept": self.kept,
            "skipped_while_reading": dict(sorted(self.skipped.items())),
            "duplicates": dict(sorted(self.duplicates.items())),
            "rejected": dict(sorted(self.rejected.items())),
            "images_read": self.images_read,
            "bad_images": dict(self.bad_images),
            "manifest": str(self.manifest),
            "sources": self.sources,
            "shards": [str(path) for path in self.shards],
        }


def _unique_names(sources: Sequence[PersonSource]) -> list[str]:
    seen: Counter[str] = Counter()
    names = []
    for source in sources:
        seen[source.name] += 1
        names.append(source.name if seen[source.name] == 1 else f"{source.name}-{seen[source.name]}")
    return names


def _row(crop: KeptCrop, relpath: str, name: str, source: PersonSource, sha1: str | None) -> dict[str, Any]:
    box = crop.box
    row: dict[str, Any] = {
        "crop": relpath,
        "dataset": name,
        "format": source.boxes.format,
        "annotations": str(source.boxes.path),
        "image": box.image,
        "image_sha1": sha1,
        "instance_id": box.instance_id,
        "box": list(box.box),
        "crop_box": list(crop.crop_box),
        "visibility": box.visibility,
        "num_keypoints": box.num_keypoints,
        "score": box.score,
        "filters_passed": list(crop.filters_passed),
    }
    for key, value in box.extra.items():
        row.setdefault(key, value)
    return row


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def build_person_set(
    sources: Sequence[PersonSource],
    out_dir: str | os.PathLike[str],
    crop_filter: CropFilter | None = None,
    pad: float = 0.1,
    layout: str = "per-image",
    dedup_iou: float = 0.9,
    shards: str | os.PathLike[str] | None = None,
    max_per_shard: int = 1000,
    shard_prefix: str = "shard",
    quality: int = 95,
) -> PersonSetReport:
    """Crop the persons of ``sources`` into ``out_dir`` with one manifest (see the module docstring).

    Args:
        sources: the datasets, in priority order (the first copy of a duplicate is kept).
        out_dir: output folder: crops, ``manifest.jsonl``, ``summary.json``.
        crop_filter, pad, layout, quality: as :func:`saip.sources.crops.crop_instances`.
        dedup_iou: boxes on identical images with IoU >= this are duplicates (:mod:`saip.sources.dedup`).
        shards: also pack the kept crops into WebDataset shards in this folder (``None``: no shards).
        max_per_shard, shard_prefix: as :func:`saip.sources.shards.write_shards`.
    """
    if not sources:
        raise InputError("no annotation sources given")
    crop_filter = crop_filter or CropFilter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = PersonSetReport(out=out, manifest=out / MANIFEST)
    names = _unique_names(sources)
    dedup = deduplicate([(s.boxes.boxes, s.images) for s in sources], crop_filter, dedup_iou)
    rows: list[dict[str, Any]] = []
    for source, name, boxes, removed in zip(sources, names, dedup.boxes, dedup.removed, strict=True):
        folder = name if len(sources) > 1 else ""
        cropped = crop_instances(boxes, source.images, out / folder, crop_filter, pad, layout, quality)
        for crop in cropped.crops:
            relpath = f"{folder}/{crop.crop}" if folder else crop.crop
            sha1 = dedup.digests.get(_resolve(crop.box.image, source.images))
            rows.append(_row(crop, relpath, name, source, sha1))
        report.kept += cropped.kept
        report.skipped.update(source.boxes.skipped)
        report.duplicates.update(removed)
        report.rejected.update(cropped.rejected)
        report.images_read += cropped.images_read
        for image, why in cropped.bad_images.items():
            report.bad_images[f"{folder}/{image}" if folder else image] = why
        report.sources.append(
            {
                "name": name,
                "format": source.boxes.format,
                "annotations": str(source.boxes.path),
                "images": str(source.images),
                "boxes": len(source.boxes.boxes),
                "skipped_while_reading": dict(sorted(source.boxes.skipped.items())),
                "duplicates": dict(sorted(removed.items())),
                "rejected": dict(sorted(cropped.rejected.items())),
                "kept": cropped.kept,
                "instances_csv": str(cropped.manifest),
            }
        )
    _write_atomic(report.manifest, "".join(json.dumps(row, sort_keys=False) + "\n" for row in rows))
    if shards is not None:
        if not rows:
            raise InputError(f"no crop was kept, so no shards were written to {shards}")
        report.shards = write_shards(
            [out / row["crop"] for row in rows],
            shards,
            max_images_per_shard=max_per_shard,
            prefix=shard_prefix,
            root=out,
            metadata={row["crop"]: row for row in rows},
        )
    summary = report.as_dict() | {
        "filter": dataclasses.asdict(crop_filter) | {"pad": pad},
        "dedup": {"rule": "same image content (SHA-1) and box IoU >= threshold", "iou": dedup_iou},
    }
    _write_atomic(out / SUMMARY, json.dumps(summary, indent=2) + "\n")
    return report
