"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename.

Files get the usual permissions (``0o666`` less the umask, as ``open`` would give), not the
``0o600`` of ``mkstemp``, so a run folder is readable by the group like any other output.
A write interrupted by kill -9 leaves a ``.NAME.*.tmp`` file behind; :func:`remove_stale_temporaries`
clears them when a run starts or resumes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK
_WRITE_TEST = ".write-test."


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then atomically move ``tmp_path`` to ``path``.

    A crash mid-write leaves the previous ``path`` intact (never a truncated file).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, _FILE_MODE)
    try:
        write(tmp_path)
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except OSError as error:  # name the file being written, not its temporary
        raise OSError(error.errno, error.strerror or str(error), str(path)) from error
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the ``.NAME.*.tmp`` files that interrupted :func:`atomic_write` calls left in ``folder``."""
    folder = Path(folder)
    stale = sorted(folder.glob(".*.tmp")) if folder.is_dir() else []
    stale = [path for path in stale if not path.name.startswith(_WRITE_TEST)]  # another rank's probe
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def probe_writable(folder: str | Path) -> None:
    """Raise ``OSError`` now if files cannot be created in ``folder`` (read-only, full, not a folder).

    Folders it had to create for the test are removed again, so a later error (bad data) leaves no
    empty run folder behind. Checked by writing, because ``os.access`` says yes to root on a
    read-only mount.
    """
    folder = Path(folder)
    created = []
    for parent in [folder, *folder.parents]:
        if parent.exists():
            break
        created.append(parent)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=_WRITE_TEST, suffix=".tmp") as handle:
            handle.write(b"\0" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        for path in created:  # deepest first
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
