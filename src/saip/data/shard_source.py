"""Person images from WebDataset tar shards (``data.shards``), read with ``wids`` (random access).

Shards are the WebDataset layout (``KEY.jpg`` + ``KEY.json`` members, adjacent per sample) that
``saip data shards`` writes. They are read through ``wids`` (WebDataset's indexed reader: a
memory-mapped tar index per shard) rather than streamed, because random access keeps pretraining
exactly as it is on a folder: the global index is shuffled by the same deterministic, rank-sharded
:class:`saip.pretrain.sampler.EpochSampler` (equal samples per rank even when shards are uneven, so
DDP never waits on a rank that ran out), views stay a function of (seed, epoch, index), and a resumed
run continues at its exact (epoch, position).

``data.shards`` may be:

- a wids/WebDataset JSON descriptor (``{"shardlist": [{"url": ..., "nsamples": N}, ...]}``; relative
  URLs are resolved against the descriptor's folder) — ``saip data shards`` writes ``dataset.json``;
- a folder (its ``dataset.json`` if present, else its ``*.tar``);
- brace patterns (``shards/lup-{000000..000999}.tar``), globs, comma-separated lists of paths,
  ``http(s)://`` URLs or ``pipe:CMD`` sources. Sample counts of shards given without a descriptor
  are taken by indexing each shard once and cached (``$SAIP_CACHE/shard-counts.json``, keyed by
  path, size and modification time); remote shards are downloaded once into ``$SAIP_CACHE/shards``.
"""

from __future__ import annotations

import bisect
import contextlib
import glob
import io
import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from braceexpand import braceexpand
from PIL import Image
from wids.wids import IndexedTarSamples
from wids.wids_dl import download_file

from saip.cache_dir import cache_dir
from saip.data.image_io import DECODE_ERRORS, IMAGE_EXTENSIONS, CorruptImageError, to_rgb
from saip.data.image_source import SkippingImageSource
from saip.errors import InputError

DESCRIPTOR = "dataset.json"
_REMOTE_PREFIXES = ("http://", "https://", "ftp://", "pipe:", "gs://", "s3://")


def _is_remote(url: str) -> bool:
    return url.startswith(_REMOTE_PREFIXES)


def _top_level_parts(spec: str) -> list[str]:
    """Split on the commas outside braces (``a.tar,b-{1,2}.tar`` -> ``a.tar``, ``b-{1,2}.tar``)."""
    parts, depth, start = [], 0, 0
    for pos, char in enumerate(spec):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(spec[start:pos])
            start = pos + 1
    return [part.strip() for part in [*parts, spec[start:]] if part.strip()]


def _expand(spec: str) -> list[str]:
    """Shard URLs of a pattern: commas, braces, globs, a folder."""
    urls: list[str] = []
    for part in _top_level_parts(spec):
        for item in braceexpand(part):
            if _is_remote(item):
                urls.append(item)
            elif Path(item).is_dir():
                urls.extend(str(p) for p in sorted(Path(item).glob("*.tar")))
            elif any(ch in item for ch in "*?["):
                urls.extend(sorted(glob.glob(item)))
            else:
                urls.append(item)
    return urls


def _descriptor(path: Path) -> list[tuple[str, int]]:
    try:
        spec = json.loads(path.read_text())
        entries = spec["shardlist"]
        shards = [(str(e["url"]), int(e["nsamples"])) for e in entries]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(
            f"data.shards: {path} is not a shard descriptor with a 'shardlist' ({error})"
        ) from error
    return [
        (url if _is_remote(url) or os.path.isabs(url) else str(path.parent / url), n) for url, n in shards
    ]


