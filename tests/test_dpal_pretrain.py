"""``method=dpal`` and ``method=saip_star`` through the real training loop (config -> run folder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import saip  # noqa: F401
from saip.pretrain import pretrain
from tests.pretrain_helpers import tiny_config


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize(
    ("method", "expected"),
    [("dpal", {"dpal/global", "dpal/local", "dpal/relation", "dpal/routing"}), ("saip_star", {"loss/csm"})],
)
def test_frozen_teacher_methods_train_end_to_end(tmp_path: Path, method: str, expected: set[str]) -> None:
    cfg = tiny_config(
        tmp_path, f"method={method}", "expert.teacher=efficientnet_lite0_imagenet", "train.max_steps=2"
    )
    run = pretrain(cfg, progress=False, probe=False)
    rows = [json.loads(line) for line in (run / "logs" / "metrics.jsonl").read_text().splitlines()]
    assert rows and expected <= set(rows[-1])
    assert all(torch.isfinite(torch.tensor(row["loss"])) for row in rows)
    assert (run / "backbone.safetensors").is_file()
