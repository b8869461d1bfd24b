"""Numerical checks that an exported model computes what the saip backbone computes.

Every exporter verifies on random normal inputs (inputs are normalised images, so N(0, 1) is the
right range) and reports the max absolute difference per output; callers compare against a
tolerance (1e-5 for timm in fp32, 1e-4 for ONNX Runtime / TorchScript kernels). A half-precision
export is compared by the max difference relative to the output's range instead (its error scales
with the values: fp16 keeps 11 significant bits).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from saip.export.features import OUTPUT_NAMES, FeatureModule


@dataclass
class VerifyReport:
    """Max absolute difference per output and batch size between a reference and an exported model."""

    target: str
    diffs: dict[str, float] = field(default_factory=dict)  # "<output>@b<batch>" -> max |a - b|
    tolerance: float = 1e-4
    metric: str = "max abs diff"  # or "max rel diff": max |a - b| / max |a|

    @property
    def max_abs_diff(self) -> float:
        return max(self.diffs.values(), default=0.0)

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.tolerance

    def summary(self) -> str:
        parts = ", ".join(f"{k} {v:.2e}" for k, v in self.diffs.items())
        verdict = "OK" if self.ok else f"FAILED (tolerance {self.tolerance:.0e})"
        return f"{self.target}: {self.metric} {self.max_abs_diff:.2e} [{parts}] {verdict}"


def max_abs_diff(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    """``max |a - b|`` as a float; raises when the shapes differ (an export that changed the layout)."""
    a_t, b_t = torch.as_tensor(np.asarray(a)), torch.as_tensor(np.asarray(b))
    if a_t.shape != b_t.shape:
        raise ValueError(f"output shapes differ: {tuple(a_t.shape)} vs {tuple(b_t.shape)}")
    return float((a_t.double() - b_t.double()).abs().max()) if a_t.numel() else 0.0


def random_inputs(batch: int, img_size: tuple[int, int], seed: int = 0) -> torch.Tensor:
    """Deterministic N(0, 1) inputs ``(batch, 3, H, W)`` (normalised-image range)."""
    generator = torch.Generator().manual_seed(seed + batch)
    return torch.randn(batch, 3, *img_size, generator=generator)


def compare_outputs(
    reference: FeatureModule,
    candidate: Callable[[torch.Tensor], Sequence[torch.Tensor | np.ndarray]],
    img_size: tuple[int, int],
    target: str,
    batches: Sequence[int] = (1, 4),
    tolerance: float = 1e-4,
    relative: bool = False,
) -> VerifyReport:
    """Run ``reference`` and ``candidate`` on the same inputs; collect max abs diffs per output and batch
    (``relative``: divided by the reference output's max absolute value)."""
    metric = "max rel diff" if relative else "max abs diff"
    report = VerifyReport(target=target, tolerance=tolerance, metric=metric)
    reference.eval()
    for batch in batches:
        images = random_inputs(batch, img_size)
        with torch.no_grad():
            expected = reference(images)
            got = candidate(images)
        if len(got) != len(expected):
            raise ValueError(f"{target}: {len(got)} outputs, expected {len(expected)} {OUTPUT_NAMES}")
        for name, e, g in zip(OUTPUT_NAMES, expected, got, strict=True):
            diff = max_abs_diff(e, g)
            if relative:
                diff /= max(float(torch.as_tensor(np.asarray(e)).abs().max()), 1e-12)
            report.diffs[f"{name}@b{batch}"] = diff
    return report
