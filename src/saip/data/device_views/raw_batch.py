"""``RawViewBatch``: what the device path's DataLoader yields — uint8 images plus every random draw.

Everything random is decided here, on the CPU, by the keyed generators of the loader path
(:mod:`saip.data.seeding`); the device only applies it (:mod:`saip.data.device_views.transform`),
so the batch it builds is a pure function of ``(seed, epoch, sample indices)``. Index lists that
select images for an op (jitter steps, blur) are built here too, so the device transform never
reads a device tensor back (no host sync).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any

import torch

from saip.data.device_views.layout import CanvasLayout


def _map(value: Any, fn: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, list):
        return [_map(item, fn) for item in value]
    if isinstance(value, dict):
        return {key: _map(item, fn) for key, item in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        return replace(value, **{f.name: _map(getattr(value, f.name), fn) for f in fields(value)})
    return value


@dataclass
class ViewPlan:
    """Parameters of the N = V·B views of one kind (global or local), view-major (n = v·B + b).

    boxes: (N, 4) float32 crop ``(x1, y1, x2, y2)`` in the decoded image; flip, gray, solarize: (N,) bool.
    factors: (N, 4) float32 brightness, contrast, saturation factors and hue shift.
    jitter_steps: 16 int64 index tensors, entry ``4·s + op``: the views whose jitter applies
        ``op`` (0 brightness, 1 contrast, 2 saturation, 3 hue) at step ``s``.
    blur_index: (n,) int64 views to blur, with blur_sigma (n,) float32.
    """

    count: int
    boxes: torch.Tensor
    flip: torch.Tensor
    factors: torch.Tensor
    jitter_steps: list[torch.Tensor]
    gray: torch.Tensor
    blur_index: torch.Tensor
    blur_sigma: torch.Tensor
    solarize: torch.Tensor


@dataclass
class RawViewBatch:
    """One batch for :class:`~saip.data.device_views.transform.DeviceViewTransform`.

    images: (B, Hd, Wd, 3) uint8 (channels-last, as decoded); views: {"global": plan, "local":
    plan}; scaled_factors: one per rescaled copy; csr_*: the CSR mask (``saip.data.masking``
    conventions) or None; canvas: the canvas geometry or None.
    """

    index: torch.Tensor
    epoch: int
    images: torch.Tensor
    views: dict[str, ViewPlan]
    scaled_factors: list[float] = field(default_factory=list)
    csr_ids_keep: torch.Tensor | None = None
    csr_mask: torch.Tensor | None = None
    csr_ids_restore: torch.Tensor | None = None
    canvas: CanvasLayout | None = None

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> RawViewBatch:
        """A copy with every tensor on ``device``."""
        return _map(self, lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> RawViewBatch:
        """Pinned copy (called by ``DataLoader(pin_memory=True)``)."""
        return _map(self, lambda t: t.pin_memory())
