"""CIHP multi-person parsing layout reader (Gong et al., ECCV 2018, "Instance-level Human Parsing via Part
Grouping Network").

Layout under ``root`` (the ``instance-level_human_parsing`` folder of CIHP): ``Training/`` and
``Validation/``, each with ``Images/<id>.jpg``, ``Category_ids/<id>.png`` (semantic part ids 0..19),
``Human_ids/<id>.png`` (0 background, k for person k) and ``Instance_ids/<id>.png`` (part instances,
not needed here: persons and classes determine them), plus the id list ``train_id.txt`` /
``val_id.txt``. Images are resized to a fixed ``(H, W)`` (bilinear), label maps with nearest
neighbour; evaluation runs at that size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from saip.data.image_io import load_rgb
from saip.data.normalize import normalize
from saip.evaluate.datasets.lip import LIP_FLIP_PAIRS, find_image, read_mask
from saip.synth.formats.cihp import CIHP_CLASSES

SPLITS = {"train": ("Training", "train_id.txt"), "val": ("Validation", "val_id.txt")}
CIHP_NUM_CLASSES = len(CIHP_CLASSES)


@dataclass(frozen=True)
class CihpSample:
    """One image with its semantic part map and person-id map."""

    image_path: Path
    category_path: Path
    human_path: Path


def resolve_cihp_root(root: Path) -> Path:
    """The CIHP folder: ``root/mhp`` (saip data root), ``root/instance-level_human_parsing`` or ``root``."""
    root = Path(root)
    for base in (root / "mhp", root / "instance-level_human_parsing", root):
        if (base / "Training").is_dir() or (base / "Validation").is_dir():
            return base
    raise FileNotFoundError(
        f"{root}: not a CIHP layout (expected Training/ and Validation/ with Images/, Category_ids/, "
        "Human_ids/ and train_id.txt / val_id.txt)"
    )


def list_cihp_split(root: Path, split: str) -> list[CihpSample]:
    """Samples of ``split`` (``train``/``val``) listed in its id file, in file order."""
    if split not in SPLITS:
        raise ValueError(f"unknown CIHP split {split!r}; choose from {', '.join(SPLITS)}")
    folder, id_name = SPLITS[split]
    base = Path(root) / folder
    id_file = base / id_name
    if not id_file.is_file():
        raise FileNotFoundError(f"CIHP layout: id list {id_file} not found")
    stems = [line.strip() for line in id_file.read_text().splitlines() if line.strip()]
    samples = []
    for stem in stems:
        image = find_image(base / "Images", stem)
        if image is None:
            raise FileNotFoundError(f"CIHP layout: id {stem!r} of {split} has no image in {base / 'Images'}")
        category, human = base / "Category_ids" / f"{stem}.png", base / "Human_ids" / f"{stem}.png"
        for path in (category, human):
            if not path.is_file():
                raise FileNotFoundError(f"CIHP layout: label map {path} not found")
        samples.append(CihpSample(image, category, human))
    if not samples:
        raise ValueError(f"CIHP layout: {id_file} lists no images")
    return samples


class CihpDataset(Dataset):
    """Resized images ``(3, H, W)`` (normalised), ``category`` and ``human`` maps ``(H, W)`` int64.

    Everything is decoded once up front. With ``train=True`` a random horizontal flip swaps the
    left/right part classes (LIP's pairs, which CIHP shares), and with ``crop`` a random ``(H, W)``
    window of the resized image is returned (persons keep the input's scale at a smaller cost).
    """

    def __init__(
        self,
        samples: list[CihpSample],
        size: tuple[int, int],
        mean: tuple[float, ...],
        std: tuple[float, ...],
        train: bool = False,
        seed: int = 0,
        crop: tuple[int, int] | None = None,
    ) -> None:
        h, w = size
        if crop is not None and (crop[0] > h or crop[1] > w):
            raise ValueError(f"training crop {crop} is larger than the input {size}")
        self.train, self.crop = train, crop
        self.rng = np.random.default_rng(seed)
        self.flip_lut = torch.arange(256)
        for a, b in LIP_FLIP_PAIRS:
            self.flip_lut[a], self.flip_lut[b] = b, a
        self.images, self.categories, self.humans = [], [], []
        for sample in samples:
            image = load_rgb(sample.image_path)
            maps = []
            for path in (sample.category_path, sample.human_path):
                label = read_mask(path)
                if label.shape != (image.height, image.width):
                    raise ValueError(
                        f"{path}: label map size {label.shape[::-1]} differs from its image "
                        f"{image.width}x{image.height}"
                    )
                resized = Image.fromarray(label).resize((w, h), Image.Resampling.NEAREST)
                maps.append(torch.from_numpy(np.asarray(resized, dtype=np.int64)))
            if int(maps[0].max()) >= CIHP_NUM_CLASSES:
                raise ValueError(f"{sample.category_path}: class id {int(maps[0].max())} is not a CIHP class")
            image = image.resize((w, h), Image.Resampling.BILINEAR)
            tensor = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
            self.images.append(normalize(tensor, mean, std))
            self.categories.append(maps[0])
            self.humans.append(maps[1])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.load(index, self.draw(index))

    def draw(self, index: int) -> tuple[tuple[int, int] | None, bool]:
        """The crop window's ``(y, x)`` (``None``: whole image) and the flip of item ``index`` (see
        :mod:`saip.evaluate.datasets.presampled`)."""
        window = None
        if self.train and self.crop is not None:
            (h, w), (ch, cw) = self.categories[index].shape, self.crop
            window = int(self.rng.integers(h - ch + 1)), int(self.rng.integers(w - cw + 1))
        return window, bool(self.train and self.rng.random() < 0.5)

    def load(self, index: int, draw: tuple[tuple[int, int] | None, bool]) -> dict[str, torch.Tensor]:
        """Item ``index`` cropped and flipped as ``draw`` says."""
        image, category, human = self.images[index], self.categories[index], self.humans[index]
        window, flip = draw
        if window is not None:
            (y, x), (ch, cw) = window, self.crop
            image, category = image[:, y : y + ch, x : x + cw], category[y : y + ch, x : x + cw]
            human = human[y : y + ch, x : x + cw]
        if flip:
            image, category, human = image.flip(-1), self.flip_lut[category.flip(-1)], human.flip(-1)
        return {"image": image, "category": category, "human": human}
