"""The skip-and-continue contract shared by every source of person images (a folder, tar shards).

``source[i]`` decodes item ``i``; an item that cannot be decoded (corrupt, truncated, not an image)
is logged once, recorded, and replaced by the next readable one (``i+1``, ``i+2``, ... modulo the
length), so a run never crashes on bad data and the result stays deterministic. With DataLoader
workers each worker process keeps its own record; :meth:`record_skips_to` also appends them to a
shared file the training loop totals at the end.
"""

from __future__ import annotations

import abc
import logging
import os
from pathlib import Path
from typing import Any

from PIL import Image
from torch.utils.data import Dataset

from saip.data.image_io import CorruptImageError
from saip.errors import InputError

logger = logging.getLogger("saip.data")


class SkippingImageSource(Dataset, metaclass=abc.ABCMeta):
    """Base class: subclasses implement ``__len__``, :meth:`item_name`, :meth:`load`, :meth:`where`."""

    transform: Any = None

    def __init__(self) -> None:
        self.skipped_files: set[Any] = set()
        self.skip_log: Path | None = None

    @abc.abstractmethod
    def item_name(self, index: int) -> Any:
        """What names item ``index`` in warnings and the skip record (a path, ``shard:key``)."""

    @abc.abstractmethod
    def load(self, index: int) -> Image.Image:
        """Decode item ``index`` as RGB; raise :class:`CorruptImageError` if it cannot be (no skipping)."""

    @abc.abstractmethod
    def where(self) -> str:
        """The source as a user named it, for the all-corrupt error."""

    @property
    def num_skipped(self) -> int:
        """Number of distinct corrupt items met so far (in this process)."""
        return len(self.skipped_files)

    def record_skips_to(self, path: str | os.PathLike[str]) -> None:
        """Also append every skipped item (``NAME<TAB>reason``, one line each) to ``path``."""
        self.skip_log = Path(path)
        self.skip_log.parent.mkdir(parents=True, exist_ok=True)
        for skipped in sorted(map(str, self.skipped_files)):
            _append_line(self.skip_log, f"{skipped}\tskipped before logging started")

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} images")
        index %= n
        for offset in range(n):
            candidate = (index + offset) % n
            name = self.item_name(candidate)
            if name in self.skipped_files:
                continue
            try:
                image = self.load(candidate)
            except CorruptImageError as error:
                self.skipped_files.add(name)
                logger.warning("skipping unreadable image %s (%s)", name, error.reason)
                if self.skip_log is not None:
                    _append_line(self.skip_log, f"{name}\t{error.reason}")
                continue
            return self.transform(image) if self.transform is not None else image
        raise InputError(f"none of the {n} images under {self.where()} could be decoded (all are corrupt)")


def _append_line(path: Path, line: str) -> None:
    """One ``write`` in append mode: lines from several worker processes never interleave."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line.replace("\n", " ") + "\n")


def read_skip_log(path: str | os.PathLike[str]) -> list[str]:
    """The distinct skipped items recorded in ``path`` (first-seen order); ``[]`` if there is none."""
    path = Path(path)
    if not path.is_file():
        return []
    names = [line.split("\t", 1)[0] for line in path.read_text(encoding="utf-8").splitlines() if line]
    return list(dict.fromkeys(names))
