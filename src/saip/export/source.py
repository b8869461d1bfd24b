"""Where an exported backbone comes from: a run folder, a weights file + architecture, or ``random:<arch>``.

Run folder contract (design.md, written by ``saip pretrain``): ``RUN/backbone.json`` =
``{"timm_name", "alias", "img_size": [H, W], "embed_dim", "stride", "mean", "std"}`` and
``RUN/backbone.safetensors`` with exactly timm's keys. Read with
``saip.evaluate.backbone_loader.load_backbone``, so that export and evaluation read runs the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from saip.backbones import Backbone


@dataclass
class ExportSource:
    """A backbone in eval mode plus what a deployment needs to know about it."""

    backbone: Backbone
    timm_name: str
    alias: str
    img_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    origin: str

    @property
    def is_vit(self) -> bool:
        """True when the backbone is a plain ViT (class token + last-block attention)."""
        return hasattr(self.backbone, "num_heads")


def parse_img_size(text: str | Sequence[int] | None) -> tuple[int, int] | None:
    """``"256x128"`` (or ``[256, 128]``) → ``(256, 128)``; both sides must be positive multiples of 16."""
    if text is None:
        return None
    if isinstance(text, str):
        parts = text.lower().replace(",", "x").split("x")
        try:
            size = tuple(int(p) for p in parts)
        except ValueError as error:
            raise ValueError(f"--img-size {text!r}: expected HxW, e.g. 256x128") from error
    else:
        size = tuple(int(p) for p in text)
    if len(size) != 2 or any(s <= 0 or s % 16 for s in size):
        raise ValueError(f"img size {text!r}: expected HxW, each side a positive multiple of 16")
    return size  # type: ignore[return-value]


def _load(spec: str, arch: str | None, size: tuple[int, int] | None) -> ExportSource:
    from saip.evaluate.backbone_loader import load_backbone

    backbone, info = load_backbone(spec, arch=arch, img_size=size)
    return ExportSource(
        backbone=backbone.eval(),
        timm_name=info.timm_name,
        alias=info.alias,
        img_size=tuple(info.img_size),
        mean=tuple(info.mean),
        std=tuple(info.std),
        origin=spec,
    )


def load_export_source(
    spec: str | Path, arch: str | None = None, img_size: str | Sequence[int] | None = None
) -> ExportSource:
    """Load the backbone named by ``spec`` (run folder, weights file with ``arch``, or ``random:<arch>``).

    ``img_size``: for a run folder, the size the export is traced / verified at (default: the
    run's ``img_size``; ViT position embeddings are resampled to it). For a weights file or
    ``random:<arch>``, also the size the ViT position embeddings are defined for (default 256x128).
    Weights are read with safetensors or ``weights_only=True``.
    """
    spec = str(spec)
    size = parse_img_size(img_size)
    build_size = None if Path(spec).is_dir() else size
    source = _load(spec, arch, build_size)
    if size is not None:
        source.img_size = size
    return source
