"""SAIP views built on the training device (issue 13 §1; method.md §1 "Inputs built per person image").

The loader path (``data.view_device=loader``, the CPU default and the reference) builds every view
per sample with Pillow in the DataLoader workers (:mod:`saip.data.multicrop`) and
:class:`~saip.data.collate.SAIPCollate` derives the rest. The device path splits the same work:

- workers decode to uint8 and draw every random parameter with the loader path's keyed generators
  (:class:`DecodedViewDataset`, :class:`DeviceViewCollate`) — about 1 ms of CPU per sample;
- the training device applies them batched (:class:`DeviceViewTransform`) and yields the same
  :class:`~saip.data.batch.SAIPBatch`: same crops, flips, jitter factors and order, grayscale, blur,
  solarize decisions, rescale factors, CSR masks and canvas boxes as the loader path for the same
  ``(seed, epoch, indices)``; pixels agree up to resampling and rounding details.

``data.view_device=auto`` picks the device path on CUDA and the loader path on CPU
(:func:`views_on_device`).
"""

from __future__ import annotations

import torch

from saip.config.schema import VIEW_DEVICES
from saip.data.device_views.collate import DeviceViewCollate
from saip.data.device_views.decode import DecodedViewDataset
from saip.data.device_views.raw_batch import RawViewBatch
from saip.data.device_views.transform import DeviceViewTransform


def views_on_device(setting: str, device: torch.device | str) -> bool:
    """Whether ``data.view_device`` = ``setting`` builds the views on ``device`` (auto: on CUDA only)."""
    if setting not in VIEW_DEVICES:
        raise ValueError(f"data.view_device must be one of {VIEW_DEVICES}, got {setting!r}")
    if setting == "auto":
        return torch.device(device).type == "cuda"
    return setting == "device"


__all__ = [
    "VIEW_DEVICES",
    "DecodedViewDataset",
    "DeviceViewCollate",
    "DeviceViewTransform",
    "RawViewBatch",
    "views_on_device",
]
