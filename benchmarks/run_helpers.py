"""Shared by the benchmark runners: run a CLI command into a log, probe a run folder on extra data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAIP = [sys.executable, "-m", "saip.cli"]


def call(cmd: list[str], log: Path) -> int:
    """Run ``cmd`` from the repository root with stdout+stderr into ``log``; the exit code."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as handle:
        return subprocess.call(cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)


def resolve_device(device: str) -> str:
    """``auto`` -> cuda when available, else cpu (``saip eval`` takes explicit devices)."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


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
            resolve_device(device),
            "--pooling",
            pooling,
        ],
        out.with_suffix(".log"),
    )
    result = out / "probe.json"
    return json.loads(result.read_text()) if result.exists() else None
