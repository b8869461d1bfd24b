"""CUHK-PEDES ``reid_raw.json`` (Li et al., "Person Search with Natural Language Description", CVPR 2017).

A JSON list with one entry per image: ``split`` (``train``/``val``/``test``), ``captions`` (a
list of sentences), ``file_path`` (relative to ``imgs/``) and ``id`` (the 1-based identity).
"""

from __future__ import annotations

import json
from pathlib import Path


class PedesWriter:
    """Accumulates captioned images; :meth:`save` writes ``reid_raw.json``."""

    def __init__(self) -> None:
        self.entries: list[dict] = []

    def add(self, split: str, file_path: str, pid: int, captions: list[str]) -> None:
        """Register image ``file_path`` (relative to ``imgs/``) of 0-based identity ``pid``."""
        self.entries.append(
            {"split": split, "captions": list(captions), "file_path": file_path, "id": pid + 1}
        )

    def save(self, path: Path) -> None:
        """Write the annotation list to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.entries))
