"""WebDataset-style tar shards of person images: writing, and a streaming ``IterableDataset``.

Follows the WebDataset convention (Aizman et al., "High Performance I/O for Large Scale Deep
Learning", 2019; github.com/webdataset/webdataset): a shard is a plain POSIX tar whose members
``KEY.EXT`` are grouped into samples by ``KEY`` (everything before the first dot of the file
name), members of one sample being adjacent. Here a sample is ``KEY.jpg`` (or the image's own
suffix: png, webp, ...) and an optional ``KEY.json`` with metadata. Reading large shards
sequentially is far faster than opening millions of small crop files (LUPerson has 4M).

:class:`ShardDataset` splits shards across DataLoader workers and DDP ranks deterministically
(worker ``w`` of rank ``r`` reads shards ``g, g + T, g + 2T, ...`` with ``g = r·W + w`` and
``T = world_size·W``) and can shuffle shard order (same on every rank) and samples (a seeded
buffer). Corrupt members and truncated shards are skipped, counted and logged, never fatal.
"""

from __future__ import annotations

import glob
import io
import itertools
import json
import logging
import os
import random
import re
import tarfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import IterableDataset, get_worker_info

from saip.data.folder import PersonImageFolder, scan_images
from saip.data.image_io import DECODE_ERRORS, as_pil, to_rgb

logger = logging.getLogger("saip.sources")

SHARD_IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "bmp")
_BRACE = re.compile(r"\{(\d+)\.\.(\d+)\}")


def _sample_key(relpath: str) -> str:
    """``a/b.c.jpg`` -> ``a/b_c``: the suffix dropped and dots removed (a dot would split the key)."""
    stem = os.path.splitext(relpath.replace("\\", "/"))[0]
    return stem.replace(".", "_")


def _json_safe(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray | torch.Tensor):
        return value.tolist()
    return value


def _metadata(item: Any) -> dict[str, Any]:
    """JSON-serialisable entries of a mapping item other than the image."""
    if not isinstance(item, dict):
        return {}
    meta: dict[str, Any] = {}
    for key, value in item.items():
        if key == "image":
            continue
        value = _json_safe(value)
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        meta[str(key)] = value
    return meta


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # deterministic shards: same input, same bytes
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _write_shard(path: Path, samples: list[tuple[str, str, bytes, dict[str, Any]]]) -> Path:
    """Write one shard atomically (temporary name, then rename)."""
    tmp = path.with_suffix(".tar.tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for key, ext, data, meta in samples:
            _add_member(tar, f"{key}.{ext}", data)
            _add_member(tar, f"{key}.json", json.dumps(meta, sort_keys=True).encode("utf-8"))
    os.replace(tmp, path)
    return path


def _path_samples(paths: Sequence[Path], root: Path) -> Iterator[tuple[str, str, bytes, dict[str, Any]]]:
    seen: dict[str, Path] = {}
    for path in paths:
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        key = _sample_key(rel)
        if key in seen:
            raise ValueError(f"images {seen[key]} and {path} map to the same shard key {key!r}; rename one")
        seen[key] = path
        ext = path.suffix.lower().lstrip(".")
        ext = "jpg" if ext == "jpeg" else ext
        yield key, ext, path.read_bytes(), {"path": rel}


def _dataset_samples(dataset: Any, quality: int) -> Iterator[tuple[str, str, bytes, dict[str, Any]]]:
    for index in range(len(dataset)):
        item = dataset[index]
        buffer = io.BytesIO()
        as_pil(item).save(buffer, format="JPEG", quality=quality)
        yield f"{index:09d}", "jpg", buffer.getvalue(), _metadata(item)


def write_shards(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Any,
    out_dir: str | os.PathLike[str],
    max_images_per_shard: int = 1000,
    prefix: str = "shard",
    root: str | os.PathLike[str] | None = None,
    quality: int = 95,
) -> list[Path]:
    """Pack images into ``out_dir/{prefix}-{000000..}.tar``; returns the shard paths in order.

    Args:
        source: an image folder (scanned recursively, sorted), a list of image paths, or a
            dataset (``len`` + ``[i]``) of PIL images / arrays / tensors / dicts with ``"image"``.
        out_dir: output folder (created).
        max_images_per_shard: samples per shard (the last shard may hold fewer).
        prefix: shard file name prefix.
        root: for paths, the folder keys are made relative to (default: the folder given, or the
            common parent of the listed files).
        quality: JPEG quality for dataset items (files are stored byte for byte, never re-encoded).

    Each sample is ``KEY.<ext>`` + ``KEY.json``: for files the key is the relative path without
    suffix and the JSON records it; for dataset items the key is the zero-padded index and the
    JSON holds the item's other JSON-serialisable fields (identity, attributes, ...).
    Shards are written to a temporary name and renamed, so a crash never leaves a half shard.
    """
    if max_images_per_shard < 1:
        raise ValueError(f"max_images_per_shard must be >= 1, got {max_images_per_shard}")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", prefix):
        raise ValueError(f"shard prefix {prefix!r} may only contain letters, digits, '-' and '_'")
    if isinstance(source, str | os.PathLike):
        folder = Path(source)
        if not folder.is_dir():
            raise NotADirectoryError(f"image folder {folder} does not exist or is not a folder")
        paths = scan_images(folder)
        if not paths:
            raise FileNotFoundError(f"no images found under folder {folder}")
        samples = _path_samples(paths, Path(root) if root else folder)
    elif isinstance(source, PersonImageFolder):  # files stored byte for byte, not re-encoded
        samples = _path_samples(source.paths, Path(root) if root else source.root)
    elif isinstance(source, list | tuple) and all(isinstance(p, str | os.PathLike) for p in source):
        paths = [Path(p) for p in source]
        if not paths:
            raise ValueError("no image paths given")
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"image files not found: {', '.join(missing[:5])}")
        paths = [p.resolve() for p in paths]
        base = Path(root).resolve() if root else Path(os.path.commonpath([p.parent for p in paths]))
        samples = _path_samples(paths, base)
    elif hasattr(source, "__len__") and hasattr(source, "__getitem__"):
        samples = _dataset_samples(source, quality)
    else:
        raise TypeError(f"cannot make shards from a {type(source).__name__} (folder, path list or dataset)")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shards: list[Path] = []
    while chunk := list(itertools.islice(samples, max_images_per_shard)):
        shards.append(_write_shard(out_dir / f"{prefix}-{len(shards):06d}.tar", chunk))
    if not shards:
        raise ValueError("the source holds no images: no shard written")
    return shards


