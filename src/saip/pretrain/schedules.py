"""Per-optimizer-step schedules: learning rate, EMA momentum, teacher temperature.

All are pure functions of the *global optimizer step* (never of an epoch or a micro-step), which
fixes the reference code's EMA indexing defect (method.md "Known defects").
"""

from __future__ import annotations

import math


def cosine_lr(step: int, total_steps: int, peak_lr: float, warmup_steps: int, min_lr: float = 0.0) -> float:
    """Linear warm-up from 0 to ``peak_lr`` over ``warmup_steps``, then half-cosine to ``min_lr``.

    lr(t) = peak * t / W for t < W;  min + (peak - min) * (1 + cos(pi * (t - W) / (T - W))) / 2 after.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return peak_lr * step / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_lr + (peak_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def cosine_momentum(step: int, total_steps: int, start: float = 0.996, end: float = 1.0) -> float:
    """EMA momentum rising from ``start`` to ``end`` on a half cosine over all optimizer steps (DINO eq.).

    m(t) = end - (end - start) * (1 + cos(pi * t / T)) / 2, so m(0) = start and m(T) = end.
    """
    progress = min(1.0, step / max(1, total_steps))
    return end - (end - start) * 0.5 * (1.0 + math.cos(math.pi * progress))


def teacher_temperature(step: int, warmup_steps: int, start: float, end: float) -> float:
    """CSM teacher temperature: linear from ``start`` to ``end`` over ``warmup_steps``, then ``end``."""
    if warmup_steps <= 0 or step >= warmup_steps:
        return end
    return start + (end - start) * step / warmup_steps


def scaled_lr(base_lr: float, global_batch: int) -> float:
    """Linear scaling rule: lr = base_lr * global_batch / 256 (MAE/SAIP recipe)."""
    return base_lr * global_batch / 256
