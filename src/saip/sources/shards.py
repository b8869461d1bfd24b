"""Writing WebDataset tar shards of person images (``saip data shards``); reading is ``data.shards``.

Follows the WebDataset convention (Aizman et al., "High Performance I/O for Large Scale Deep
Learning", 2019): a shard is a plain POSIX tar whose members ``KEY.EXT`` are grouped into samples
by ``KEY``, members of one sample adjacent. Here a sample is ``KEY.jpg`` (or the image's own suffix:
png, webp, ...) and ``KEY.json`` with metadata. Beside the shards, ``dataset.json`` is the
WebDataset/wids descriptor (shard names and sample counts) that :class:`saip.data.shard_source.
ShardImageSource` (``data.shards=FOLDER``) reads with ``wids``. Reading large shards is far faster
than opening millions of small crop files (LUPerson has 4M).
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from saip.data.folder import PersonImageFolder, scan_images
from saip.data.image_io import as_pil
from saip.data.shard_source import DESCRIPTOR


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


def _path_samples(
    paths: Sequence[Path], root: Path, metadata: Mapping[str, Mapping[str, Any]] | None = None
) -> Iterator[tuple[str, str, bytes, dict[str, Any]]]:
    seen: dict[str, Path] = {}
    for path in paths:
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        key = _sample_key(rel)
        if key in seen:
            raise ValueError(f"images {seen[key]} and {path} map to the same shard key {key!r}; rename one")
        seen[key] = path
        ext = path.suffix.lower().lstrip(".")
        ext = "jpg" if ext == "jpeg" else ext
        yield key, ext, path.read_bytes(), {**(metadata or {}).get(rel, {}), "path": rel}


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
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
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
        metadata: for files, extra JSON fields per file, keyed by its path relative to ``root``
            (e.g. the crop manifest's rows), stored in ``KEY.json`` beside ``path``.

    Also writes ``out_dir/dataset.json`` (the wids descriptor: shard names and sample counts).
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
        samples = _path_samples(paths, Path(root) if root else folder, metadata)
    elif isinstance(source, PersonImageFolder):  # files stored byte for byte, not re-encoded
        samples = _path_samples(source.paths, Path(root) if root else source.root, metadata)
    elif isinstance(source, list | tuple) and all(isinstance(p, str | os.PathLike) for p in source):
        paths = [Path(p) for p in source]
        if not paths:
            raise ValueError("no image paths given")
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"image files not found: {', '.join(missing[:5])}")
        paths = [p.resolve() for p in paths]
        base = Path(root).resolve() if root else Path(os.path.commonpath([p.parent for p in paths]))
        samples = _path_samples(paths, base, metadata)
    elif hasattr(source, "__len__") and hasattr(source, "__getitem__"):
        samples = _dataset_samples(source, quality)
    else:
        raise TypeError(f"cannot make shards from a {type(source).__name__} (folder, path list or dataset)")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shards: list[Path] = []
    counts: list[int] = []
    while chunk := list(itertools.islice(samples, max_images_per_shard)):
        shards.append(_write_shard(out_dir / f"{prefix}-{len(shards):06d}.tar", chunk))
        counts.append(len(chunk))
    if not shards:
        raise ValueError("the source holds no images: no shard written")
    descriptor = {
        "wids_version": 1,
        "name": prefix,
        "shardlist": [{"url": path.name, "nsamples": n} for path, n in zip(shards, counts, strict=True)],
    }
    tmp = out_dir / f".{DESCRIPTOR}.tmp"
    tmp.write_text(json.dumps(descriptor, indent=1) + "\n")
    os.replace(tmp, out_dir / DESCRIPTOR)
    return shards
