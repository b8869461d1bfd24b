"""A cached index of an image folder, so a folder of millions of crops is walked once, not once per
rank and per run (LUPerson has 4M files; on shared storage a walk takes minutes).

The index (the sorted relative paths) is kept in ``$SAIP_CACHE/file-index/<hash>.txt``, keyed by
the folder's absolute path and the accepted extensions. It is reused while the folder's own
modification time and number of entries are unchanged; files added *inside* existing sub-folders
change neither, so
pass ``data.rescan=true`` (``rescan=True``) after changing a folder's contents. Under DDP rank 0
builds it and the other ranks wait for it and read it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from saip.cache_dir import cache_dir

logger = logging.getLogger("saip.data")
_HEADER = "# saip file index v1"


def index_path(root: Path, extensions: Iterable[str]) -> Path:
    key = f"{root.resolve()}|{','.join(sorted(extensions))}"
    return cache_dir() / "file-index" / f"{hashlib.sha1(key.encode()).hexdigest()[:20]}.txt"


def cached_scan(
    root: Path, extensions: Iterable[str], scan: Callable[[Path], list[Path]], rescan: bool = False
) -> list[Path]:
    """``scan(root)``, or the cached result of an earlier scan of the unchanged folder."""
    extensions = tuple(extensions)
    path = index_path(root, extensions)
    stamp = f"{_HEADER} mtime_ns={os.stat(root).st_mtime_ns} entries={len(os.listdir(root))}"
    if not rescan and path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        if lines and lines[0] == stamp:
            logger.info("using the cached index of %d images of %s (%s)", len(lines) - 1, root, path)
            return [root / rel for rel in lines[1:]]
    found = scan(root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text("\n".join([stamp, *(p.relative_to(root).as_posix() for p in found)]) + "\n", "utf-8")
        os.replace(tmp, path)
    except OSError as error:  # a read-only cache only costs a walk next time
        logger.warning("could not cache the file index of %s: %s", root, error)
    return found
