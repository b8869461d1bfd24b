"""Shared pytest configuration: small thread count, real-fixture location."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import saip  # noqa: F401  (installs the torchvision CPU shim before any test imports timm)

if "OMP_NUM_THREADS" not in os.environ:
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

REPO = Path(__file__).resolve().parents[1]


def real_fixtures_dir() -> Path:
    """``../shared/data/real-fixtures`` beside the checkout, or ``$SAIP_REAL_FIXTURES``."""
    env = os.environ.get("SAIP_REAL_FIXTURES")
    return Path(env) if env else REPO.parent / "shared" / "data" / "real-fixtures"


@pytest.fixture
def real_fixtures() -> Path:
    path = real_fixtures_dir()
    if not path.is_dir():
        pytest.skip(f"real fixtures not present at {path} (set SAIP_REAL_FIXTURES)")
    return path
