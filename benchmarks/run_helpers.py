"""Shared by the benchmark runners: run a CLI command into a log, probe a run folder on extra data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from saip.pretrain.loop import resolve_device

ROOT = Path(__file__).resolve().parents[1]
SAIP = [sys.executable, "-m", "saip.cli"]


def call(cmd: list[str], log: Path) -> int:
    """Run ``cmd`` with stdout+stderr into ``log``; the exit code. Runs in the caller's working
    directory, so relative paths mean the same to the runner and to the command."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as handle:
        return subprocess.call(cmd, stdout=handle, stderr=subprocess.STDOUT)


def probe_on(
    backbone: str, data: str, out: Path, seed: int, device: str, pooling: str = "token"
) -> dict | None:
    """``saip eval probe`` of ``backbone`` on a Market-style folder: its probe.json dict, or None."""
    call(
        [
            *SAIP,
            "eval",
            "probe",
            "--backbone",
            backbone,
            "--data",
            data,
            "--out",
            str(out),
            "--seed",
            str(seed),
            "--device",
            str(resolve_device(device)),  # saip eval takes an explicit device, not auto
            "--pooling",
            pooling,
        ],
        out.with_suffix(".log"),
    )
    result = out / "probe" / "probe.json"  # saip eval writes each task's results in OUT/<task>/
    return json.loads(result.read_text()) if result.exists() else None
