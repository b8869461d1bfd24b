"""Embedded default data: a procedural, deterministic, fully labelled synthetic person world.

* :class:`SyntheticPersonDataset` / :class:`SyntheticSceneDataset`: in-memory torch datasets.
* :func:`write_synthetic_dataset`: Market-1501 / attribute CSV / COCO / LIP / CrowdHuman layouts on disk.
* :func:`render_person_image`, :func:`render_scene`: the pure rendering functions behind both.

See ``docs/synthetic-data.md``.
"""

from __future__ import annotations

from saip.synth.attributes import ATTRIBUTE_NAMES, attribute_vector
from saip.synth.dataset import SyntheticPersonDataset, SyntheticSceneDataset
from saip.synth.identity import Identity, make_identity
from saip.synth.parts import PART_CLASSES
from saip.synth.person_image import PersonSample, render_person_image
from saip.synth.scene import SceneSample, render_scene
from saip.synth.skeleton import COCO_SKELETON, KEYPOINT_NAMES
from saip.synth.writer import TASKS, write_synthetic_dataset

__all__ = [
    "ATTRIBUTE_NAMES",
    "COCO_SKELETON",
    "KEYPOINT_NAMES",
    "PART_CLASSES",
    "TASKS",
    "Identity",
    "PersonSample",
    "SceneSample",
    "SyntheticPersonDataset",
    "SyntheticSceneDataset",
    "attribute_vector",
    "make_identity",
    "render_person_image",
    "render_scene",
    "write_synthetic_dataset",
]
