"""Write the synthetic world to disk in the layouts of the real datasets (see docs/synthetic-data.md)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from saip.synth.attributes import ATTRIBUTE_NAMES
from saip.synth.captions import describe_image
from saip.synth.formats.cihp import CihpWriter
from saip.synth.formats.coco import CocoWriter
from saip.synth.formats.coco_wholebody import CocoWholeBodyWriter
from saip.synth.formats.fashionpedia import FashionpediaWriter, person_garments
from saip.synth.formats.market import market_name
from saip.synth.formats.odgt import odgt_line
from saip.synth.formats.pedes import PedesWriter
from saip.synth.identity import make_identity
from saip.synth.parts import PART_CLASSES
from saip.synth.person_image import render_person_image
from saip.synth.scene_styles import FASHIONPEDIA_STYLE, crowd_style, render_styled_scene
from saip.synth.tasks import PERSON_ONLY, TASKS

FORMAT_VERSION = "1.0"


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode="L").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _put(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def split_identities(identities: int) -> tuple[range, range]:
    """ReID split: the first half of the identities trains, the rest (disjoint) is test."""
    n_train = identities // 2
    return range(0, n_train), range(n_train, identities)


def write_synthetic_dataset(
    out: Path | str,
    identities: int = 100,
    images_per_id: int = 12,
    seed: int = 0,
    scenes: int = 200,
    size: tuple[int, int] = (256, 128),
    scene_size: tuple[int, int] = (384, 512),
    num_cameras: int = 6,
    max_persons: int = 6,
    tasks: Iterable[str] = TASKS,
    quality: int = 90,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Render and write the dataset under ``out``; returns the ``meta.json`` content.

    Single-person images (identity ``p``, frame ``f``) serve ReID, attributes, parsing and pose;
    scenes serve detection, pose, multiple human parsing (``mhp/``, CIHP layout) and part-level
    attribute parsing (``pap/``, Fashionpedia layout): crowds of 2 to ``max_persons`` for detection,
    pose and mhp, Fashionpedia's 1-2 near persons for pap (:mod:`saip.synth.scene_styles`). Splits
    are by identity: train = the first half of the ids, the other half is ReID test / attributes
    val+test / parsing and pose val. Scenes (disjoint): the first 80 % train, the rest val.
    """
    tasks = tuple(tasks)
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; choose from {list(TASKS)}")
    if identities < 2 and any(t in tasks for t in ("reid", "attributes", "parsing", "pose", *PERSON_ONLY)):
        raise ValueError("need at least 2 identities (train and test halves)")
    if not 1 <= num_cameras <= 9:
        raise ValueError("num_cameras must be in 1..9 (Market-1501 names hold one camera digit)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train_ids, test_ids = split_identities(identities)
    n_val_attr = len(test_ids) // 2
    counts: dict[str, int] = {}

    def count(key: str) -> None:
        counts[key] = counts.get(key, 0) + 1

    person_tasks = {"reid", "attributes", "parsing", "pose", "t2i", "landmarks"} & set(tasks)
    pose = {s: CocoWriter(keypoints=True) for s in ("train", "val")}
    pedes = PedesWriter()  # t2i/: CUHK-PEDES layout, captions from the identity's traits
    wholebody = {s: CocoWholeBodyWriter() for s in ("train", "val")}  # landmarks/: COCO-WholeBody
    attr_rows: list[str] = []
    parsing_ids: dict[str, list[str]] = {"train": [], "val": []}
    if person_tasks:
        for pid in range(identities):
            is_train = pid in train_ids
            for frame in range(images_per_id):
                s = render_person_image(seed, pid, frame, size, num_cameras, labels=True)
                name = market_name(pid, s.camid, frame)
                stem = name[:-4]
                data = _jpeg(s.image, quality)
                split = "train" if is_train else "val"
                if "reid" in tasks:
                    if is_train:
                        folder = "bounding_box_train"
                    else:
                        folder = (
                            "query" if frame < min(num_cameras, images_per_id // 2) else "bounding_box_test"
                        )
                    _put(out / "reid" / folder / name, data)
                    count(f"reid/{folder}")
                if "attributes" in tasks:
                    asplit = "train" if is_train else ("val" if pid - test_ids.start < n_val_attr else "test")
                    _put(out / "attributes" / "images" / name, data)
                    attr_rows.append(",".join([name, asplit, *map(str, s.attributes.tolist())]))
                    count(f"attributes/{asplit}")
                if "parsing" in tasks:
                    _put(out / "parsing" / f"{split}_images" / name, data)
                    _put(out / "parsing" / f"{split}_segmentations" / f"{stem}.png", _png(s.parts))
                    parsing_ids[split].append(stem)
                    count(f"parsing/{split}")
                if "pose" in tasks:
                    _put(out / "pose" / "images" / split / name, data)
                    image_id = pose[split].add_image(name, size[0], size[1])
                    pose[split].add_person(image_id, s.parts > 0, s.keypoints)
                    count(f"pose/{split}")
                if "t2i" in tasks:
                    tsplit = "train" if is_train else "test"
                    _put(out / "t2i" / "imgs" / tsplit / name, data)
                    captions = describe_image(make_identity(seed, pid), s.view, s.action, seed, frame)
                    pedes.add(tsplit, f"{tsplit}/{name}", pid, captions)
                    count(f"t2i/{tsplit}")
                if "landmarks" in tasks:
                    _put(out / "landmarks" / "images" / split / name, data)
                    image_id = wholebody[split].add_image(name, size[0], size[1])
                    wholebody[split].add_person(image_id, s.parts > 0, s.wholebody)
                    count(f"landmarks/{split}")
            if progress is not None and (pid + 1) % 10 == 0:
                progress(f"identities {pid + 1}/{identities}")

    scene_tasks = {"pose", "detection", "mhp", "pap"} & set(tasks)
    cihp = CihpWriter(out / "mhp")
    fashion = {s: FashionpediaWriter() for s in ("train", "val")}
    det = {s: CocoWriter(keypoints=False) for s in ("train", "val")}
    odgt: dict[str, list[str]] = {"train": [], "val": []}
    n_train_scenes = int(round(scenes * 0.8)) if scenes > 1 else scenes
    crowd = crowd_style(max_persons)
    if scene_tasks:
        for index in range(scenes):
            split = "train" if index < n_train_scenes else "val"
            name = f"scene_{index:06d}.jpg"
            if {"detection", "pose", "mhp"} & set(tasks):
                s = render_styled_scene(seed, index, crowd, scene_size, num_cameras)
                data, masks = _jpeg(s.image, quality), s.masks
            if "detection" in tasks:
                _put(out / "detection" / "images" / split / name, data)
                image_id = det[split].add_image(name, scene_size[0], scene_size[1])
                for m in masks:
                    det[split].add_person(image_id, m)
                odgt[split].append(odgt_line(name[:-4], s.full_boxes, s.boxes, s.head_boxes))
                count(f"detection/{split}")
            if "pose" in tasks:
                _put(out / "pose" / "images" / split / name, data)
                image_id = pose[split].add_image(name, scene_size[0], scene_size[1])
                for m, kp in zip(masks, s.keypoints, strict=True):
                    pose[split].add_person(image_id, m, kp)
                count(f"pose/{split}_scenes")
            if "mhp" in tasks:
                cihp.add(split, name[:-4], data, s.parts, s.instances)
                count(f"mhp/{split}")
            if "pap" in tasks:
                near = render_styled_scene(seed, index, FASHIONPEDIA_STYLE, scene_size, num_cameras)
                _put(out / "pap" / "images" / split / name, _jpeg(near.image, quality))
                image_id = fashion[split].add_image(name, scene_size[0], scene_size[1])
                for pid, m in zip(near.pids, near.masks, strict=True):
                    for garment in person_garments(make_identity(seed, int(pid)), near.parts, m):
                        fashion[split].add_garment(image_id, garment)
                count(f"pap/{split}")
            if progress is not None and (index + 1) % 50 == 0:
                progress(f"scenes {index + 1}/{scenes}")

    if "attributes" in tasks:
        header = ",".join(["image", "split", *ATTRIBUTE_NAMES])
        (out / "attributes" / "attributes.csv").write_text("\n".join([header, *attr_rows]) + "\n")
    if "parsing" in tasks:
        for split, stems in parsing_ids.items():
            (out / "parsing" / f"{split}_id.txt").write_text("".join(f"{s}\n" for s in stems))
    if "mhp" in tasks:
        cihp.save()
    if "t2i" in tasks:
        pedes.save(out / "t2i" / "reid_raw.json")
    if "landmarks" in tasks:
        for split, writer in wholebody.items():
            writer.save(out / "landmarks" / "annotations" / f"coco_wholebody_{split}_v1.0.json")
    for split in ("train", "val"):
        if "pap" in tasks:
            fashion[split].save(out / "pap" / "annotations" / f"instances_attributes_{split}2020.json")
        if "pose" in tasks:
            pose[split].save(out / "pose" / "annotations" / f"person_keypoints_{split}.json")
        if "detection" in tasks:
            det[split].save(out / "detection" / "annotations" / f"instances_{split}.json")
            (out / "detection" / f"annotation_{split}.odgt").write_text(
                "".join(f"{l}\n" for l in odgt[split])
            )

    meta = {
        "seed": seed,
        "identities": identities,
        "images_per_id": images_per_id,
        "attributes": list(ATTRIBUTE_NAMES),
        "part_classes": list(PART_CLASSES),
        "version": FORMAT_VERSION,
        "num_cameras": num_cameras,
        "size": list(size),
        "scene_size": list(scene_size),
        "scenes": scenes if scene_tasks else 0,
        "max_persons": max_persons,
        "scene_styles": {
            "pap": [
                FASHIONPEDIA_STYLE.min_persons,
                FASHIONPEDIA_STYLE.max_persons,
                *FASHIONPEDIA_STYLE.heights,
            ],
        },
        "tasks": list(tasks),
        "reid_train_ids": [train_ids.start + 1, train_ids.stop],  # Market pids, inclusive
        "reid_test_ids": [test_ids.start + 1, test_ids.stop],
        "counts": counts,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return meta