class ShardImageSource(SkippingImageSource):
    """``source[i]`` = the i-th person image over all shards, RGB (corrupt members skipped, counted).

    Args:
        spec: see the module docstring.
        open_shards: how many shard indexes stay open (an LRU; each is a memory map).
    """

    def __init__(self, spec: str | os.PathLike[str], open_shards: int = 16) -> None:
        super().__init__()
        self.spec = os.fspath(spec)
        local = Path(self.spec)
        if local.suffix == ".json" and not _is_remote(self.spec):
            if not local.is_file():
                raise FileNotFoundError(f"shard descriptor not found: {local}")
            shards = _descriptor(local)
        elif local.is_dir() and (local / DESCRIPTOR).is_file():
            shards = _descriptor(local / DESCRIPTOR)
        else:
            urls = _expand(self.spec)
            if not urls:
                raise FileNotFoundError(f"no shards match {self.spec!r}")
            shards = _counted(urls)
        self.urls = [url for url, _ in shards]
        counts = [n for _, n in shards]
        if sum(counts) == 0:
            raise InputError(f"the shards of {self.spec!r} hold no samples")
        self.offsets = np.cumsum([0, *counts]).tolist()  # sample i lives in shard bisect(offsets, i) - 1
        self.open_shards = open_shards
        self._readers: OrderedDict[str, IndexedTarSamples] = OrderedDict()

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def where(self) -> str:
        return self.spec

    def _locate(self, index: int) -> tuple[str, int]:
        shard = bisect.bisect_right(self.offsets, index) - 1
        return self.urls[shard], index - int(self.offsets[shard])

    def item_name(self, index: int) -> str:
        url, inner = self._locate(index)
        return f"{url}[{inner}]"

    def _reader(self, url: str) -> IndexedTarSamples:
        reader = self._readers.get(url)
        if reader is None:
            reader = _index(url)
            self._readers[url] = reader
            while len(self._readers) > self.open_shards:
                self._readers.popitem(last=False)[1].close()
        self._readers.move_to_end(url)
        return reader

    def load(self, index: int) -> Image.Image:
        url, inner = self._locate(index)
        name = f"{url}[{inner}]"
        sample = self._reader(url)[inner]
        ext = next((e for e in IMAGE_EXTENSIONS if f".{e}" in sample), None)
        if ext is None:
            raise CorruptImageError(name, f"no image member (has {sorted(k for k in sample if k[0] == '.')})")
        try:
            with Image.open(io.BytesIO(sample[f".{ext}"].getvalue())) as image:
                image.load()
                return to_rgb(image)
        except DECODE_ERRORS as error:
            raise CorruptImageError(name, f"{type(error).__name__}: {error}") from error

    def __getstate__(self) -> dict[str, Any]:  # DataLoader workers open their own memory maps
        state = dict(self.__dict__)
        state["_readers"] = OrderedDict()
        return state


def _local_copy(url: str) -> str:
    """A local path for ``url``: the file itself, or its download in the cache (made once)."""
    if not _is_remote(url):
        if not Path(url).is_file():
            raise FileNotFoundError(f"shard not found: {url}")
        return url
    folder = cache_dir() / "shards"
    folder.mkdir(parents=True, exist_ok=True)
    local = folder / "".join(c if c.isalnum() or c in "-_." else "_" for c in url)[-200:]
    if not local.is_file():
        tmp = local.with_name(local.name + f".{os.getpid()}.part")
        try:
            download_file(url, str(tmp))
        except Exception as error:  # noqa: BLE001 - curl / pipe failures of any kind: name the shard
            tmp.unlink(missing_ok=True)
            raise InputError(f"data.shards: cannot fetch {url}: {error}") from error
        os.replace(tmp, local)
    return str(local)


def _index(url: str) -> IndexedTarSamples:
    path = _local_copy(url)
    try:
        return IndexedTarSamples(path=path)
    except Exception as error:  # noqa: BLE001 - wids raises assorted errors on a damaged tar
        raise InputError(
            f"data.shards: {url} is not a readable tar shard ({type(error).__name__}: {error})"
        ) from error


def _counted(urls: list[str]) -> list[tuple[str, int]]:
    """``(url, nsamples)``, counting each shard once (cached by path, size and mtime)."""
    cache_file = cache_dir() / "shard-counts.json"
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    result, changed = [], False
    for url in urls:
        path = _local_copy(url)
        stat = os.stat(path)
        key = f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}"
        if key not in cache:
            reader = _index(url)
            cache[key], changed = len(reader), True
            reader.close()
        result.append((url, int(cache[key])))
    if changed:  # a concurrent or failed write only costs a recount next time (unparseable -> {})
        with contextlib.suppress(OSError):
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            cache_file.write_text(json.dumps(cache))
    return result
