"""saip: Scale-Aware Image Pretraining (and DPAL) for lightweight human-centric backbones.

Importing ``saip`` imports no torch (``saip --help`` stays fast). The CPU-torch fix of
:mod:`saip._torchvision_compat` must run before torchvision is first imported (timm imports it):
a one-shot import hook runs it at that moment, whoever triggers the import.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys

__version__ = "0.1.0"
_API_PACKAGES = ("pretrain", "evaluate", "export")  # callable: see saip._callable_package / saip.api


def __getattr__(name: str):  # noqa: ANN202 - the lazily imported API package
    """``saip.pretrain(...)`` etc. without importing torch at ``import saip`` time."""
    if name in _API_PACKAGES:
        return importlib.import_module(f"saip.{name}")
    raise AttributeError(f"module 'saip' has no attribute {name!r}")


class _TorchvisionCompatHook(importlib.abc.MetaPathFinder):
    """Runs :func:`saip._torchvision_compat.install` just before the first ``import torchvision``."""

    def find_spec(self, name, path=None, target=None):  # noqa: ANN001 - importlib's signature
        if name == "torchvision":
            sys.meta_path.remove(self)
            from saip import _torchvision_compat  # noqa: F401  (installs on import)
        return None  # the normal finders import the module itself


if "torchvision" in sys.modules:
    from saip import _torchvision_compat  # noqa: F401  (too late to help, but keeps behaviour)
elif not any(isinstance(hook, _TorchvisionCompatHook) for hook in sys.meta_path):
    sys.meta_path.insert(0, _TorchvisionCompatHook())
