"""Training precision (``train.amp``): which autocast a step runs under on which device.

- ``auto``: bf16 autocast on CUDA, fp32 on CPU (every CPU recipe measured before ``native`` existed).
- ``native``: bf16 wherever the device computes bf16 matmuls natively: CUDA, and CPUs with
  AVX512-BF16 or AMX tiles (the default run's step is 1.65-1.9x faster there than in fp32;
  benchmarks/README.md); fp32 on other CPUs, where bf16 would be emulated
  and slower. The default run (``cpu_demo``) uses it.
- ``bf16`` / ``fp16``: that autocast dtype everywhere (fp16 with a gradient scaler); ``off``: fp32.

Losses and the feature standardisation upcast to fp32 themselves, so only the encoders' and heads'
matmuls run in bf16.
"""

from __future__ import annotations

import contextlib
import functools

import torch


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bf16 dot-product instructions (x86 AVX512-BF16 or AMX tiles); asked once
    per process, not on every training step."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``train.amp`` on ``device``; None = no autocast (fp32)."""
    if amp == "off":
        return None
    if amp == "fp16":
        return torch.float16
    if amp == "bf16" or device.type == "cuda":
        return torch.bfloat16
    if amp == "native" and device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return None


def autocast_context(amp: str, device: torch.device):
    """The autocast context of ``train.amp`` on ``device`` (see the module docstring)."""
    dtype = autocast_dtype(amp, device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
