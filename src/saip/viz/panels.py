"""Matplotlib assembly of the scale panels (input | PCA of patch tokens | image-token attention).

Layout follows the SAIP paper's Fig. 1 / Fig. 5: one column per scale, rows = input image, PCA
of the patch tokens as RGB, and the image-token attention map overlaid on the input. Every cell
has the same size so the PNG size is known in advance (:func:`panel_size_px`); titles give the
scale and the input resolution actually fed to the backbone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

ROW_TITLES = ("input", "PCA of patch tokens", "image-token attention")
CELL_WIDTH_IN = 2.0
DPI = 100


@dataclass
class ScaleColumn:
    """One column of a panel: the image at one scale and what the backbone made of it.

    ``image``: ``(H, W, 3)`` uint8; ``pca``: ``(3, h, w)`` in [0, 1]; ``attention``: ``(H, W)`` in [0, 1].
    """

    title: str
    image: np.ndarray
    pca: torch.Tensor
    attention: torch.Tensor


def panel_size_px(n_columns: int, aspect: float) -> tuple[int, int]:
    """``(width, height)`` in pixels of a panel with ``n_columns`` cells of height/width ``aspect``."""
    width_in, height_in = _figure_inches(n_columns, aspect)
    return round(width_in * DPI), round(height_in * DPI)


def _figure_inches(n_columns: int, aspect: float) -> tuple[float, float]:
    cell_h = CELL_WIDTH_IN * aspect
    return CELL_WIDTH_IN * n_columns + 0.6, (cell_h + 0.1) * len(ROW_TITLES) + 0.75


def scale_panel(columns: Sequence[ScaleColumn], title: str, method: str) -> plt.Figure:
    """A figure with one column per scale (input, PCA RGB, attention overlay); caller saves and closes it."""
    if not columns:
        raise ValueError("scale_panel needs at least one column")
    h, w = columns[0].image.shape[:2]
    aspect = h / w
    fig, axes = plt.subplots(
        len(ROW_TITLES), len(columns), figsize=_figure_inches(len(columns), aspect), dpi=DPI, squeeze=False
    )
    for j, col in enumerate(columns):
        image = col.image
        pca = col.pca.permute(1, 2, 0).numpy()
        attention = col.attention.numpy()
        axes[0, j].imshow(image)
        axes[0, j].set_title(col.title, fontsize=8)
        axes[1, j].imshow(pca, interpolation="nearest", extent=(0, image.shape[1], image.shape[0], 0))
        axes[2, j].imshow(image)
        axes[2, j].imshow(attention, cmap="inferno", alpha=0.6, vmin=0, vmax=1)
        for i in range(len(ROW_TITLES)):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("auto")
            if j == 0:
                ax.set_ylabel(ROW_TITLES[i] if i < 2 else f"attention\n({method})", fontsize=8)
    width_in, height_in = fig.get_figwidth(), fig.get_figheight()
    fig.suptitle(title, fontsize=9, y=1 - 0.08 / height_in, va="top")
    fig.subplots_adjust(
        left=0.55 / width_in,
        right=1 - 0.05 / width_in,
        top=1 - 0.6 / height_in,
        bottom=0.05 / height_in,
        wspace=0.05,
        hspace=0.1 / (CELL_WIDTH_IN * aspect),
    )
    return fig


def save_figure(fig: plt.Figure, path: str | Path) -> Path:
    """Save ``fig`` as PNG at the module DPI (no tight bbox: the size stays predictable) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path
