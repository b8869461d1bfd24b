"""AdamW with parameter groups: no weight decay on norms, biases, position embeddings and tokens."""

from __future__ import annotations

import torch
from torch import nn

_NO_DECAY_NAMES = (
    "pos_embed",
    "cls_token",
    "reg_token",
    "dist_token",
    "mask_token",
    "pattern_queries",
    "router_query",  # DPAL's router query token
    "gate_bias",  # D-PaDe gate offset, initialised to 1: decay would pull it to 0
    "anchor_image_embed",  # CSR's learned type embedding of the anchor image token
)


def parameter_groups(module: nn.Module, weight_decay: float) -> list[dict]:
    """Split trainable parameters into decayed (matrices, convs) and non-decayed groups.

    Non-decayed: every 1-D parameter (norm weights, biases, scalars) and embeddings/tokens whose
    name ends with one of ``pos_embed``, ``cls_token``, ``mask_token``, learned query tokens and
    gate offsets, ... (method.md recipe).
    """
    decay, no_decay = [], []
    for name, param in module.named_parameters():
        if not param.requires_grad:
            continue
        if param.ndim <= 1 or name.endswith(".bias") or name.split(".")[-1] in _NO_DECAY_NAMES:
            no_decay.append(param)
        else:
            decay.append(param)
    return [
        {"params": decay, "weight_decay": weight_decay, "name": "decay"},
        {"params": no_decay, "weight_decay": 0.0, "name": "no_decay"},
    ]


def build_optimizer(
    module: nn.Module, lr: float, weight_decay: float, betas: tuple[float, float], fused: bool = False
) -> torch.optim.AdamW:
    """AdamW (beta 0.9/0.95 in the paper recipe) over :func:`parameter_groups`; ``fused`` runs the
    update of every parameter in one kernel instead of a loop of small ones
    (:func:`fused_adamw_available`)."""
    return torch.optim.AdamW(parameter_groups(module, weight_decay), lr=lr, betas=betas, fused=fused or None)


def fused_adamw_available(device: torch.device) -> bool:
    """Whether torch has a fused AdamW for ``device`` (CUDA, and CPU since torch 2.4): the loop's choice."""
    return device.type in ("cuda", "cpu")
