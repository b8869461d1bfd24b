"""Make ``import torchvision`` (and therefore ``import timm``) work on CPU-only torch builds.

The torchvision 0.28 wheel on PyPI is built against CUDA; with the CPU build of torch 2.13 its
compiled operator library fails to load, and the Python side then dies at import time with
``RuntimeError: operator torchvision::nms does not exist`` (it registers fake kernels for
operators whose schemas were never defined).

:func:`install` defines the two schemas the Python side expects (``nms`` and ``qnms``) so the
import succeeds. torchvision's compiled kernels (nms, roi_align, image decoding) stay
unavailable on such a machine; saip uses its own pure-torch box ops and Pillow instead. When torchvision's own
compiled ops are loadable (any CUDA machine, or a matching CPU build) it does nothing.
This module must be imported before the first torchvision/timm import; ``saip/__init__.py``
does that.
"""

from __future__ import annotations

import torch

_LIBRARY: torch.library.Library | None = None  # kept alive for the process lifetime


def _schema_exists(name: str) -> bool:
    try:
        torch._C._dispatch_find_schema_or_throw(f"torchvision::{name}", "")
        return True
    except RuntimeError:
        return False


def _torchvision_ops_loadable() -> bool:
    """True when torchvision's compiled extension already registered its operators."""
    if _schema_exists("nms"):
        return True
    import importlib.util

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return True  # no torchvision at all: nothing to fix
    import glob
    import os

    for location in spec.submodule_search_locations:
        for lib_path in glob.glob(os.path.join(location, "_C*.so")):
            try:
                torch.ops.load_library(lib_path)
            except (OSError, RuntimeError):
                continue
            return _schema_exists("nms")
    return False


def install() -> bool:
    """Define missing torchvision operator schemas. Returns True if the shim was installed."""
    global _LIBRARY
    if _LIBRARY is not None or _torchvision_ops_loadable():
        return False
    lib = torch.library.Library("torchvision", "FRAGMENT")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIBRARY = lib
    return True


SHIM_INSTALLED = install()
