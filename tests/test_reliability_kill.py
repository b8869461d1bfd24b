"""kill -9 at any moment, including in the middle of a checkpoint write, never loses the run.

Each case trains a tiny run in a child process, kills it with SIGKILL (after a chosen number of
logged steps, or while ``last.pt`` is being written), resumes it in another child, and checks that
the logged losses and final weights equal those of an uninterrupted run, and that no temporary
file is left behind. Marked slow (several child processes); CI runs it in its opt-in suite.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.pretrain_helpers import TINY_OVERRIDES, write_images

pytestmark = pytest.mark.slow
STEPS = 8
CHILD = """
import sys, time
from saip.config import load_config
from saip.pretrain import pretrain
import saip.pretrain.checkpoint as checkpoint
overrides, resume, slow_write = sys.argv[1].split("\\x1f"), sys.argv[2] == "1", sys.argv[3]
if slow_write:  # the 3rd checkpoint write stalls half-written, announcing itself in a file
    real_save, calls = checkpoint.torch.save, []
    def stalled(payload, path):
        calls.append(path)
        real_save(payload, path)
        if len(calls) == 3:
            open(path, "r+b").truncate(1000)
            open(slow_write, "w").write(str(path))
            time.sleep(600)
    checkpoint.torch.save = stalled
pretrain(load_config(None, overrides), resume=resume, progress=False)
"""


def _overrides(tmp_path: Path, run: str) -> list[str]:
    images = tmp_path / "images"
    if not images.exists():
        write_images(images)
    return [
        *TINY_OVERRIDES,
        f"data.root={images}",
        f"out={tmp_path / run}",
        f"train.max_steps={STEPS}",
        "train.checkpoint_every=1",
    ]


def _start(overrides: list[str], resume: bool = False, slow_write: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    args = [
        sys.executable,
        "-c",
        CHILD,
        "\x1f".join(overrides),
        "1" if resume else "0",
        str(slow_write or ""),
    ]
    return subprocess.Popen(args, env=env, cwd=Path(__file__).parents[1], stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen) -> None:
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()[-2000:]


def _losses(run: Path) -> list[tuple[int, float]]:
    lines = (run / "logs" / "metrics.jsonl").read_text().splitlines()
    return [(r["step"], r["loss"]) for r in map(json.loads, lines)]


def _wait_for(condition, timeout: float = 240.0) -> None:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, "the child never reached the kill point"
        time.sleep(0.05)


def _logged_steps(run: Path) -> int:
    path = run / "logs" / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.is_file() else 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, list[tuple[int, float]]]:
    tmp = tmp_path_factory.mktemp("reference")
    _finish(_start(_overrides(tmp, "run")))
    return tmp / "run", _losses(tmp / "run")


def _assert_equals_reference(run: Path, reference) -> None:
    ref_run, ref_losses = reference
    got = _losses(run)
    assert [s for s, _ in got] == list(range(1, STEPS + 1))
    assert [v for _, v in got] == pytest.approx([v for _, v in ref_losses], rel=1e-5, abs=1e-6)
    a, b = load_file(str(ref_run / "backbone.safetensors")), load_file(str(run / "backbone.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert not list(run.rglob(".*.tmp"))


@pytest.mark.parametrize("kill_after", [1, 3, 6])
def test_kill9_during_training_then_resume_equals_uninterrupted(tmp_path, reference, kill_after):
    overrides = _overrides(tmp_path, "run")
    child = _start(overrides)
    checkpoint = tmp_path / "run" / "checkpoints" / "last.pt"  # written just after each logged step
    _wait_for(
        lambda: (
            (_logged_steps(tmp_path / "run") >= kill_after and checkpoint.exists())
            or child.poll() is not None
        )
    )
    assert child.poll() is None, "the run finished before it could be killed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    _finish(_start(overrides, resume=True))
    _assert_equals_reference(tmp_path / "run", reference)


def test_kill9_during_a_checkpoint_write_keeps_the_previous_checkpoint(tmp_path, reference):
    overrides = _overrides(tmp_path, "run")
    announce = tmp_path / "writing"
    child = _start(overrides, slow_write=announce)
    _wait_for(announce.exists)
    child.send_signal(signal.SIGKILL)
    child.wait()
    half_written = Path(announce.read_text())
    assert half_written.name.startswith(".last.pt.") and half_written.exists()  # the kill left it behind
    kept = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert kept["step"] == 2  # the 3rd write never replaced it
    _finish(_start(overrides, resume=True))
    assert not half_written.exists()  # removed when the run resumed
    _assert_equals_reference(tmp_path / "run", reference)
