"""Export the backbone as TorchScript (``torch.jit.trace``) and check the saved file round-trips.

The traced module is :class:`saip.export.features.FeatureModule` at a fixed H x W (ViT position
embeddings are resampled for that grid at trace time); the batch size is free. It loads with
``torch.jit.load(path)`` without saip installed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from saip.export.features import FeatureModule
from saip.export.source import ExportSource
from saip.export.verify import VerifyReport, compare_outputs


@dataclass
class TorchScriptExport:
    """Where the TorchScript file went and the size it was traced at."""

    path: Path
    img_size: tuple[int, int]


def export_torchscript(source: ExportSource, path: str | Path) -> TorchScriptExport:
    """Trace the backbone at ``source.img_size`` (``check_trace`` on a second batch) and save to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = FeatureModule(source.backbone).eval()
    example = torch.randn(2, 3, *source.img_size)
    check = torch.randn(3, 3, *source.img_size)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(module, (example,), check_inputs=[(check,)], check_tolerance=1e-4)
    traced.save(str(path))
    return TorchScriptExport(path=path, img_size=tuple(source.img_size))


def verify_torchscript_export(
    source: ExportSource, export: TorchScriptExport, tolerance: float = 1e-4, batches: Sequence[int] = (1, 4)
) -> VerifyReport:
    """Reload the saved file with ``torch.jit.load`` and compare with the backbone at batch 1 and 4."""
    loaded = torch.jit.load(str(export.path), map_location="cpu").eval()
    return compare_outputs(
        FeatureModule(source.backbone),
        loaded,
        export.img_size,
        target="torchscript",
        batches=batches,
        tolerance=tolerance,
    )
