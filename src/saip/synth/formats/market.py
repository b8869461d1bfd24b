"""Market-1501 file names."""

from __future__ import annotations

import re

MARKET_PATTERN = re.compile(r"([-\d]+)_c(\d)")


def market_name(pid: int, camid: int, frame: int) -> str:
    """File name of image ``frame`` of 0-based identity ``pid`` seen by 0-based camera ``camid``."""
    if not 0 <= camid < 9:
        raise ValueError("Market-1501 names hold one camera digit: use at most 9 cameras")
    return f"{pid + 1:04d}_c{camid + 1}s1_{frame:06d}_00.jpg"


def parse_market_name(name: str) -> tuple[int, int]:
    """(Market pid, 1-based camera) of a Market-1501 file name."""
    match = MARKET_PATTERN.search(name)
    if match is None:
        raise ValueError(f"not a Market-1501 name: {name}")
    return int(match.group(1)), int(match.group(2))
