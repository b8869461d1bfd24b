"""Where saip keeps what it generates or fetches once: ``$SAIP_CACHE`` or ``~/.cache/saip``
(the embedded synthetic evaluation data, shard sample counts, downloaded shards)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$SAIP_CACHE`` if set, else ``~/.cache/saip``."""
    env = os.environ.get("SAIP_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "saip"
