"""Embedded default data: a procedural, deterministic, fully labelled synthetic person world.

* :class:`SyntheticPersonDataset` / :class:`SyntheticSceneDataset`: in-memory torch datasets.
* :func:`write_synthetic_dataset`: Market-1501 / attribute CSV / COCO / LIP / CrowdHuman layouts on disk.
* :func:`render_person_image`, :func:`render_scene`: the pure rendering functions behind both.

See ``docs/synthetic-data.md``.
"""

from __future__ import annotations

import importlib

# name -> submodule; imported on first use, so `import saip.synth.tasks` (the CLI) stays light
_EXPORTS = {
    "ATTRIBUTE_NAMES": "attributes",
    "attribute_vector": "attributes",
    "SyntheticPersonDataset": "dataset",
    "SyntheticSceneDataset": "dataset",
    "Identity": "identity",
    "make_identity": "identity",
    "PART_CLASSES": "parts",
    "PersonSample": "person_image",
    "render_person_image": "person_image",
    "SceneSample": "scene",
    "render_scene": "scene",
    "COCO_SKELETON": "skeleton",
    "KEYPOINT_NAMES": "skeleton",
    "TASKS": "tasks",
    "write_synthetic_dataset": "writer",
}


def __getattr__(name: str):  # noqa: ANN202 - PEP 562 lazy exports
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"saip.synth.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'saip.synth' has no attribute {name!r}")


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
