"""Person ReID datasets in the Market-1501 and MSMT17 layouts.

Market-1501 (Zheng et al. 2015): ``ROOT/{bounding_box_train,query,bounding_box_test}/`` with file
names ``PPPP_cCsS_FFFFFF_NN.jpg`` (``PPPP`` identity, ``C`` camera). Identity ``-1`` marks junk
images (ignored by the metric), ``0000`` distractors (kept in the gallery as negatives).

MSMT17 (Wei et al., CVPR 2018): ``ROOT/{train,test}/`` plus ``list_{train,val,query,gallery}.txt``
with lines ``REL/PATH.jpg PID``; the camera is the third ``_``-separated field of the file name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from saip.errors import InputError

_MARKET_NAME = re.compile(r"^(-?\d+)_c(\d+)")
MARKET_DIRS = ("bounding_box_train", "query", "bounding_box_test")
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


@dataclass(frozen=True)
class ReidSplit:
    """Images of one split with their identity and camera (``pids``/``camids`` are int arrays)."""

    paths: list[Path]
    pids: np.ndarray
    camids: np.ndarray

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, index: np.ndarray) -> ReidSplit:
        """The images at ``index``."""
        return ReidSplit([self.paths[i] for i in index], self.pids[index], self.camids[index])

    @property
    def num_ids(self) -> int:
        """Number of distinct identities (junk excluded)."""
        return int(len(set(self.pids.tolist()) - {-1}))


@dataclass(frozen=True)
class ReidDataset:
    """Train / query / gallery splits of a ReID benchmark."""

    name: str
    train: ReidSplit
    query: ReidSplit
    gallery: ReidSplit


def parse_market_name(name: str) -> tuple[int, int]:
    """``"0002_c1s1_000451_03.jpg"`` → ``(2, 1)``: identity and camera (cameras are 1-based)."""
    match = _MARKET_NAME.match(name)
    if match is None:
        raise InputError(f"not a Market-1501 file name (expected PPPP_cC...): {name!r}")
    return int(match.group(1)), int(match.group(2))


def read_market_split(folder: Path) -> ReidSplit:
    """All images of one Market-1501 folder, sorted by name."""
    if not folder.is_dir():
        raise FileNotFoundError(f"Market-1501 split folder not found: {folder}")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
    if not paths:
        raise InputError(f"no images in {folder}")
    try:
        parsed = [parse_market_name(p.name) for p in paths]
    except InputError as error:
        raise InputError(f"{folder}: {error}") from error
    return ReidSplit(paths, np.array([p for p, _ in parsed]), np.array([c for _, c in parsed]))


def _read_msmt_list(root: Path, list_name: str, image_dir: str) -> ReidSplit:
    list_file = root / list_name
    if not list_file.is_file():
        raise FileNotFoundError(f"MSMT17 list file not found: {list_file}")
    paths, pids, camids = [], [], []
    for line_no, line in enumerate(list_file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise InputError(f"{list_file}:{line_no}: expected 'PATH PID', got {line!r}")
        rel, pid = parts
        fields = Path(rel).name.split("_")
        if len(fields) < 3 or not fields[2].isdigit():
            raise InputError(f"{list_file}:{line_no}: cannot read the camera from {rel!r}")
        paths.append(root / image_dir / rel)
        pids.append(int(pid))
        camids.append(int(fields[2]))
    if not paths:
        raise InputError(f"{list_file} lists no images")
    return ReidSplit(paths, np.array(pids), np.array(camids))


def find_reid_root(path: Path) -> Path:
    """The benchmark folder for ``path``: itself, or its ``reid/`` subfolder (saip's data-root layout)."""
    path = Path(path)
    for candidate in (path, path / "reid"):
        if (candidate / "query").is_dir() or (candidate / "list_query.txt").is_file():
            return candidate
    raise FileNotFoundError(
        f"{path}: no ReID data (expected Market-1501 folders {', '.join(MARKET_DIRS)} or MSMT17 list files, "
        "here or in a 'reid/' subfolder)"
    )


def load_reid_dataset(path: Path) -> ReidDataset:
    """Read a Market-1501 or MSMT17 folder (or a saip data root with a ``reid/`` subfolder)."""
    root = find_reid_root(path)
    name = root.name if root == Path(path) else Path(path).name
    if (root / "list_query.txt").is_file():
        train = _read_msmt_list(root, "list_train.txt", "train")
        if (root / "list_val.txt").is_file():  # MSMT17 trains on train + val
            val = _read_msmt_list(root, "list_val.txt", "train")
            train = ReidSplit(
                train.paths + val.paths,
                np.concatenate([train.pids, val.pids]),
                np.concatenate([train.camids, val.camids]),
            )
        return ReidDataset(
            name,
            train,
            _read_msmt_list(root, "list_query.txt", "test"),
            _read_msmt_list(root, "list_gallery.txt", "test"),
        )
    query, gallery = read_market_split(root / "query"), read_market_split(root / "bounding_box_test")
    train_dir = root / "bounding_box_train"
    # A test-only set (e.g. `saip data tracklets-to-reid`) has no training split: frozen protocols need none.
    train = (
        read_market_split(train_dir)
        if train_dir.is_dir()
        else ReidSplit([], np.zeros(0, int), np.zeros(0, int))
    )
    return ReidDataset(name, train, query, gallery)


def relabel(pids: np.ndarray) -> tuple[np.ndarray, int]:
    """Map identities to ``0..n-1`` class indices (sorted order); returns labels and ``n``."""
    unique, labels = np.unique(pids, return_inverse=True)
    return labels.astype(np.int64), len(unique)


def pk_batches(
    labels: np.ndarray, p: int, k: int, num_batches: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Index batches of ``p`` identities × ``k`` images (Hermans et al. 2017, "In Defense of the
    Triplet Loss"): identities drawn without replacement within a batch, images without replacement
    when an identity has at least ``k`` images, with replacement otherwise."""
    by_id: dict[int, np.ndarray] = {int(c): np.flatnonzero(labels == c) for c in np.unique(labels)}
    ids = np.array(sorted(by_id))
    if len(ids) < 2:
        raise InputError(f"PK sampling needs at least 2 identities, got {len(ids)}")
    p = min(p, len(ids))
    batches = []
    for _ in range(num_batches):
        chosen = rng.choice(ids, size=p, replace=False)
        batch = [rng.choice(by_id[c], size=k, replace=len(by_id[c]) < k) for c in chosen]
        batches.append(np.concatenate(batch))
    return batches
