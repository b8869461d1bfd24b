"""The dataset layouts ``saip data synth`` writes (no heavy imports: the CLI reads them at start-up)."""

from __future__ import annotations

PERSON_ONLY: tuple[str, ...] = ("t2i", "landmarks")  # written from the single-person images only
TASKS: tuple[str, ...] = (
    "reid",
    "attributes",
    "pose",
    "parsing",
    "detection",
    "mhp",
    "pap",
    "t2i",
    "landmarks",
)
