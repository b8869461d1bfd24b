"""Run-folder hygiene: strict-JSON metrics, group-readable files, stale temporaries removed, a final
count of skipped images, TensorBoard not showing resumed steps twice, bad --out caught early."""

from __future__ import annotations

import json
import logging
import math
import os
import stat

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.compat.proto.event_pb2 import SessionLog

from saip.config import ConfigError
from saip.pretrain import Trainer, pretrain
from saip.pretrain.atomic import atomic_write_text, probe_writable, remove_stale_temporaries
from saip.pretrain.metrics_log import MetricsLogger
from tests.pretrain_helpers import tiny_config


def test_metrics_jsonl_writes_nan_and_inf_as_null(tmp_path):
    logger = MetricsLogger(tmp_path)
    logger.log(1, {"loss": float("nan"), "lr": 0.5, "grad_norm": float("inf"), "epoch": 0})
    logger.close()
    line = (tmp_path / "logs" / "metrics.jsonl").read_text().strip()
    assert json.loads(line, parse_constant=lambda name: pytest.fail(f"non-JSON constant {name}")) == {
        "step": 1,
        "loss": None,
        "lr": 0.5,
        "grad_norm": None,
        "epoch": 0,
    }


def test_atomic_files_follow_the_umask_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "x.txt", "hi")
    finally:
        os.umask(old)
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode & stat.S_IRGRP and mode & stat.S_IROTH, oct(mode)


def test_stale_temporaries_are_removed_but_nothing_else(tmp_path):
    stale = tmp_path / ".last.pt.abc123.tmp"
    stale.write_bytes(b"half")
    keep = [tmp_path / "last.pt", tmp_path / "notes.tmp", tmp_path / ".write-test.x.tmp"]
    for path in keep:
        path.write_bytes(b"x")
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert not stale.exists() and all(p.exists() for p in keep)


def test_probe_writable_leaves_no_folder_and_rejects_a_path_under_a_file(tmp_path):
    probe_writable(tmp_path / "a" / "b")
    assert not (tmp_path / "a").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError):
        probe_writable(tmp_path / "file" / "run")
    with pytest.raises(ConfigError, match="out"):
        Trainer(tiny_config(tmp_path, f"out={tmp_path / 'file' / 'run'}"), progress=False)


def test_end_of_run_counts_images_skipped_in_worker_processes(tmp_path, caplog):
    cfg = tiny_config(tmp_path, "train.max_steps=2", "data.num_workers=2")
    (tmp_path / "images" / "zz_broken.png").write_bytes(b"\x89PNG broken")
    with caplog.at_level(logging.WARNING, logger="saip.pretrain.loop"):
        run = pretrain(cfg, progress=False)
    listed = (run / "logs" / "skipped.txt").read_text()
    assert "zz_broken.png" in listed
    summary = [r.getMessage() for r in caplog.records if "unreadable image(s)" in r.getMessage()]
    assert (
        summary and summary[0].startswith("skipped 1 unreadable image(s)") and "zz_broken.png" in summary[0]
    )


def test_tensorboard_shows_each_step_once_after_resume(tmp_path):
    cfg = tiny_config(tmp_path, "train.max_steps=4", "train.checkpoint_every=2")
    trainer = Trainer(cfg, progress=False)
    real_save = trainer.save
    trainer.save = lambda: real_save() if trainer.step == 2 else None  # as if killed after logging step 3
    trainer.train(stop_after=3)  # logged step 3 is past the step-2 checkpoint: it is redone on resume
    Trainer(cfg, resume=True, progress=False).train()
    events = EventAccumulator(str(tmp_path / "run" / "logs"))
    events.Reload()
    steps = [e.step for e in events.Scalars("loss")]
    assert steps == [1, 2, 3, 4]
    assert all(math.isfinite(e.value) for e in events.Scalars("loss"))
    # The resumed writer tells TensorBoard to drop what the first one logged past the checkpoint
    # (a session START at step 3), rather than relying on its heuristics for out-of-order steps.
    files = sorted((tmp_path / "run" / "logs").glob("events.out.tfevents.*"))
    assert len(files) == 2
    starts = [
        event.step
        for event in EventFileLoader(str(files[-1])).Load()
        if event.HasField("session_log") and event.session_log.status == SessionLog.START
    ]
    assert starts == [3]
