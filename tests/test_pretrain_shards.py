"""Pretraining from tar shards (``data.shards``): the same run as from the folder they were packed
from (same images, same order, same losses), and an interrupted shard run resumes exactly."""

from __future__ import annotations

import json

import pytest

from saip.pretrain import Trainer, pretrain
from saip.sources.shards import write_shards
from tests.pretrain_helpers import tiny_config


def _losses(run):
    return [json.loads(line)["loss"] for line in (run / "logs" / "metrics.jsonl").read_text().splitlines()]


def test_shards_train_like_their_folder_and_resume_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv("SAIP_CACHE", str(tmp_path / "cache"))
    folder_cfg = tiny_config(tmp_path / "folder", "train.max_steps=6", "train.checkpoint_every=2")
    write_shards(folder_cfg.data.root, tmp_path / "shards", max_images_per_shard=5)  # 16 images: 5+5+5+1
    folder_run = _losses(pretrain(folder_cfg, progress=False))

    def shard_cfg(name):
        cfg = tiny_config(tmp_path / name, "train.max_steps=6", "train.checkpoint_every=2")
        cfg.data.root, cfg.data.shards = None, str(tmp_path / "shards")
        return cfg

    assert _losses(pretrain(shard_cfg("shards_full"), progress=False)) == pytest.approx(folder_run, rel=1e-6)
    interrupted = shard_cfg("shards_resumed")
    Trainer(interrupted, progress=False).train(stop_after=3)
    resumed = pretrain(interrupted, resume=True, progress=False)
    assert _losses(resumed) == pytest.approx(folder_run, rel=1e-5, abs=1e-6)
