"""The prepared GPU run of issue 13 (``benchmarks/gpu_measurements.sh``) in its CPU smoke mode.

A GPU session gets one short try at that script, so it must not fail on an argument, an import or a
file name: here every part runs with tiny sizes on the CPU and must exit 0 and write its results, and
the compiled step (traced with the eager backend) must not recompile after its warm-up.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_measurements.sh"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("timeout") is None, reason="coreutils timeout is not installed")
def test_every_part_of_the_gpu_script_runs_in_smoke_mode(tmp_path: Path) -> None:
    env = {**os.environ, "SMOKE": "1", "PYTHON": sys.executable}
    proc = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path)], env=env, capture_output=True, text=True, timeout=840
    )
    log = (tmp_path / "gpu_measurements.log").read_text()
    assert proc.returncode == 0, log[-3000:]
    exits = dict(re.findall(r"^== (\w+): exit (\d+)", log, flags=re.MULTILINE))
    parts = ["throughput", "data_views", "compile", "cuda_graphs"]
    if importlib.util.find_spec("lightly") is not None:
        parts.append("peer_step")
    else:
        assert "== peer_step: skipped" in log
    assert {part: exits.get(part) for part in parts} == dict.fromkeys(parts, "0"), log[-3000:]

    rows = json.loads((tmp_path / "throughput-cpu.json").read_text())["rows"]
    assert {(r["backbone"], r["preset"]) for r in rows} == {
        (b, p) for b in ("vit_tiny", "starnet_s3", "tiny_vit_5m") for p in ("saip", "csm_only")
    }
    assert all(r["gflop_per_sample"] > 0 and r["end_to_end_images_per_s"] > 0 for r in rows)
    for name in ("throughput-cpu-compile.json", "throughput-cpu-cuda-graphs.json"):
        compiled = json.loads((tmp_path / name).read_text())["rows"]
        assert [r["recompiles_after_warmup"] for r in compiled] == [0], name
    views = json.loads((tmp_path / "data_views-cpu.json").read_text())
    assert views["loader_ms_per_sample"]["device"]["total"] > 0
