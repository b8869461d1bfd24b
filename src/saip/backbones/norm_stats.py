"""BatchNorm running statistics that a forward must not change (CSR's masked input, method.md §1 CSR).

A CNN student sees the CSR view with 75 % of its patches zeroed. In train mode its BatchNorm layers
would fold those masked images into the running mean/variance that every downstream use of the
backbone (eval mode) normalises with. Inside :func:`batchnorm_statistics_frozen` the layers still
normalise with the batch's own statistics (as in training) but leave the running ones untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


@contextmanager
def batchnorm_statistics_frozen(module: nn.Module) -> Iterator[None]:
    """Within the block, BatchNorm layers of ``module`` use batch statistics and update no running ones."""
    layers = [m for m in module.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    for layer in layers:
        layer.track_running_stats = False
    try:
        yield
    finally:
        for layer in layers:
            layer.track_running_stats = True


def has_batchnorm(module: nn.Module) -> bool:
    """Whether ``module`` holds any BatchNorm layer (they need SyncBatchNorm under multi-GPU DDP)."""
    return any(isinstance(m, _BatchNorm) for m in module.modules())
