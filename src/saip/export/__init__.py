"""Deployable backbones: timm weights, ONNX and TorchScript, each verified against the saip model.

Design.md step 3 (``saip export``): backbone only (no heads, no mask token); outputs
``(image_token, patch_grid)``.
"""

from saip.export.features import FeatureModule
from saip.export.onnx_export import OnnxExport, export_onnx, onnx_session, verify_onnx_export
from saip.export.source import ExportSource, load_export_source, parse_img_size
from saip.export.timm_export import TimmExport, export_timm, load_timm_export, verify_timm_export
from saip.export.torchscript_export import TorchScriptExport, export_torchscript, verify_torchscript_export
from saip.export.verify import VerifyReport, compare_outputs, max_abs_diff

__all__ = [
    "ExportSource",
    "FeatureModule",
    "OnnxExport",
    "TimmExport",
    "TorchScriptExport",
    "VerifyReport",
    "compare_outputs",
    "export_onnx",
    "export_timm",
    "export_torchscript",
    "load_export_source",
    "load_timm_export",
    "max_abs_diff",
    "onnx_session",
    "parse_img_size",
    "verify_onnx_export",
    "verify_timm_export",
    "verify_torchscript_export",
]

from saip._callable_package import make_callable  # noqa: E402

make_callable(__name__, "export")  # saip.export(...) is saip.api.export(...)
