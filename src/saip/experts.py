"""Expert encoders that give SAIP its targets: an EMA copy of the student (method.md §1 "Parts").

The frozen pretrained expert (SAIP*) lives in :mod:`saip.teachers`.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def make_ema_copy(module: nn.Module) -> nn.Module:
    """A detached copy of ``module`` that never receives gradients, in eval mode (no drop path)."""
    expert = copy.deepcopy(module)
    expert.requires_grad_(False)
    return expert.eval()


@torch.no_grad()
def ema_update(expert: nn.Module, student: nn.Module, momentum: float) -> None:
    """theta_expert <- m * theta_expert + (1 - m) * theta_student for every parameter (and float buffer).

    Called once per optimizer step with the momentum of that global step (cosine 0.996 -> 1).
    Buffers that are not floating point (counters) are copied.
    """
    e_params = [p for p in expert.parameters()]
    s_params = [p.detach() for p in student.parameters()]
    if len(e_params) != len(s_params):
        raise ValueError("expert and student have different parameter lists")
    torch._foreach_mul_(e_params, momentum)
    torch._foreach_add_(e_params, s_params, alpha=1.0 - momentum)
    for e_buf, s_buf in zip(expert.buffers(), student.buffers(), strict=True):
        if e_buf.dtype.is_floating_point:
            e_buf.mul_(momentum).add_(s_buf.detach(), alpha=1.0 - momentum)
        else:
            e_buf.copy_(s_buf)
