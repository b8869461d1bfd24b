"""COCO person-keypoints reader and the top-down training/evaluation dataset (Lin et al., ECCV 2014).

Layout: an annotation JSON (``person_keypoints_{split}.json``) with ``images``, ``annotations``
(``bbox`` xywh, ``keypoints`` ``[x, y, v] * K``, ``num_keypoints``, ``iscrowd``) and ``categories``
(the person category with ``keypoints`` names), and an image folder holding each ``file_name``.
Each non-crowd person with a positive box and at least one labelled keypoint is one instance,
cropped around its ground-truth box (the "GT boxes" setting of SimpleBaseline/ViTPose).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from saip.data.image_io import load_rgb
from saip.data.normalize import normalize
from saip.errors import InputError
from saip.evaluate.topdown import (
    affine_matrix,
    apply_affine,
    box_to_center_scale,
    encode_heatmaps,
    warp_image,
)
from saip.synth.skeleton import KEYPOINT_FLIP_PAIRS

COCO_FLIP_PAIRS: list[tuple[int, int]] = KEYPOINT_FLIP_PAIRS  # left/right keypoint pairs (0-based)


@dataclass(frozen=True)
class PersonInstance:
    """One annotated person: image file, COCO ids, box ``(x, y, w, h)`` and keypoints ``(K, 3)``."""

    image_path: Path
    image_id: int
    annotation_id: int
    bbox: tuple[float, float, float, float]
    keypoints: np.ndarray


@dataclass
class CocoKeypoints:
    """A parsed COCO keypoint annotation file: the raw dict (for pycocotools) and the person instances."""

    dataset: dict[str, Any]
    instances: list[PersonInstance]
    keypoint_names: list[str]
    flip_pairs: list[tuple[int, int]]


def _flip_pairs(names: list[str]) -> list[tuple[int, int]]:
    """Left/right pairs from keypoint names (``left_*`` ↔ ``right_*``); COCO's pairs for COCO-17."""
    index = {n: i for i, n in enumerate(names)}
    pairs = []
    for name, i in index.items():
        if name.startswith("left_") and f"right_{name[5:]}" in index:
            pairs.append((i, index[f"right_{name[5:]}"]))
    return pairs


def _annotation_keypoints(ann: dict[str, Any], fields: Sequence[str], annotation_file: Path) -> np.ndarray:
    """``(K, 3)`` keypoints of one annotation: its keypoint ``fields`` concatenated in order."""
    lists = []
    for field in fields:
        if field not in ann:
            raise InputError(f"{annotation_file}: annotation {ann.get('id')} has no {field!r}")
        lists.append(np.asarray(ann[field], dtype=np.float64).reshape(-1, 3))
    return np.concatenate(lists) if lists else np.zeros((0, 3))


