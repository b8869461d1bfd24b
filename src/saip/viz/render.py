"""Scale panels for a backbone: run it on an image at several scales, then PCA + attention + figure.

This is the SAIP paper's qualitative check (Fig. 1 / Fig. 5): a scale-aware backbone should give
the same part colours (PCA of patch tokens) and attend to the person at every scale. The PCA is
fitted on the tokens of all scales of an image together, so colours are comparable across scales.

Sizes: a person crop (height / width between 1.5 and 3) is fed at the backbone's ``img_size``
(e.g. 256x128) times the scale; any other image (a multi-person scene) keeps its aspect ratio
with its longer side at ``2 * img_size[0]`` times the scale. Both sides are rounded to multiples
of 16 (at least 16).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from saip.backbones import Backbone
from saip.data.image_io import load_rgb
from saip.data.normalize import normalize
from saip.viz.attention import attention_method, image_token_attention, upsample_maps
from saip.viz.panels import ScaleColumn, save_figure, scale_panel
from saip.viz.pca import pca_rgb

log = logging.getLogger(__name__)

REAL_FIXTURE_NAMES = ("bus.jpg", "zidane.jpg", "astronaut.png")


@dataclass
class NamedImage:
    """An RGB image and the name its panel file is saved under."""

    name: str
    image: Image.Image


def _round16(x: float) -> int:
    return max(16, int(round(x / 16)) * 16)


def input_size(image: Image.Image, img_size: tuple[int, int], scale: float) -> tuple[int, int]:
    """``(H, W)`` fed to the backbone for ``image`` at ``scale`` (see module doc)."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    ratio = image.height / image.width
    if 1.5 <= ratio <= 3.0:
        return _round16(img_size[0] * scale), _round16(img_size[1] * scale)
    long_side = 2 * img_size[0] * scale
    if ratio >= 1:
        return _round16(long_side), _round16(long_side / ratio)
    return _round16(long_side * ratio), _round16(long_side)


def _to_tensor(image: Image.Image, size: tuple[int, int]) -> tuple[np.ndarray, torch.Tensor]:
    resized = np.asarray(image.resize((size[1], size[0]), Image.Resampling.BICUBIC), dtype=np.uint8)
    tensor = torch.from_numpy(resized.copy()).permute(2, 0, 1).float().div(255)
    return resized, tensor


@torch.no_grad()
def scale_columns(
    backbone: Backbone,
    image: Image.Image,
    scales: Sequence[float],
    img_size: tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
) -> list[ScaleColumn]:
    """Encode ``image`` at each scale; PCA fitted jointly over scales; attention upsampled to the input."""
    backbone.eval()
    arrays, grids, maps = [], [], []
    for scale in scales:
        size = input_size(image, img_size, scale)
        array, tensor = _to_tensor(image, size)
        batch = normalize(tensor.unsqueeze(0), mean, std)
        grids.append(backbone(batch).patch_grid[0])
        maps.append(upsample_maps(image_token_attention(backbone, batch), size)[0])
        arrays.append(array)
    colours = pca_rgb(grids)
    return [
        ScaleColumn(title=f"scale {s:g} ({a.shape[0]}x{a.shape[1]})", image=a, pca=c, attention=m)
        for s, a, c, m in zip(scales, arrays, colours, maps, strict=True)
    ]


def render_scale_panels(
    backbone: Backbone,
    images: Sequence[NamedImage],
    out_dir: str | Path,
    scales: Sequence[float] = (0.5, 1.0, 1.5),
    img_size: tuple[int, int] = (256, 128),
    mean: Sequence[float] = (0.485, 0.456, 0.406),
    std: Sequence[float] = (0.229, 0.224, 0.225),
    label: str = "",
) -> list[Path]:
    """Write ``out_dir/<name>_scales.png`` for every image; returns the paths."""
    if not scales:
        raise ValueError("need at least one scale")
    method = attention_method(backbone)
    paths = []
    for item in images:
        columns = scale_columns(backbone, item.image, scales, img_size, mean, std)
        title = f"{item.name} — {label or backbone.timm_name}"
        paths.append(
            save_figure(scale_panel(columns, title, method), Path(out_dir) / f"{item.name}_scales.png")
        )
    return paths


def load_images(paths: Sequence[str | Path]) -> list[NamedImage]:
    """Decode image files with Pillow (clear error naming a missing or corrupt file)."""
    out = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"image not found: {path}")
        out.append(NamedImage(name=path.stem, image=load_rgb(path)))
    return out


def real_fixture_dir() -> Path | None:
    """``$SAIP_REAL_FIXTURES`` or ``<repo>/../shared/data/real-fixtures`` when it exists."""
    env = os.environ.get("SAIP_REAL_FIXTURES")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[4] / "shared" / "data" / "real-fixtures")
    return next((c for c in candidates if c.is_dir()), None)


def default_images(seed: int = 0) -> list[NamedImage]:
    """Two synthetic person crops + one synthetic scene (``saip.synth``), else the real fixtures."""
    try:
        from saip.synth import SyntheticPersonDataset, SyntheticSceneDataset
    except ImportError:
        folder = real_fixture_dir()
        if folder is None:
            raise FileNotFoundError(
                "no --images given, saip.synth is unavailable and no real fixtures "
                "were found (set SAIP_REAL_FIXTURES)"
            ) from None
        return load_images([folder / n for n in REAL_FIXTURE_NAMES if (folder / n).is_file()])
    persons = SyntheticPersonDataset(identities=2, images_per_id=1, seed=seed, labels=False)
    scenes = SyntheticSceneDataset(scenes=1, seed=seed, labels=False)
    return [NamedImage(f"synth_person{i}", persons[i]["image"]) for i in range(len(persons))] + [
        NamedImage("synth_scene0", scenes[0]["image"])
    ]
