"""Load the backbone to evaluate from a run folder, a weight file, or ``random:<arch>``.

A run folder written by ``saip pretrain`` holds ``backbone.json`` (``timm_name``, ``alias``,
``img_size``, ``embed_dim``, ``stride``, ``mean``, ``std``) and ``backbone.safetensors`` (timm keys).
A weight file (``.safetensors``, or a torch file read with ``weights_only=True``) needs ``arch``.
``random:<arch>`` builds the architecture at a seeded random init: the "none" row of the paper's
ablation (method.md §3) and the baseline of the built-in probe. ``efficientnet_lite0_imagenet`` is
the ImageNet EfficientNet-Lite0 shipped offline (the built-in teacher of :mod:`saip.teachers`), the
"ImageNet-supervised" row; its random counterpart is ``random:efficientnet_lite0``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from saip.backbones import Backbone, create_backbone, resolve_timm_name
from saip.errors import InputError

RANDOM_PREFIX = "random:"
EFFICIENTNET_LITE0_IMAGENET = "efficientnet_lite0_imagenet"  # saip.teachers' built-in ImageNet weights
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneInfo:
    """What an evaluation needs to know about a backbone besides its weights."""

    timm_name: str
    alias: str
    img_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    embed_dim: int
    source: str


def default_normalization(timm_name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """timm's mean/std for ``timm_name`` (ImageNet statistics if timm has none)."""
    import timm

    try:
        cfg = timm.models.get_pretrained_cfg(timm_name)
    except Exception:  # noqa: BLE001 - unknown names fall back to ImageNet statistics
        cfg = None
    if cfg is None:
        return _IMAGENET_MEAN, _IMAGENET_STD
    return tuple(cfg.mean), tuple(cfg.std)


def _info(
    backbone: Backbone,
    alias: str,
    img_size: tuple[int, int],
    source: str,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
) -> BackboneInfo:
    if mean is None or std is None:
        mean, std = default_normalization(backbone.timm_name)
    return BackboneInfo(
        backbone.timm_name, alias, tuple(img_size), tuple(mean), tuple(std), int(backbone.embed_dim), source
    )


def _parse_img_size(value: object, where: str) -> tuple[int, int]:
    if not (isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        raise InputError(f"{where}: img_size must be [H, W] integers, got {value!r}")
    if value[0] % 16 or value[1] % 16:
        raise InputError(f"{where}: img_size {value} is not a multiple of 16")
    return int(value[0]), int(value[1])


def _load_run_folder(folder: Path, img_size: tuple[int, int] | None) -> tuple[Backbone, BackboneInfo]:
    meta_path, weights = folder / "backbone.json", folder / "backbone.safetensors"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{folder}: not a saip run folder (no backbone.json)")
    if not weights.is_file():
        raise FileNotFoundError(f"{folder}: backbone.safetensors is missing (has the run finished?)")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{meta_path}: invalid JSON: {error}") from error
    missing = [k for k in ("timm_name", "img_size") if k not in meta]
    if missing:
        raise InputError(f"{meta_path}: missing keys {missing}")
    size = img_size or _parse_img_size(meta["img_size"], str(meta_path))
    backbone = create_backbone(meta["timm_name"], img_size=size, weights=weights)
    mean, std = meta.get("mean"), meta.get("std")
    return backbone, _info(
        backbone,
        meta.get("alias", meta["timm_name"]),
        size,
        str(folder),
        tuple(mean) if mean else None,
        tuple(std) if std else None,
    )


def load_backbone(
    spec: str | Path,
    arch: str | None = None,
    img_size: tuple[int, int] | None = None,
    seed: int = 0,
) -> tuple[Backbone, BackboneInfo]:
    """Build the backbone named by ``spec``, in eval mode on the CPU.

    Args:
        spec: a saip run folder, a weight file (then ``arch`` names the architecture), or
            ``random:<arch>`` (seeded random init).
        arch: architecture alias or timm name for weight files (ignored for run folders).
        img_size: ``(H, W)`` the position embeddings are defined for; default: the run's size,
            else 256×128.
        seed: random-init seed for ``random:<arch>``.
    """
    text = str(spec)
    size = _parse_img_size(tuple(img_size), "img_size option") if img_size is not None else None
    if text == EFFICIENTNET_LITE0_IMAGENET:
        from saip.teachers.loading import build_teacher_backbone

        backbone, teacher = build_teacher_backbone(text)
        info = _info(backbone, "efficientnet_lite0", size or (256, 128), text, teacher.mean, teacher.std)
    elif text.startswith(RANDOM_PREFIX):
        name = text[len(RANDOM_PREFIX) :]
        if not name:
            raise InputError("random:<arch> needs an architecture, e.g. random:vit_tiny")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            backbone = create_backbone(name, img_size=size or (256, 128))
        info = _info(backbone, name, size or (256, 128), f"{RANDOM_PREFIX}{name} (seed {seed})")
    else:
        path = Path(text)
        if path.is_dir():
            backbone, info = _load_run_folder(path, size)
        elif path.is_file():
            if arch is None:
                raise InputError(
                    f"{path}: a weight file needs --arch (e.g. vit_tiny, starnet_s3, tiny_vit_5m)"
                )
            backbone = create_backbone(arch, img_size=size or (256, 128), weights=path)
            info = _info(backbone, arch, size or (256, 128), str(path))
        else:
            raise FileNotFoundError(
                f"backbone {text!r}: no such run folder or weight file (or use random:<arch>)"
            )
    backbone.eval()
    return backbone, info


def random_counterpart(info: BackboneInfo, seed: int = 0) -> tuple[Backbone, BackboneInfo]:
    """The same architecture and input size as ``info`` at a seeded random init (same mean/std)."""
    backbone, random_info = load_backbone(
        f"{RANDOM_PREFIX}{info.alias or info.timm_name}", img_size=info.img_size, seed=seed
    )
    if resolve_timm_name(random_info.timm_name) != info.timm_name:
        backbone, random_info = load_backbone(
            f"{RANDOM_PREFIX}{info.timm_name}", img_size=info.img_size, seed=seed
        )
    return backbone, BackboneInfo(
        random_info.timm_name,
        random_info.alias,
        random_info.img_size,
        info.mean,
        info.std,
        random_info.embed_dim,
        random_info.source,
    )
