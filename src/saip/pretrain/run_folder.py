"""The run folder of ``saip pretrain``: what is in it, and the policy for starting, resuming, overwriting.

Layout (README "run folder"): ``config.yaml``, ``checkpoints/last.pt`` (+ ``step_XXXXXXXX.pt`` with
``train.keep_checkpoints > 1``), ``backbone.safetensors``/``.json``, ``logs/`` (metrics, TensorBoard,
skipped images), ``probe.json``.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from saip.config.load import ConfigError
from saip.pretrain.atomic import probe_writable, remove_stale_temporaries

log = logging.getLogger(__name__)

# What a run writes; --overwrite removes exactly these (never other files a user keeps there).
RUN_OUTPUTS = ("config.yaml", "checkpoints", "logs", "backbone.safetensors", "backbone.json", "probe.json")


class RunFolder:
    """Paths of one run and the checks made before anything is built."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self.last = self.checkpoints / "last.pt"
        self.skip_log = self.path / "logs" / "skipped.txt"

    def prepare(self, resume: bool, overwrite: bool, is_main: bool = True) -> None:
        """Fail early on an unwritable ``--out``; clear stale temporaries; enforce resume/overwrite.

        ``resume``: a checkpoint must exist. Otherwise an existing run needs ``overwrite``, which
        removes that run's outputs (:data:`RUN_OUTPUTS`) so nothing old is appended to.
        """
        try:  # before anything is built: a read-only or full disk fails now, not at the first save
            probe_writable(self.path)
        except OSError as error:
            raise ConfigError(
                f"out (--out): cannot write to {self.path}: {error.strerror or error}"
            ) from error
        if is_main:
            for folder in (self.path, self.checkpoints):
                remove_stale_temporaries(folder)  # left by checkpoint writes that kill -9 interrupted
        if resume:
            if not self.last.is_file():
                raise ConfigError(f"--resume: no checkpoint at {self.last}")
        elif self.last.exists() or (self.path / "config.yaml").exists():
            if not overwrite:
                raise ConfigError(
                    f"out: {self.path} already holds a run; pass --resume to continue it or "
                    "--overwrite to start again"
                )
            if is_main:
                self.clear()

    def clear(self) -> None:
        """Remove the outputs of an earlier run (``--overwrite``)."""
        for name in RUN_OUTPUTS:
            target = self.path / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()

    def keep_step_copy(self, step: int, keep: int) -> None:
        """Keep ``last.pt`` as ``step_XXXXXXXX.pt`` too (a hard link: no extra disk until last.pt is
        replaced) and delete the oldest step copies beyond ``keep``."""
        if keep <= 1:
            return
        copy = self.checkpoints / f"step_{step:08d}.pt"
        copy.unlink(missing_ok=True)
        try:
            os.link(self.last, copy)
        except OSError:  # a file system without hard links
            shutil.copy2(self.last, copy)
        for old in sorted(self.checkpoints.glob("step_*.pt"))[:-keep]:
            old.unlink()
