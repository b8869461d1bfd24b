"""Where an exported backbone comes from: a run folder, a weights file + architecture, or ``random:<arch>``.

Run folder contract (design.md, written by ``saip pretrain``): ``RUN/backbone.json`` =
``{"timm_name", "alias", "img_size": [H, W], "embed_dim", "stride", "mean", "std"}`` and
``RUN/backbone.safetensors`` with exactly timm's keys. When the evaluation package's
``saip.evaluate.backbone_loader.load_backbone`` is installed it is used, so that export and
evaluation read runs the same way; otherwise the same contract is read here.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from saip.backbones import Backbone, create_backbone
from saip.backbones.registry import ALIASES, resolve_timm_name
from saip.data.config import IMAGENET_MEAN, IMAGENET_STD


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


def _alias_of(timm_name: str) -> str:
    return next((a for a, t in ALIASES.items() if t == timm_name), timm_name)


def _from_evaluate_loader(spec: str, arch: str | None, size: tuple[int, int] | None) -> ExportSource | None:
    try:
        module = importlib.import_module("saip.evaluate.backbone_loader")
    except ModuleNotFoundError as error:
        if error.name not in ("saip.evaluate", "saip.evaluate.backbone_loader"):
            raise
        return None
    backbone, info = module.load_backbone(spec, arch=arch, img_size=size)
    return ExportSource(
        backbone=backbone.eval(),
        timm_name=info.timm_name,
        alias=info.alias,
        img_size=tuple(info.img_size),
        mean=tuple(info.mean),
        std=tuple(info.std),
        origin=spec,
    )


def _read_run_json(run: Path) -> dict:
    path = run / "backbone.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run} is a folder but not a saip run: {path.name} is missing")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error
    missing = [k for k in ("timm_name", "img_size") if k not in meta]
    if missing:
        raise ValueError(f"{path}: missing keys {missing}")
    return meta


def _own_loader(spec: str, arch: str | None, size: tuple[int, int] | None) -> ExportSource:
    if spec.startswith("random:"):
        name = spec.split(":", 1)[1] or (arch or "")
        if not name:
            raise ValueError("random:<arch> needs an architecture, e.g. random:vit_tiny")
        backbone = create_backbone(name, img_size=size or (256, 128))
        meta: dict = {"timm_name": backbone.timm_name, "img_size": list(backbone.img_size)}
    else:
        path = Path(spec)
        if path.is_dir():
            meta = _read_run_json(path)
            weights = path / "backbone.safetensors"
            if not weights.is_file():
                raise FileNotFoundError(f"run folder {path}: {weights.name} is missing")
            name = meta["timm_name"]
        elif path.is_file():
            if arch is None:
                raise ValueError(f"{path} is a weights file: pass --arch (e.g. vit_tiny) to say what it is")
            weights, name = path, arch
            meta = {"timm_name": resolve_timm_name(arch), "img_size": list(size or (256, 128))}
        else:
            raise FileNotFoundError(f"no run folder or weights file at {spec!r}")
        backbone = create_backbone(name, img_size=tuple(meta["img_size"]), weights=weights)
    return ExportSource(
        backbone=backbone.eval(),
        timm_name=backbone.timm_name,
        alias=meta.get("alias") or _alias_of(backbone.timm_name),
        img_size=tuple(int(s) for s in meta["img_size"]),
        mean=tuple(meta.get("mean", IMAGENET_MEAN)),
        std=tuple(meta.get("std", IMAGENET_STD)),
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
    source = _from_evaluate_loader(spec, arch, build_size) or _own_loader(spec, arch, build_size)
    if size is not None:
        source.img_size = size
    return source