def expand_shard_pattern(pattern: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Shard paths from a list, a folder (its ``*.tar``), a glob, or a brace range ``{000000..000009}``."""
    if not isinstance(pattern, str | os.PathLike):
        paths = [Path(p) for p in pattern]
    else:
        text = os.fspath(pattern)
        if Path(text).is_dir():
            paths = sorted(Path(text).glob("*.tar"))
        else:
            match = _BRACE.search(text)
            if match:
                first, last = match.group(1), match.group(2)
                width = len(first)
                names = [
                    text[: match.start()] + str(i).zfill(width) + text[match.end() :]
                    for i in range(int(first), int(last) + 1)
                ]
                paths = [Path(n) for n in names]
            else:
                paths = sorted(Path(p) for p in glob.glob(text))
        if not paths:
            raise FileNotFoundError(f"no shards match {text!r}")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"shard files not found: {', '.join(missing[:5])}")
    return paths


def iter_shard_samples(path: str | os.PathLike[str]) -> Iterator[tuple[str, dict[str, bytes]]]:
    """``(key, {ext: bytes})`` for each sample of one tar shard, in stored order.

    Raises ``tarfile.ReadError`` / ``OSError`` for an unreadable or truncated shard (after
    yielding the samples before the damage).
    """
    key: str | None = None
    members: dict[str, bytes] = {}
    with tarfile.open(path, "r|*") as tar:  # streaming mode: no seeking, works on huge shards
        for info in tar:
            if not info.isfile():
                continue
            directory, name = os.path.split(info.name)
            if "." not in name:
                continue
            base, ext = name.split(".", 1)
            member_key = f"{directory}/{base}" if directory else base
            handle = tar.extractfile(info)
            data = handle.read() if handle is not None else b""
            if member_key != key:
                if key is not None:
                    yield key, members
                key, members = member_key, {}
            members[ext.lower()] = data
    if key is not None:
        yield key, members


def _distributed() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class ShardDataset(IterableDataset):
    """Streams RGB ``PIL.Image`` samples from tar shards (WebDataset layout, see module docstring).

    Args:
        shards: list of shard paths, a folder, a glob (``out/shard-*.tar``) or a brace range
            (``out/shard-{000000..000009}.tar``).
        shuffle_buffer: 0 keeps stored order; ``n > 0`` shuffles shard order per epoch and samples
            through an ``n``-sample buffer, all seeded by ``(seed, epoch, worker)``.
        seed: base seed.
        transform: applied to each decoded image.
        with_metadata: yield ``(image, metadata)`` where metadata is the sample's JSON plus
            ``__key__`` and ``__shard__``.
        rank, world_size: DDP position (default: from ``torch.distributed`` if initialised).

    Call :meth:`set_epoch` each epoch to change the shuffle. Skipped (corrupt) samples are
    counted per process in :attr:`skipped` / :attr:`num_skipped`.
    """

    def __init__(
        self,
        shards: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        shuffle_buffer: int = 0,
        seed: int = 0,
        transform: Callable[[Image.Image], Any] | None = None,
        with_metadata: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        super().__init__()
        self.shards = expand_shard_pattern(shards)
        if shuffle_buffer < 0:
            raise ValueError(f"shuffle_buffer must be >= 0, got {shuffle_buffer}")
        self.shuffle_buffer, self.seed, self.epoch = shuffle_buffer, seed, 0
        self.transform, self.with_metadata = transform, with_metadata
        self._rank, self._world_size = rank, world_size
        self.skipped: list[str] = []

    @property
    def num_skipped(self) -> int:
        return len(self.skipped)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def assigned_shards(self, worker_id: int = 0, num_workers: int = 1) -> list[Path]:
        """The shards this (rank, worker) reads this epoch (deterministic)."""
        default_rank, default_world = _distributed()
        rank = default_rank if self._rank is None else self._rank
        world = default_world if self._world_size is None else self._world_size
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} is outside world_size {world}")
        order = list(self.shards)
        if self.shuffle_buffer > 0:
            random.Random(f"shards-{self.seed}-{self.epoch}").shuffle(order)
        total = world * num_workers
        if total > len(order):
            logger.warning(
                "%d shards for %d readers (ranks x workers): some readers get no data; write more shards",
                len(order),
                total,
            )
        return order[rank * num_workers + worker_id :: total]

    def _samples(self, shards: list[Path]) -> Iterator[tuple[Image.Image, dict[str, Any]]]:
        for shard in shards:
            try:
                for key, members in iter_shard_samples(shard):
                    ext = next((e for e in SHARD_IMAGE_EXTENSIONS if e in members), None)
                    if ext is None:
                        self._skip(f"{shard}:{key}", "no image member")
                        continue
                    try:
                        with Image.open(io.BytesIO(members[ext])) as image:
                            image.load()
                            rgb = to_rgb(image)
                        meta = json.loads(members["json"]) if "json" in members else {}
                    except (*DECODE_ERRORS, json.JSONDecodeError) as error:
                        self._skip(f"{shard}:{key}", f"{type(error).__name__}: {error}")
                        continue
                    meta.update({"__key__": key, "__shard__": str(shard)})
                    yield rgb, meta
            except (tarfile.TarError, OSError, EOFError) as error:
                self._skip(str(shard), f"unreadable shard ({type(error).__name__}: {error})")

    def _skip(self, what: str, reason: str) -> None:
        self.skipped.append(what)
        logger.warning("skipping %s: %s", what, reason)

    def __iter__(self) -> Iterator[Any]:
        info = get_worker_info()
        worker_id, num_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        shards = self.assigned_shards(worker_id, num_workers)
        samples = self._samples(shards)
        if self.shuffle_buffer > 0:
            rank = self._rank if self._rank is not None else _distributed()[0]
            rng = random.Random(f"samples-{self.seed}-{self.epoch}-{rank}-{worker_id}")
            samples = _shuffled(samples, self.shuffle_buffer, rng)
        for image, meta in samples:
            item = self.transform(image) if self.transform is not None else image
            yield (item, meta) if self.with_metadata else item


def _shuffled(items: Iterator[Any], size: int, rng: random.Random) -> Iterator[Any]:
    """Buffer shuffle: fill ``size`` items, then emit a random one for each new arrival."""
    buffer: list[Any] = []
    for item in items:
        if len(buffer) < size:
            buffer.append(item)
            continue
        index = rng.randrange(size)
        buffer[index], item = item, buffer[index]
        yield item
    rng.shuffle(buffer)
    yield from buffer
