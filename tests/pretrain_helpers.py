"""Tiny configs and image folders for fast pretraining tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from saip.backbones import create_backbone
from saip.config import RunConfig, load_config
from saip.pretrain.checkpoint import save_backbone

TINY_OVERRIDES = [
    "model.img_size=[64,32]",
    "data.num_workers=0",
    'data.views={"global_size": [64, 32], "local_size": [32, 16], "n_local": 2, "n_scaled": 1, '
    '"canvas_size": [64, 64], "scale_set": [0.75, 1.25]}',
    "objectives.csm_out_dim=128",
    "objectives.csm_hidden_dim=64",
    "objectives.csm_bottleneck_dim=32",
    "objectives.csr_depth=1",
    "objectives.csr_dim=32",
    "objectives.csr_heads=2",
    "objectives.css_hidden_dim=32",
    "objectives.css_heads=2",
    "train.batch_size=4",
    "train.log_every=1",
    "train.checkpoint_every=2",
    "probe.enabled=false",
]


def write_images(folder: Path, count: int = 16, size: tuple[int, int] = (64, 32), seed: int = 0) -> Path:
    """Random-noise person-shaped images (enough to exercise every code path)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(folder / f"img{i:03d}.png")
    return folder


def tiny_config(tmp_path: Path, *extra: str) -> RunConfig:
    images = tmp_path / "images"
    if not images.exists():
        write_images(images)
    return load_config(None, [*TINY_OVERRIDES, f"data.root={images}", f"out={tmp_path / 'run'}", *extra])


def write_run(
    folder: Path,
    alias: str = "vit_tiny",
    img_size: tuple[int, int] = (64, 32),
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406),
    std: tuple[float, float, float] = (0.229, 0.224, 0.225),
) -> Path:
    """A run folder (backbone.json + backbone.safetensors) of a seeded random-init backbone."""
    torch.manual_seed(0)
    save_backbone(folder, create_backbone(alias, img_size=img_size), alias, list(mean), list(std))
    return folder


def finish_ddp_worker() -> None:
    """End a DDP test worker's process group after the caller dropped its ``DistributedDataParallel``.

    Freeing the DDP reducer *after* ``destroy_process_group`` (e.g. when the worker function returns)
    runs the gloo process group's destructor from the reducer's, with the GIL held, while a gloo thread
    may still need the GIL to free a finished all-reduce's tensors: a deadlock seen in CI. So the
    reducer is collected first, a barrier lets every pending collective finish, then the group goes.
    """
    import gc

    import torch.distributed as dist

    gc.collect()
    dist.barrier()
    dist.destroy_process_group()
