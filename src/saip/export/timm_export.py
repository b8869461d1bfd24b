"""Export a saip backbone as plain timm weights (safetensors + timm ``config.json``).

The file holds exactly the state dict of ``timm.create_model(timm_name, num_classes=0, ...)``,
so timm loads it strictly in three ways (all verified by :func:`verify_timm_export`)::

    timm.create_model(NAME, pretrained=True, pretrained_cfg_overlay=dict(file=PATH), num_classes=0, ...)
    timm.create_model(NAME, checkpoint_path=PATH, num_classes=0, ...)
    timm.create_model("local-dir:DIR", pretrained=True)  # DIR/config.json + DIR/model.safetensors

``img_size=HW`` (``(H, W)``) is passed for ViTs only (their position embeddings are defined on the run's H x W
grid). StarNet / TinyViT: saip runs them at output stride 16 (``saip.backbones.make_stride16``
sets the last downsampling stride to 1; every weight is unchanged). timm's default model loads
the same weights but computes the stride-32 variant; call ``make_stride16(model, NAME)`` on it to
reproduce saip's features exactly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from safetensors.torch import save_file
from torch import nn

from saip.backbones import make_stride16
from saip.export.features import FeatureModule
from saip.export.source import ExportSource
from saip.export.verify import VerifyReport, compare_outputs

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"


@dataclass
class TimmExport:
    """Paths and load recipe of a timm export."""

    weights: Path
    config: Path
    timm_name: str
    timm_kwargs: dict
    stride16_patch: bool

    def load_commands(self) -> list[str]:
        """Python snippets that load the export with timm (printed by ``saip export``)."""
        extra = "".join(
            f", {k}={tuple(v) if isinstance(v, list) else v!r}" for k, v in self.timm_kwargs.items()
        )
        name, path = self.timm_name, str(self.weights)
        lines = [
            "import timm",
            f"model = timm.create_model({name!r}, pretrained=True, "
            f"pretrained_cfg_overlay=dict(file={path!r}), num_classes=0{extra})",
            f"# or: timm.create_model({name!r}, checkpoint_path={path!r}, num_classes=0{extra})",
            f"# or: timm.create_model('local-dir:{self.weights.parent}', pretrained=True)",
        ]
        if self.stride16_patch:
            lines += [
                "# saip runs this backbone at stride 16 (timm's default is stride 32, same weights):",
                "from saip.backbones import make_stride16",
                f"make_stride16(model, {name!r})",
            ]
        return lines


def timm_kwargs_for(source: ExportSource) -> dict:
    """Constructor arguments timm needs besides the name: ``img_size`` for ViTs, nothing for CNNs."""
    return {"img_size": list(source.backbone.img_size)} if source.is_vit else {}


def _timm_config(source: ExportSource, kwargs: dict) -> dict:
    backbone = source.backbone
    h, w = backbone.img_size if source.is_vit else source.img_size
    pretrained_cfg = {
        "input_size": [3, h, w],
        "mean": list(source.mean),
        "std": list(source.std),
        "interpolation": "bicubic",
        "crop_pct": 1.0,
        "crop_mode": "center",
        "num_classes": 0,
        "fixed_input_size": bool(source.is_vit),
        "tag": "saip",
    }
    config = {
        "architecture": source.timm_name,
        "num_classes": 0,
        "num_features": backbone.embed_dim,
        "global_pool": "token" if source.is_vit else "avg",
        "img_size": [h, w],
        "mean": list(source.mean),
        "std": list(source.std),
        "pretrained_cfg": pretrained_cfg,
        "saip": {
            "alias": source.alias,
            "stride": 16,
            "needs_make_stride16": _needs_stride16(source),
            "origin": source.origin,
        },
    }
    if kwargs:
        config["model_args"] = kwargs
    return config


def _needs_stride16(source: ExportSource) -> bool:
    """True for the models whose saip variant differs from timm's default by :func:`make_stride16`."""
    return not source.is_vit and source.timm_name.startswith(("starnet", "tiny_vit"))


def export_timm(source: ExportSource, out_dir: str | Path) -> TimmExport:
    """Write ``out_dir/model.safetensors`` (timm keys, contiguous tensors) and ``out_dir/config.json``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in source.backbone.model.state_dict().items()}
    weights = out_dir / WEIGHTS_NAME
    save_file(
        state, str(weights), metadata={"format": "pt", "timm_name": source.timm_name, "producer": "saip"}
    )
    kwargs = timm_kwargs_for(source)
    config = out_dir / CONFIG_NAME
    config.write_text(json.dumps(_timm_config(source, kwargs), indent=2) + "\n")
    return TimmExport(
        weights=weights,
        config=config,
        timm_name=source.timm_name,
        timm_kwargs=kwargs,
        stride16_patch=_needs_stride16(source),
    )


def load_timm_export(export: TimmExport, how: str = "pretrained_file") -> nn.Module:
    """Create the timm model from an export the way a user would, strictly; apply the stride-16 patch.

    ``how``: ``pretrained_file`` (``pretrained_cfg_overlay=dict(file=...)``), ``checkpoint_path``, or
    ``local_dir`` (``timm.create_model("local-dir:DIR", pretrained=True)``).
    """
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in export.timm_kwargs.items()}
    if how == "pretrained_file":
        model = timm.create_model(
            export.timm_name,
            pretrained=True,
            num_classes=0,
            pretrained_cfg_overlay=dict(file=str(export.weights)),
            **kwargs,
        )
    elif how == "checkpoint_path":
        model = timm.create_model(
            export.timm_name, checkpoint_path=str(export.weights), num_classes=0, **kwargs
        )
    elif how == "local_dir":
        model = timm.create_model(f"local-dir:{export.weights.parent}", pretrained=True)
    else:
        raise ValueError(f"unknown timm load method {how!r} (pretrained_file, checkpoint_path, local_dir)")
    if export.stride16_patch:
        make_stride16(model, export.timm_name)
    return model.eval()


class TimmFeatures(nn.Module):
    """``(image_token, patch_grid)`` from a plain timm model, computed with timm's own forward code."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.model.forward_features(images)
        image_token = self.model.forward_head(features, pre_logits=True)
        if features.ndim == 3:  # ViT tokens (B, prefix + h*w, D) -> grid
            _, _, H, W = images.shape
            patch = self.model.patch_embed.patch_size
            h, w = H // patch[0], W // patch[1]
            tokens = features[:, self.model.num_prefix_tokens :]
            features = tokens.transpose(1, 2).reshape(tokens.shape[0], -1, h, w)
        return image_token, features


def verify_timm_export(
    source: ExportSource,
    export: TimmExport,
    how: str = "pretrained_file",
    tolerance: float = 1e-5,
    batches: Sequence[int] = (1, 4),
) -> VerifyReport:
    """Load the export with timm (``how``) and compare its features with saip's at batch 1 and 4."""
    model = TimmFeatures(load_timm_export(export, how))
    size = tuple(source.backbone.img_size) if source.is_vit else source.img_size
    return compare_outputs(
        FeatureModule(source.backbone),
        model,
        size,
        target=f"timm[{how}]",
        batches=batches,
        tolerance=tolerance,
    )
