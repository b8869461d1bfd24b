"""Reading weights from untrusted files: safetensors, or torch files with ``weights_only=True``.

Checkpoints from elsewhere are never unpickled: a ``.safetensors`` file is read with
safetensors, anything else with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from saip.errors import InputError

log = logging.getLogger(__name__)

# Keys under which training scripts (saip, MAE/DINO, SAIP/DPAL reference code, timm) nest the model.
_NESTING_KEYS = (
    "model",
    "state_dict",
    "student",
    "teacher",
    "backbone",
    "module",
    "method",  # saip training checkpoints: RUN/checkpoints/*.pt
)
# Prefixes that wrappers add in front of the backbone's own keys.
_PREFIXES = ("module.", "backbone.", "student.", "encoder.", "model.", "image_encoder.")


_CODE_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
# The boilerplate torch wraps around the actual reason of a weights_only refusal.
_BOILERPLATE = ("Weights only load failed", "Please file an issue", "Check the documentation")


def load_untrusted(path: str | Path, what: str = "file") -> Any:
    """``torch.load(path, weights_only=True)``: tensors and plain containers only, never code.

    Raises :class:`InputError` naming the file in one line: a pickle that asks to call a function
    (the classic malicious ``__reduce__``) is refused and named as such; a truncated or foreign file
    says so.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - report the file whatever went wrong
        text = str(error)
        code = _CODE_GLOBAL.search(text)
        if code is not None:
            reason = f"it asks to run code ({code.group(1)}); only plain tensors are ever loaded"
        else:
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            detail = next((line for line in lines if not line.startswith(_BOILERPLATE)), type(error).__name__)
            reason = f"not a readable torch file ({detail[:160]})"
        raise InputError(f"{what} {path}: refused: {reason}") from error


def read_state_dict(path: str | Path, nesting_key: str | None = None) -> dict[str, torch.Tensor]:
    """Read a flat ``{name: tensor}`` dict from ``path`` without unpickling arbitrary objects.

    ``nesting_key`` picks a sub-dict (e.g. ``"teacher"``); by default the first of
    ``model, state_dict, student, teacher, backbone, module`` that is present is used.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    obj = load_untrusted(path, "weights")
    if not isinstance(obj, Mapping):
        raise InputError(f"{path}: expected a dict of tensors, got {type(obj).__name__}")
    if nesting_key is not None:
        if nesting_key not in obj:
            raise InputError(f"{path}: no {nesting_key!r} entry (has: {sorted(obj)[:10]})")
        obj = obj[nesting_key]
    else:
        for key in _NESTING_KEYS:
            if key in obj and isinstance(obj[key], Mapping):
                obj = obj[key]
                break
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def strip_prefixes(state: Mapping[str, torch.Tensor], target_keys: set[str]) -> dict[str, torch.Tensor]:
    """Remove wrapper prefixes (``module.``, ``backbone.``, ...) until keys match ``target_keys``."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name = key
        while name not in target_keys:
            for prefix in _PREFIXES:
                if name.startswith(prefix):
                    name = name[len(prefix) :]
                    break
            else:
                break
        out[name] = value
    return out


def load_backbone_weights(model: nn.Module, path: str | Path, nesting_key: str | None = None) -> list[str]:
    """Load a backbone's weights into ``model`` (timm keys). Every model key must be found.

    Returns the file's keys that were not used (decoder heads, classifier, ...). Raises with
    the missing keys named when the file does not cover the model, and on shape mismatches.
    """
    target = model.state_dict()
    state = strip_prefixes(read_state_dict(path, nesting_key), set(target))
    missing = [k for k in target if k not in state]
    if missing:
        raise InputError(f"{path}: {len(missing)} backbone weights missing, e.g. {missing[:5]}")
    bad = [k for k in target if state[k].shape != target[k].shape]
    if bad:
        k = bad[0]
        raise InputError(
            f"{path}: shape mismatch for {k}: file {tuple(state[k].shape)} "
            f"vs model {tuple(target[k].shape)} ({len(bad)} mismatches)"
        )
    model.load_state_dict({k: state[k] for k in target}, strict=True)
    unused = sorted(set(state) - set(target))
    if unused:
        log.info("%s: %d keys not used by the backbone (e.g. %s)", path, len(unused), unused[:3])
    return unused
