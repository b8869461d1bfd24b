"""Resume and run folders that respect the user (issue 17 §3): resume-safe overrides applied, others
refused by name, ``--resume auto``, SIGTERM -> checkpoint then stop, last N checkpoints kept,
``--overwrite`` starting clean, and a loud warning for paper recipes on the synthetic data."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal

import pytest
import torch

from saip.config import ConfigError, load_config
from saip.pretrain import Trainer, TrainingInterrupted, pretrain
from tests.pretrain_helpers import tiny_config


def _steps_and_losses(run):
    return [
        (r["step"], r["loss"])
        for r in map(json.loads, (run / "logs" / "metrics.jsonl").read_text().splitlines())
    ]


def test_resume_applies_more_steps_and_a_moved_data_folder(tmp_path):
    cfg = tiny_config(tmp_path, "train.max_steps=3")
    first = _steps_and_losses(pretrain(cfg, progress=False))
    moved = tmp_path / "moved"
    shutil.move(cfg.data.root, moved)
    run = pretrain(cfg, resume=True, progress=False, overrides=["train.max_steps=5", f"data.root={moved}"])
    resumed = Trainer(cfg, resume=True, progress=False, overrides=["train.max_steps=5", f"data.root={moved}"])
    assert resumed.cfg.data.root == str(moved) and resumed.total_steps == 5 and resumed.step == 5
    logged = _steps_and_losses(run)
    assert [s for s, _ in logged] == [1, 2, 3, 4, 5]
    assert logged[:3] == first
    assert "moved" in (run / "config.yaml").read_text()


def test_resume_refuses_an_override_that_changes_the_training_and_names_it(tmp_path):
    cfg = tiny_config(tmp_path, "train.max_steps=2")
    pretrain(cfg, progress=False)
    with pytest.raises(ConfigError, match=r"--resume: objectives.csm_weight cannot change"):
        Trainer(cfg, resume=True, progress=False, overrides=["objectives.csm_weight=0"])
    with pytest.raises(ConfigError, match=r"--resume: train.base_lr cannot change"):
        Trainer(cfg, resume=True, progress=False, overrides=["train.base_lr=1.0"])
    # the same value as saved is no change: a requeued job may repeat its whole command line
    Trainer(cfg, resume=True, progress=False, overrides=["model.backbone=vit_tiny", "train.max_steps=3"])


def test_resume_auto_starts_resumes_and_restarts_a_run_without_checkpoint(tmp_path):
    cfg = tiny_config(tmp_path, "train.max_steps=2", "train.checkpoint_every=1")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("left by a job killed before its first checkpoint\n")
    run = pretrain(cfg, resume="auto", progress=False)  # no checkpoint: starts afresh
    assert [s for s, _ in _steps_and_losses(run)] == [1, 2]
    pretrain(cfg, resume="auto", progress=False, overrides=["train.max_steps=3"])  # checkpoint: resumes
    assert [s for s, _ in _steps_and_losses(run)] == [1, 2, 3]
    with pytest.raises(ConfigError, match="already holds a run"):
        pretrain(cfg, progress=False)


def test_sigterm_checkpoints_after_the_step_and_resume_equals_uninterrupted(tmp_path):
    reference = _steps_and_losses(pretrain(tiny_config(tmp_path / "a", "train.max_steps=5"), progress=False))
    cfg = tiny_config(tmp_path / "b", "train.max_steps=5", "train.checkpoint_every=100")
    trainer = Trainer(cfg, progress=False)
    forward = trainer.method.forward

    def signalled(batch, schedule):
        if schedule.step == 2:  # during the 3rd step
            os.kill(os.getpid(), signal.SIGTERM)
        return forward(batch, schedule)

    trainer.method.forward = signalled
    with pytest.raises(TrainingInterrupted, match="stopped by SIGTERM after step 3"):
        trainer.train()
    assert torch.load(trainer.ckpt_path, weights_only=True)["step"] == 3
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored
    run = pretrain(cfg, resume=True, progress=False)
    resumed = _steps_and_losses(run)
    assert [s for s, _ in resumed] == [s for s, _ in reference] == [1, 2, 3, 4, 5]
    assert [v for _, v in resumed] == pytest.approx([v for _, v in reference], rel=1e-5)


def test_keep_last_n_checkpoints(tmp_path):
    cfg = tiny_config(tmp_path, "train.max_steps=5", "train.checkpoint_every=1", "train.keep_checkpoints=2")
    run = pretrain(cfg, progress=False)
    kept = sorted(p.name for p in (run / "checkpoints").glob("step_*.pt"))
    assert kept == ["step_00000004.pt", "step_00000005.pt"]
    assert torch.load(run / "checkpoints" / "step_00000004.pt", weights_only=True)["step"] == 4
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["step"] == 5


def test_overwrite_starts_clean(tmp_path):
    cfg = tiny_config(tmp_path, "train.max_steps=3")
    run = pretrain(cfg, progress=False)
    (run / "probe.json").write_text("{}")
    (run / "my_notes.txt").write_text("kept")
    cfg.train.max_steps = 2
    pretrain(cfg, overwrite=True, progress=False)
    assert [s for s, _ in _steps_and_losses(run)] == [1, 2]
    assert not (run / "probe.json").exists() and (run / "my_notes.txt").exists()
    assert len(list((run / "logs").glob("events.out.tfevents.*"))) == 1


def test_paper_recipes_warn_loudly_on_synthetic_data(tmp_path, caplog):
    for recipe in ("vit_tiny_paper", "starnet_s3_paper", "tiny_vit_5m_paper"):
        assert load_config(recipe).data.needs_real_data
    cfg = tiny_config(tmp_path, "data.needs_real_data=true", "data.synthetic_identities=4")
    cfg.data.root = None
    with caplog.at_level(logging.WARNING, logger="saip.pretrain.loop"):
        Trainer(cfg, progress=False)
    assert any("EMBEDDED SYNTHETIC persons" in r.getMessage() for r in caplog.records)


def test_cli_resume_auto_starts_then_continues(tmp_path):
    from typer.testing import CliRunner

    import saip.cli
    from tests.pretrain_helpers import TINY_OVERRIDES, write_images

    images = write_images(tmp_path / "images")
    base = [
        "pretrain",
        "--out",
        str(tmp_path / "run"),
        "--data",
        str(images),
        "--resume",
        "auto",
        *TINY_OVERRIDES,
    ]
    first = CliRunner().invoke(saip.cli.app, [*base, "train.max_steps=2", "train.checkpoint_every=1"])
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(saip.cli.app, [*base, "train.max_steps=3", "train.checkpoint_every=1"])
    assert second.exit_code == 0, second.output
    assert [s for s, _ in _steps_and_losses(tmp_path / "run")] == [1, 2, 3]
    refused = CliRunner().invoke(saip.cli.app, [*base, "train.max_steps=4", "train.base_lr=9"])
    assert refused.exit_code == 2 and "train.base_lr cannot change" in refused.output
