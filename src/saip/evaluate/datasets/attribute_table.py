"""Pedestrian attribute datasets stored as one CSV table (saip's layout for PA100K / PETA / RAP).

``attributes.csv`` has the header ``image,split,<attr_1>,...,<attr_A>``; one row per image with
``split`` in ``train``/``val``/``test`` (``trainval`` is read as train) and 0/1 attribute values.
Image paths are relative to the table's folder or to its ``images/`` subfolder. PA100K's and PETA's
``.mat`` annotations convert to this table one row per image, keeping their partition.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TABLE_NAME = "attributes.csv"
_SPLIT_ALIASES = {"train": "train", "trainval": "train", "val": "val", "valid": "val", "test": "test"}


@dataclass(frozen=True)
class AttributeSplit:
    """Images of one split and their ``(N, A)`` 0/1 attribute matrix."""

    paths: list[Path]
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, index: np.ndarray) -> AttributeSplit:
        """The images at ``index``."""
        return AttributeSplit([self.paths[i] for i in index], self.targets[index])


@dataclass(frozen=True)
class AttributeDataset:
    """An attribute table: attribute names and the train / val / test splits (val may be empty)."""

    name: str
    attributes: list[str]
    train: AttributeSplit
    val: AttributeSplit
    test: AttributeSplit


def find_attribute_table(path: Path) -> Path:
    """``path`` itself if it is a CSV file, else ``attributes.csv`` in it or in its ``attributes/``."""
    path = Path(path)
    if path.is_file():
        return path
    for candidate in (path / TABLE_NAME, path / "attributes" / TABLE_NAME):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{path}: no attribute table ({TABLE_NAME} here or in an 'attributes/' subfolder)"
    )


def _resolve_image(table_dir: Path, name: str) -> Path:
    direct = table_dir / name
    return direct if direct.exists() else table_dir / "images" / name


def load_attribute_table(path: Path) -> AttributeDataset:
    """Read an attribute table (a CSV file, or a folder holding ``attributes.csv``)."""
    table = find_attribute_table(path)
    with table.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or len(header) < 3 or [h.strip() for h in header[:2]] != ["image", "split"]:
            raise ValueError(f"{table}: header must be 'image,split,<attribute>,...', got {header}")
        attributes = [h.strip() for h in header[2:]]
        rows: dict[str, tuple[list[Path], list[list[int]]]] = {s: ([], []) for s in ("train", "val", "test")}
        for line_no, row in enumerate(reader, 2):
            if not row:
                continue
            if len(row) != len(header):
                raise ValueError(f"{table}:{line_no}: {len(row)} fields, header has {len(header)}")
            split = _SPLIT_ALIASES.get(row[1].strip().lower())
            if split is None:
                raise ValueError(f"{table}:{line_no}: unknown split {row[1]!r} (train/val/test)")
            try:
                values = [int(float(v)) for v in row[2:]]
            except ValueError as error:
                raise ValueError(f"{table}:{line_no}: attribute values must be 0/1: {error}") from error
            if any(v not in (0, 1) for v in values):
                raise ValueError(f"{table}:{line_no}: attribute values must be 0/1, got {row[2:]}")
            rows[split][0].append(_resolve_image(table.parent, row[0].strip()))
            rows[split][1].append(values)

    def split(name: str) -> AttributeSplit:
        paths, values = rows[name]
        return AttributeSplit(paths, np.array(values, dtype=np.int64).reshape(len(paths), len(attributes)))

    train, val, test = split("train"), split("val"), split("test")
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"{table}: needs 'train' and 'test' rows (got {len(train)} train, {len(test)} test)")
    name = table.parent.name
    if Path(path).is_dir() and table.parent != Path(path):  # a saip data root: name it after the root
        name = Path(path).name
    return AttributeDataset(name, attributes, train, val, test)
