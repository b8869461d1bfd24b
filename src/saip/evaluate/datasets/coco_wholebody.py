"""COCO-WholeBody's 133 keypoints (Jin et al., "Whole-Body Human Pose Estimation in the Wild", ECCV 2020).

Keypoint order, names (mmpose's ``coco_wholebody`` dataset description), left/right flip pairs
and the per-keypoint OKS sigmas of the official evaluation (xtcocoapi's
``demo_coco_wholebody.py``): 17 body (the COCO set), 6 foot, 68 face (the 300-W / iBUG layout,
point 0 on the subject's right jaw), 21 left hand, 21 right hand (root, then 4 joints per finger
from thumb to little finger). The annotation fields are listed in
:data:`saip.synth.formats.coco_wholebody.WHOLEBODY_PARTS`.
"""

from __future__ import annotations

from pathlib import Path

from saip.evaluate.datasets.coco_keypoints import COCO_FLIP_PAIRS, CocoKeypoints, load_coco_keypoints
from saip.synth.formats.coco_wholebody import WHOLEBODY_PARTS, part_slices
from saip.synth.skeleton import KEYPOINT_NAMES

_FINGERS = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")


def _hand(side: str) -> list[str]:
    return [f"{side}_hand_root"] + [f"{side}_{f}{j}" for f in _FINGERS for j in range(1, 5)]


WHOLEBODY_NAMES: list[str] = [
    *KEYPOINT_NAMES,
    *(f"{s}_{p}" for s in ("left", "right") for p in ("big_toe", "small_toe", "heel")),
    *(f"face-{i}" for i in range(68)),
    *_hand("left"),
    *_hand("right"),
]

# Mirror pairs of the 68 face points (0-based within the face).
_FACE_PAIRS: list[tuple[int, int]] = [
    *((i, 16 - i) for i in range(8)),  # jaw line
    *((17 + i, 26 - i) for i in range(5)),  # eyebrows
    (31, 35), (32, 34),  # nose base
    (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),  # eyes
    (48, 54), (49, 53), (50, 52), (55, 59), (56, 58),  # outer lips
    (60, 64), (61, 63), (65, 67),  # inner lips
]  # fmt: skip


def _wholebody_flip_pairs() -> list[tuple[int, int]]:
    s = part_slices()
    pairs = list(COCO_FLIP_PAIRS)
    pairs += [(s["foot"].start + i, s["foot"].start + 3 + i) for i in range(3)]
    pairs += [(s["face"].start + a, s["face"].start + b) for a, b in _FACE_PAIRS]
    pairs += [(s["lefthand"].start + i, s["righthand"].start + i) for i in range(21)]
    return pairs


WHOLEBODY_FLIP_PAIRS: list[tuple[int, int]] = _wholebody_flip_pairs()

_HAND_SIGMAS = [0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024,
                0.022, 0.026, 0.017, 0.021, 0.021, 0.032, 0.02, 0.019, 0.022, 0.031]  # fmt: skip
WHOLEBODY_SIGMAS: dict[str, list[float]] = {
    "body": [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
             0.107, 0.107, 0.087, 0.087, 0.089, 0.089],
    "foot": [0.068, 0.066, 0.066, 0.092, 0.094, 0.094],
    "face": [0.042, 0.043, 0.044, 0.043, 0.040, 0.035, 0.031, 0.025, 0.020, 0.023, 0.029, 0.032,
             0.037, 0.038, 0.043, 0.041, 0.045, 0.013, 0.012, 0.011, 0.011, 0.012, 0.012, 0.011,
             0.011, 0.013, 0.015, 0.009, 0.007, 0.007, 0.007, 0.012, 0.009, 0.008, 0.016, 0.010,
             0.017, 0.011, 0.009, 0.011, 0.009, 0.007, 0.013, 0.008, 0.011, 0.012, 0.010, 0.034,
             0.008, 0.008, 0.009, 0.008, 0.008, 0.007, 0.010, 0.008, 0.009, 0.009, 0.009, 0.007,
             0.007, 0.008, 0.011, 0.008, 0.008, 0.008, 0.01, 0.008],
    "lefthand": _HAND_SIGMAS,
    "righthand": _HAND_SIGMAS,
}  # fmt: skip


def load_coco_wholebody(annotation_file: Path, image_dir: Path) -> CocoKeypoints:
    """Read a COCO-WholeBody JSON: persons with their 133 keypoints (body, foot, face, hands)."""
    return load_coco_keypoints(
        annotation_file,
        image_dir,
        fields=[field for _, field, _ in WHOLEBODY_PARTS],
        names=WHOLEBODY_NAMES,
        flip_pairs=WHOLEBODY_FLIP_PAIRS,
    )


def resolve_wholebody_layout(root: Path) -> dict[str, tuple[Path, Path]]:
    """``{"train": (json, image_dir), "val": ...}`` for a saip data root (``landmarks/``) or a
    COCO-WholeBody root: ``annotations/coco_wholebody_{split}_v1.0.json`` (or without ``_v1.0``)
    with images in ``images/{split}/``, ``images/{split}2017/`` or ``{split}2017/``."""
    root = Path(root)
    base = root / "landmarks" if (root / "landmarks").is_dir() else root
    layout = {}
    for split in ("train", "val"):
        names = (f"coco_wholebody_{split}_v1.0.json", f"coco_wholebody_{split}.json")
        ann = next((base / "annotations" / n for n in names if (base / "annotations" / n).is_file()), None)
        folders = (base / "images" / split, base / "images" / f"{split}2017", base / f"{split}2017")
        images = next((p for p in folders if p.is_dir()), None)
        if ann is None or images is None:
            raise FileNotFoundError(
                f"{base}: no COCO-WholeBody layout for split {split!r} (expected annotations/{names[0]} "
                f"and images/{split}/)"
            )
        layout[split] = (ann, images)
    return layout