def load_coco_keypoints(
    annotation_file: Path,
    image_dir: Path,
    fields: Sequence[str] = ("keypoints",),
    names: Sequence[str] | None = None,
    flip_pairs: Sequence[tuple[int, int]] | None = None,
) -> CocoKeypoints:
    """Read a COCO keypoints JSON; images are resolved under ``image_dir``.

    ``fields`` are the annotation keys whose ``[x, y, v] * n`` lists make up the keypoints, in
    order (COCO: ``keypoints``; COCO-WholeBody adds its foot/face/hand lists), ``names`` and
    ``flip_pairs`` describe them (default: the category's ``keypoints`` names, left/right pairs
    from the names). Raises ``FileNotFoundError``/``ValueError`` naming the file when it is missing
    or malformed.
    """
    annotation_file, image_dir = Path(annotation_file), Path(image_dir)
    if not annotation_file.is_file():
        raise FileNotFoundError(f"COCO keypoint annotations not found: {annotation_file}")
    if not image_dir.is_dir():
        raise FileNotFoundError(f"COCO image folder not found: {image_dir}")
    try:
        dataset = json.loads(annotation_file.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{annotation_file}: invalid JSON: {error}") from error
    for key in ("images", "annotations", "categories"):
        if key not in dataset:
            raise InputError(f"{annotation_file}: not a COCO annotation file (no {key!r})")
    person = [c for c in dataset["categories"] if c.get("keypoints")]
    if not person:
        raise InputError(f"{annotation_file}: no category with 'keypoints' names (not a keypoint file)")
    category_id = person[0]["id"]
    names = list(person[0]["keypoints"]) if names is None else list(names)
    for img in dataset["images"]:
        missing = [key for key in ("id", "file_name") if key not in img]
        if missing:
            raise InputError(f"{annotation_file}: image entry {img.get('id', img)} has no {missing[0]!r}")
    images = {img["id"]: img for img in dataset["images"]}
    instances = []
    for ann in dataset["annotations"]:
        if ann.get("category_id") != category_id or ann.get("iscrowd", 0):
            continue
        missing = [key for key in ("id", "image_id", "bbox") if key not in ann]
        if missing:
            raise InputError(f"{annotation_file}: annotation {ann.get('id', '?')} has no {missing[0]!r}")
        kps = _annotation_keypoints(ann, fields, annotation_file)
        if len(kps) != len(names):
            raise InputError(
                f"{annotation_file}: annotation {ann.get('id')} has {len(kps)} keypoints, "
                f"the category names {len(names)}"
            )
        x, y, w, h = (float(v) for v in ann["bbox"])
        if w <= 1 or h <= 1 or (kps[:, 2] > 0).sum() == 0:
            continue
        if ann["image_id"] not in images:
            raise InputError(
                f"{annotation_file}: annotation {ann.get('id')} refers to unknown image {ann['image_id']}"
            )
        path = image_dir / images[ann["image_id"]]["file_name"]
        instances.append(PersonInstance(path, int(ann["image_id"]), int(ann["id"]), (x, y, w, h), kps))
    if flip_pairs is not None:
        pairs = [tuple(p) for p in flip_pairs]
    elif len(names) == 17 and names[0] == "nose":
        pairs = COCO_FLIP_PAIRS
    else:
        pairs = _flip_pairs(names)
    return CocoKeypoints(dataset, instances, names, pairs)


class TopDownDataset(Dataset):
    """Crops of :class:`PersonInstance` s for top-down pose: image tensor, heatmaps, weights, affine.

    Each item: ``image`` ``(3, H, W)`` normalised, ``heatmaps`` ``(K, H/4, W/4)``, ``weights``
    ``(K,)``, ``matrix`` ``(2, 3)`` image→crop affine, ``index``. With ``train=True`` a random
    horizontal flip (swapping ``flip_pairs``), scale jitter (±25 %) and rotation (±30° with
    probability 0.6) are applied, as in SimpleBaseline/ViTPose.
    """

    def __init__(
        self,
        instances: list[PersonInstance],
        input_size: tuple[int, int],
        mean: tuple[float, ...],
        std: tuple[float, ...],
        flip_pairs: list[tuple[int, int]],
        train: bool = False,
        sigma: float = 2.0,
        padding: float = 1.25,
        seed: int = 0,
    ) -> None:
        self.instances = instances
        self.input_size = tuple(input_size)  # (H, W)
        self.mean, self.std = mean, std
        self.flip_pairs = flip_pairs
        self.train = train
        self.sigma = sigma
        self.padding = padding
        self.rng = np.random.default_rng(seed)
        self._images: dict[Path, Image.Image] = {}

    def __len__(self) -> int:
        return len(self.instances)

    def _image(self, path: Path) -> Image.Image:
        """Decoded image, with a small cache (several persons share one image)."""
        if path not in self._images:
            if len(self._images) >= 32:
                self._images.pop(next(iter(self._images)))
            self._images[path] = load_rgb(path, apply_exif=False)
        return self._images[path]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.load(index, self.draw(index))

    def draw(self, index: int) -> tuple[float, float, bool]:
        """The random augmentation of one item: (scale factor, rotation in degrees, flip); none in eval
        mode (see :mod:`saip.evaluate.datasets.presampled`)."""
        factor, rotation, flip = 1.0, 0.0, False
        if self.train:
            factor = float(np.clip(self.rng.normal(1.0, 0.25), 0.75, 1.25))
            if self.rng.random() < 0.6:
                rotation = float(np.clip(self.rng.normal(0.0, 30.0), -60.0, 60.0))
            flip = bool(self.rng.random() < 0.5)
        return factor, rotation, flip

    def load(self, index: int, draw: tuple[float, float, bool]) -> dict[str, torch.Tensor]:
        """Item ``index`` with the augmentation ``draw`` of :meth:`draw`."""
        inst = self.instances[index]
        h, w = self.input_size
        center, scale = box_to_center_scale(inst.bbox, w / h, self.padding)
        factor, rotation, flip = draw
        if self.train:
            scale = scale * factor
        matrix = affine_matrix(center, scale, (w, h), rotation)
        if flip:  # mirror the crop: x' = W - x
            matrix = np.array([[-1.0, 0.0, w], [0.0, 1.0, 0.0]]) @ np.vstack([matrix, [0, 0, 1]])
        crop = warp_image(self._image(inst.image_path), matrix, (w, h))
        keypoints = apply_affine(inst.keypoints[:, :2], matrix)
        visible = inst.keypoints[:, 2].copy()
        if flip:
            for a, b in self.flip_pairs:
                keypoints[[a, b]] = keypoints[[b, a]]
                visible[[a, b]] = visible[[b, a]]
        heatmaps, weights = encode_heatmaps(keypoints, visible, (w // 4, h // 4), 4.0, self.sigma)
        image = torch.from_numpy(np.asarray(crop, dtype=np.float32) / 255.0).permute(2, 0, 1)
        return {
            "image": normalize(image, self.mean, self.std),
            "heatmaps": torch.from_numpy(heatmaps),
            "weights": torch.from_numpy(weights),
            "matrix": torch.from_numpy(matrix.astype(np.float64)),
            "index": torch.tensor(index),
        }
