"""Shared pytest configuration: torchvision shim first, a small thread count."""

from __future__ import annotations

import os

import torch

import saip  # noqa: F401  (installs the torchvision CPU shim before any test imports timm)

if "OMP_NUM_THREADS" not in os.environ:
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
