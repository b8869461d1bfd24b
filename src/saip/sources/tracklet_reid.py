"""Turn video tracklets into a Market-1501-style ReID test set (pseudo-identities from tracking).

LUPerson-style data has no identity labels, but a tracklet is one person. For a real-pedestrian
probe, each tracklet with enough crops becomes one identity; its crops are split in time into two
halves that play the two "cameras" (Market-1501's evaluation drops same-camera gallery matches, so a
query from the first half must be found among the second half's crops). One query per identity is
the middle crop of the first half; the gallery is the second half.

Limits (documented, not hidden): one person split over several tracklets counts as several
identities (their mutual matches score as false positives), and the two "cameras" are the same
camera at different times, so this measures appearance matching across pose/position, not across
viewpoints. It is a probe of what a backbone learned, not a ReID benchmark.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from saip.data.image_io import IMAGE_EXTENSIONS


def tracklets_to_market(crops_dir: str | Path, out_dir: str | Path, min_crops: int = 6) -> dict[str, int]:
    """Write ``out_dir/{query,bounding_box_test}`` from ``crops_dir/<tracklet>/<frame>.jpg`` folders.

    File names follow Market-1501: ``{pid:04d}_c{cam}s1_{frame:06d}_00.jpg``. Returns counts.
    """
    crops_dir, out_dir = Path(crops_dir), Path(out_dir)
    if min_crops < 4:
        raise ValueError(f"min_crops must be >= 4 (two per half), got {min_crops}")
    tracklets = sorted(p for p in crops_dir.iterdir() if p.is_dir()) if crops_dir.is_dir() else []
    if not tracklets:
        raise FileNotFoundError(f"no tracklet folders in {crops_dir} (expected <video>_t<id>/<frame>.jpg)")
    query, gallery = out_dir / "query", out_dir / "bounding_box_test"
    for folder in (query, gallery):
        folder.mkdir(parents=True, exist_ok=True)
    counts = {"tracklets": len(tracklets), "identities": 0, "query": 0, "gallery": 0, "too_short": 0}
    for tracklet in tracklets:
        frames = sorted(p for p in tracklet.iterdir() if p.suffix.lower().lstrip(".") in IMAGE_EXTENSIONS)
        if len(frames) < min_crops:
            counts["too_short"] += 1
            continue
        counts["identities"] += 1
        pid = counts["identities"]
        first, second = frames[: len(frames) // 2], frames[len(frames) // 2 :]
        picked = first[len(first) // 2]
        shutil.copyfile(picked, query / _market_name(pid, 1, picked))
        counts["query"] += 1
        for frame in second:
            shutil.copyfile(frame, gallery / _market_name(pid, 2, frame))
            counts["gallery"] += 1
    if counts["identities"] < 2:
        raise ValueError(f"{crops_dir}: only {counts['identities']} tracklet(s) with >= {min_crops} crops")
    return counts


def _market_name(pid: int, cam: int, frame_path: Path) -> str:
    digits = "".join(c for c in frame_path.stem if c.isdigit()) or "0"
    return f"{pid:04d}_c{cam}s1_{int(digits):06d}_00{frame_path.suffix.lower()}"
