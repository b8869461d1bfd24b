"""LIP body-part parsing layout reader (Gong et al., CVPR 2017, "Look into Person").

Layout under ``root``: ``{split}_images/<id>.jpg``, ``{split}_segmentations/<id>.png`` (single-channel
class ids: 0 background, 1..19 parts; 255 ignored) and optionally ``{split}_id.txt`` listing the
ids. Without the id file, every image with a matching mask is used (the mmsegmentation test
fixture ships no id files). Images are resized to a fixed ``(H, W)`` (bilinear) and masks with
nearest neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from saip.data.image_io import IMAGE_EXTENSIONS, load_rgb
from saip.data.normalize import normalize
from saip.synth.parts import PART_CLASSES

LIP_CLASSES: tuple[str, ...] = tuple(PART_CLASSES[:20])  # the 20 LIP classes (saip's synthetic data adds Bag)
LIP_FLIP_PAIRS: list[tuple[int, int]] = [(14, 15), (16, 17), (18, 19)]
IGNORE_INDEX = 255


@dataclass(frozen=True)
class ParsingSample:
    """One image and its label mask."""

    image_path: Path
    mask_path: Path


def find_image(folder: Path, stem: str) -> Path | None:
    """The image ``folder/<stem>.<ext>`` for any common image extension, or ``None``."""
    for ext in IMAGE_EXTENSIONS:
        for candidate in (folder / f"{stem}.{ext}", folder / f"{stem}.{ext.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def list_lip_split(root: Path, split: str) -> list[ParsingSample]:
    """Samples of ``split`` (``train``/``val``) under a LIP-layout ``root``, sorted by id."""
    root = Path(root)
    image_dir, mask_dir = root / f"{split}_images", root / f"{split}_segmentations"
    for folder in (image_dir, mask_dir):
        if not folder.is_dir():
            raise FileNotFoundError(f"LIP layout: folder {folder} not found")
    id_file = root / f"{split}_id.txt"
    if id_file.is_file():
        stems = [line.strip() for line in id_file.read_text().splitlines() if line.strip()]
    else:
        stems = sorted(p.stem for p in mask_dir.glob("*.png"))
    samples = []
    for stem in stems:
        image = find_image(image_dir, stem)
        mask = mask_dir / f"{stem}.png"
        if image is None or not mask.is_file():
            raise FileNotFoundError(
                f"LIP layout: id {stem!r} of {split} has no image in {image_dir} or no mask {mask}"
            )
        samples.append(ParsingSample(image, mask))
    if not samples:
        raise ValueError(f"LIP layout: no {split} samples under {root}")
    return samples


def read_mask(path: Path) -> np.ndarray:
    """A label mask as ``(H, W)`` uint8 class ids; palette PNGs give their indices, RGB is rejected."""
    with Image.open(path) as mask:
        if mask.mode not in ("L", "P", "I", "I;16"):
            raise ValueError(f"{path}: label mask must be single-channel class ids, got mode {mask.mode}")
        return np.asarray(mask).astype(np.uint8)


class ParsingDataset(Dataset):
    """Resized images ``(3, H, W)`` (normalised) and masks ``(H, W)`` int64 of a list of samples.

    Everything is decoded once up front (small evaluation subsets). With ``train=True`` a random
    horizontal flip swaps left/right part labels (``flip_pairs``).
    """

    def __init__(
        self,
        samples: list[ParsingSample],
        size: tuple[int, int],
        mean: tuple[float, ...],
        std: tuple[float, ...],
        train: bool = False,
        flip_pairs: list[tuple[int, int]] | None = None,
        seed: int = 0,
    ) -> None:
        h, w = size
        self.train = train
        self.rng = np.random.default_rng(seed)
        self.flip_lut = torch.arange(256)
        for a, b in flip_pairs if flip_pairs is not None else LIP_FLIP_PAIRS:
            self.flip_lut[a], self.flip_lut[b] = b, a
        images, masks = [], []
        for sample in samples:
            image = load_rgb(sample.image_path, apply_exif=False)
            mask = read_mask(sample.mask_path)
            if mask.shape != (image.height, image.width):
                raise ValueError(
                    f"{sample.mask_path}: mask size {mask.shape[::-1]} differs from its image "
                    f"{image.width}x{image.height}"
                )
            image = image.resize((w, h), Image.Resampling.BILINEAR)
            mask = Image.fromarray(mask).resize((w, h), Image.Resampling.NEAREST)
            tensor = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
            images.append(normalize(tensor, mean, std))
            masks.append(torch.from_numpy(np.asarray(mask, dtype=np.int64)))
        self.images, self.masks = images, masks

    def __len__(self) -> int:
        return len(self.images)

    def max_label(self) -> int:
        """Largest non-ignored class id in the masks (−1 if none)."""
        labels = [int(m[m != IGNORE_INDEX].max()) for m in self.masks if (m != IGNORE_INDEX).any()]
        return max(labels, default=-1)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.load(index, self.draw(index))

    def draw(self, index: int) -> bool:
        """Whether item ``index`` is flipped (see :mod:`saip.evaluate.datasets.presampled`)."""
        return bool(self.train and self.rng.random() < 0.5)

    def load(self, index: int, draw: bool) -> dict[str, torch.Tensor]:
        """Item ``index``, flipped (left/right labels swapped) when ``draw``."""
        image, mask = self.images[index], self.masks[index]
        if draw:
            image, mask = image.flip(-1), self.flip_lut[mask.flip(-1)]
        return {"image": image, "mask": mask}
