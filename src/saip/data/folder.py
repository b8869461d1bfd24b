"""``PersonImageFolder``: a folder (or a file list) of person crops (method.md §1: LUP1M-style data).

Unlike the reference code (``torchvision.datasets.ImageFolder``, which needs one sub-folder level
and crashes on the first corrupt JPEG), any folder layout works and corrupt files are skipped and
counted. Labels are not used by pretraining, so none are produced.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PIL import Image

from saip.data.file_index import cached_scan
from saip.data.image_io import IMAGE_EXTENSIONS, load_rgb
from saip.data.image_source import SkippingImageSource
from saip.errors import InputError


def _normalise_extensions(extensions: Iterable[str]) -> frozenset[str]:
    return frozenset("." + ext.lower().lstrip(".") for ext in extensions)


def scan_images(root: Path, extensions: Iterable[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """All files under ``root`` (recursive, symlinks followed) whose suffix is in ``extensions``.

    The result is sorted by relative POSIX path, so it is identical on every machine and run.
    """
    suffixes = _normalise_extensions(extensions)
    found: list[Path] = []
    for directory, _dirs, files in os.walk(root, followlinks=True):
        for name in files:
            if os.path.splitext(name)[1].lower() in suffixes:
                found.append(Path(directory) / name)
    return sorted(found, key=lambda path: path.relative_to(root).as_posix())


def read_file_list(root: Path, file_list: Path) -> list[Path]:
    """Paths listed one per line in ``file_list`` (relative to ``root`` or absolute).

    Blank lines and lines starting with ``#`` are ignored. Raises ``FileNotFoundError`` naming
    the list file and line for the first listed path that does not exist.
    """
    paths: list[Path] = []
    with open(file_list, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            entry = line.strip()
            if not entry or entry.startswith("#"):
                continue
            path = Path(entry) if os.path.isabs(entry) else root / entry
            if not path.is_file():
                raise FileNotFoundError(
                    f"{file_list}:{line_number}: listed image {entry!r} does not exist (looked at {path})"
                )
            paths.append(path)
    return paths


class PersonImageFolder(SkippingImageSource):
    """Person images under ``root``; ``dataset[i]`` is an RGB ``PIL.Image`` (or ``transform(image)``).

    Args:
        root: the image folder.
        file_list: optional text file listing images (one per line, relative to ``root`` or
            absolute). Without it ``root`` is scanned recursively, sorted.
        extensions: accepted file suffixes (case-insensitive) when scanning.
        transform: optional callable applied to the decoded image.
        rescan: walk the folder even if a cached index of it exists (:mod:`saip.data.file_index`).

    Corrupt files (unreadable, truncated, zero bytes, not an image) never crash a run:
    ``dataset[i]`` logs one warning naming the file, records it in ``skipped_files`` /
    ``num_skipped`` and returns the next readable image (index ``i+1``, ``i+2``, ... modulo
    the length), so the result is deterministic. With DataLoader workers each worker keeps its
    own record (the counters live in the worker process).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        file_list: str | os.PathLike[str] | None = None,
        extensions: Iterable[str] = IMAGE_EXTENSIONS,
        transform: Callable[[Image.Image], Any] | None = None,
        rescan: bool = False,
    ) -> None:
        super().__init__()
        self.root = Path(root)
        if not self.root.is_dir():
            raise NotADirectoryError(f"image folder {self.root} does not exist or is not a folder")
        self.extensions = tuple(extensions)
        self.transform = transform
        if file_list is not None:
            self.paths = read_file_list(self.root, Path(file_list))
            if not self.paths:
                raise InputError(f"file list {file_list} lists no images")
        else:
            self.paths = cached_scan(self.root, self.extensions, self._scan, rescan)
            if not self.paths:
                raise FileNotFoundError(
                    f"no images with extensions {', '.join(self.extensions)} found under folder {self.root}"
                )

    def _scan(self, root: Path) -> list[Path]:
        return scan_images(root, self.extensions)

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, index: int) -> Image.Image:
        """Decode ``paths[index]``; raises :class:`CorruptImageError` (no skipping)."""
        return load_rgb(self.paths[index])

    def item_name(self, index: int) -> Path:
        return self.paths[index]

    def where(self) -> str:
        return str(self.root)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, n={len(self)}, skipped={self.num_skipped})"
