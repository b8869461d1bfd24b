"""saip: Scale-Aware Image Pretraining (and DPAL) for lightweight human-centric backbones."""

from saip import _torchvision_compat  # noqa: F401  (must run before any torchvision/timm import)

__version__ = "0.1.0"
