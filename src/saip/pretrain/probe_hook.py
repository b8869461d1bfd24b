"""The built-in probe run at the end of ``saip pretrain`` (trained backbone vs the same at random init)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from saip.config.schema import RunConfig
from saip.pretrain.atomic import atomic_write_text

log = logging.getLogger(__name__)


def probe_run(cfg: RunConfig, run_dir: Path, device: torch.device) -> dict:
    """Probe the run's backbone, print the side-by-side table, write ``RUN/probe.json``."""
    from saip.evaluate.backbone_loader import load_backbone
    from saip.evaluate.probe import format_probe_table, probe_verdict, run_probe

    backbone, info = load_backbone(str(run_dir))
    result = run_probe(backbone, info, data_root=cfg.probe.data, seed=cfg.train.seed, device=str(device))
    atomic_write_text(run_dir / "probe.json", json.dumps(result, indent=2) + "\n")
    print(format_probe_table(result))
    verdict = probe_verdict(result)
    if verdict:
        log.warning(verdict)
        print(verdict)
    return result
