"""``train.amp`` modes (saip.pretrain.precision): which autocast dtype a step runs under, per device."""

from __future__ import annotations

import pytest
import torch

from saip.config import ConfigError, load_config
from saip.pretrain import precision
from saip.pretrain.precision import autocast_context, autocast_dtype

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.mark.parametrize("native", [True, False])
def test_modes_map_to_dtypes(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: native)
    assert autocast_dtype("auto", CPU) is None  # the CPU default stays fp32 whatever the CPU
    assert autocast_dtype("native", CPU) is (torch.bfloat16 if native else None)
    assert autocast_dtype("bf16", CPU) is torch.bfloat16
    assert autocast_dtype("fp16", CPU) is torch.float16
    assert autocast_dtype("off", CPU) is None
    for amp in ("auto", "native", "bf16"):
        assert autocast_dtype(amp, CUDA) is torch.bfloat16
    assert autocast_dtype("off", CUDA) is None


def test_native_context_runs_matmuls_in_bf16_only_on_a_bf16_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    a = torch.randn(4, 8)
    for native, dtype in ((True, torch.bfloat16), (False, torch.float32)):
        monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda native=native: native)
        with autocast_context("native", CPU):
            assert (a @ a.T).dtype is dtype


def test_config_accepts_native_and_rejects_unknown_modes() -> None:
    assert load_config("cpu_demo", ["train.amp=native"]).train.amp == "native"
    with pytest.raises(ConfigError, match="train.amp"):
        load_config("cpu_demo", ["train.amp=fp8"])
