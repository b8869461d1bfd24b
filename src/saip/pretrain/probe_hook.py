"""The built-in probe of ``saip pretrain``: the trained backbone vs the same architecture at random init.

Run at the end of every run (``probe.enabled``) and, with ``probe.every=N``, every N optimizer steps
during training (its numbers are then logged as ``probe/*`` scalars). Each probe also re-scores a
seeded random init, so a mid-run probe costs about twice a feature extraction of the probe set. Under
DDP every rank runs the mid-run probe on its share of the probe batches (:mod:`saip.pretrain.probe_shards`
says why), so no rank waits in a collective for the whole probe.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from torch import nn

from saip.config.schema import RunConfig
from saip.pretrain.atomic import atomic_write_text

log = logging.getLogger(__name__)


def probe_student(cfg: RunConfig, student: nn.Module, mean, std, device: torch.device) -> dict:
    """Probe an in-memory backbone (no files written); returns ``saip.evaluate.probe.run_probe``'s dict.

    Under ``torch.distributed`` every rank must call it at the same step: the probe batches are split
    over the ranks and gathered, and every rank returns the same result (equal to one process's).
    """
    from saip.evaluate.backbone_loader import BackboneInfo
    from saip.evaluate.probe import run_probe
    from saip.evaluate.runtime import EvalRuntime
    from saip.pretrain.probe_shards import broadcast_buffers, sharded_extract_features

    info = BackboneInfo(
        timm_name=student.timm_name,
        alias=cfg.model.backbone,
        img_size=tuple(student.img_size),
        mean=tuple(mean),
        std=tuple(std),
        embed_dim=int(student.embed_dim),
        source=cfg.out,
    )
    broadcast_buffers(student)  # BatchNorm statistics: rank 0's, as a single process would have
    return run_probe(
        student,
        info,
        data_root=cfg.probe.data,
        seed=cfg.train.seed,
        device=str(device),
        extract=sharded_extract_features,
        runtime=EvalRuntime(progress=False),  # no bar inside the training's own bar
    )


def probe_run(cfg: RunConfig, run_dir: Path, device: torch.device) -> dict:
    """Probe the run's saved backbone, print the side-by-side table, write ``RUN/probe.json``."""
    from saip.evaluate.backbone_loader import load_backbone
    from saip.evaluate.probe import format_probe_table, probe_verdict, run_probe

    backbone, info = load_backbone(str(run_dir))
    result = run_probe(backbone, info, data_root=cfg.probe.data, seed=cfg.train.seed, device=str(device))
    atomic_write_text(run_dir / "probe.json", json.dumps(result, indent=2) + "\n")
    print(format_probe_table(result))
    verdict = probe_verdict(result)
    if verdict:
        log.warning(verdict)
    return result
