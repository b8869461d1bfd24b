"""Training checkpoints (full state, resumable) and the backbone-only export of a run.

Checkpoint content: method state (student, expert, decoders, CSM centre), optimizer, grad scaler,
global step, epoch and position in the epoch, RNG states, and the resolved config. Files are
written atomically and read back with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from saip.errors import InputError
from saip.pretrain.atomic import atomic_write, atomic_write_text
from saip.weights import load_untrusted

_REQUIRED_KEYS = ("method", "optimizer", "step", "config")


def rng_state() -> dict[str, Any]:
    """RNG states of torch (CPU and CUDA), numpy and python, as tensors/plain types."""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": _numpy_state(),
        "python": _python_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _numpy_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "name": name,
        "keys": torch.from_numpy(keys.astype(np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached": float(cached),
    }


def _python_state() -> list[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state(
        (
            np_state["name"],
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached"],
        )
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, payload: dict[str, Any]) -> Path:
    """Atomically write a checkpoint dict (tensors and plain python values only)."""
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` without unpickling code."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    state = load_untrusted(path, "checkpoint")
    missing = [k for k in _REQUIRED_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise InputError(f"checkpoint {path}: not a saip training checkpoint (no {', '.join(missing)})")
    return state


def save_backbone(
    run_dir: Path, backbone: torch.nn.Module, alias: str, mean: list[float], std: list[float]
) -> Path:
    """Write ``backbone.safetensors`` (exactly timm's keys) and ``backbone.json`` into ``run_dir``."""
    state = {k: v.detach().cpu().contiguous() for k, v in backbone.model.state_dict().items()}
    path = atomic_write(run_dir / "backbone.safetensors", lambda tmp: save_file(state, str(tmp)))
    info = {
        "timm_name": backbone.timm_name,
        "alias": alias,
        "img_size": list(backbone.img_size),
        "embed_dim": int(backbone.embed_dim),
        "stride": int(backbone.stride),
        "mean": list(mean),
        "std": list(std),
    }
    atomic_write_text(run_dir / "backbone.json", json.dumps(info, indent=2) + "\n")
    return path
