"""Export the backbone to ONNX (opset >= 17) with a dynamic batch axis, checked with ONNX Runtime.

The graph is :class:`saip.export.features.FeatureModule`: input ``images`` (normalised float32
``(B, 3, H, W)``), outputs ``image_token`` ``(B, D)`` and ``patch_grid`` ``(B, D, H/16, W/16)``.
The torch.export-based exporter (``dynamo=True``, onnxscript) is tried first, with dynamic batch,
height and width (H and W any multiples of 16: the ViT position embeddings are resampled inside the
graph); if it fails the legacy TorchScript exporter (``dynamo=False``) is used, whose graph has a
dynamic batch only (H, W fixed to the export size, the position embeddings resampled at trace time).
Both work offline on torch 2.13 for ViT-Tiny, StarNet-S3 and TinyViT-5M.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Sequence
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import torch

from saip.export.features import INPUT_NAME, OUTPUT_NAMES, FeatureModule
from saip.export.source import ExportSource
from saip.export.verify import VerifyReport, compare_outputs

log = logging.getLogger(__name__)

MIN_OPSET = 17


@dataclass
class OnnxExport:
    """Where the ONNX file went and which exporter produced it."""

    path: Path
    exporter: str  # "dynamo" or "torchscript"
    opset: int
    img_size: tuple[int, int]
    dynamic_size: bool = False  # H and W are dynamic (multiples of 16), not only the batch


def _export_dynamo(module: FeatureModule, example: torch.Tensor, path: Path, opset: int) -> None:
    batch = torch.export.Dim("batch", min=1, max=4096)
    height = 16 * torch.export.Dim("height_16", min=1, max=256)  # H = 16·k: any multiple of 16
    width = 16 * torch.export.Dim("width_16", min=1, max=256)
    with redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            str(path),
            dynamo=True,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_shapes={"images": {0: batch, 2: height, 3: width}},
            external_data=False,
        )


def _export_legacy(module: FeatureModule, example: torch.Tensor, path: Path, opset: int) -> None:
    axes = {name: {0: "batch"} for name in (INPUT_NAME, *OUTPUT_NAMES)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=axes,
            do_constant_folding=True,
        )


def export_onnx(
    source: ExportSource, path: str | Path, opset: int = 18, exporter: str = "auto"
) -> OnnxExport:
    """Write the backbone to ``path`` as ONNX with a dynamic batch (and, with dynamo, H and W) axis.

    ``exporter``: ``auto`` (dynamo, falling back to the legacy exporter), ``dynamo`` or ``torchscript``.
    """
    if opset < MIN_OPSET:
        raise ValueError(f"--opset {opset}: saip exports need opset >= {MIN_OPSET}")
    if exporter not in ("auto", "dynamo", "torchscript"):
        raise ValueError(f"unknown ONNX exporter {exporter!r} (auto, dynamo, torchscript)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = FeatureModule(source.backbone).eval()
    example = torch.randn(2, 3, *source.img_size)
    used = exporter
    if exporter in ("auto", "dynamo"):
        try:
            _export_dynamo(module, example, path, opset)
            used = "dynamo"
        except Exception as error:  # noqa: BLE001 - any exporter failure falls back when allowed
            if exporter == "dynamo":
                raise RuntimeError(f"dynamo ONNX export of {source.timm_name} failed: {error}") from error
            log.warning("dynamo ONNX export failed (%s); using the legacy TorchScript exporter", error)
            used = "torchscript"
    if used == "torchscript":
        _export_legacy(module, example, path, opset)
    import onnx

    onnx.checker.check_model(str(path))
    return OnnxExport(
        path=path, exporter=used, opset=opset, img_size=tuple(source.img_size), dynamic_size=used == "dynamo"
    )


def onnx_session(path: str | Path):  # noqa: ANN201 - onnxruntime.InferenceSession (optional dependency)
    """A CPU ONNX Runtime session for ``path``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def verify_onnx_export(
    source: ExportSource,
    export: OnnxExport,
    tolerance: float = 1e-4,
    batches: Sequence[int] = (1, 4),
    relative: bool = False,
    target: str | None = None,
) -> VerifyReport:
    """Run the ONNX file with ONNX Runtime (CPU) at batch 1 and 4 and compare with the torch backbone;
    a graph with dynamic H and W is also checked at a second size (1.5 x the export size, rounded to 16).
    ``relative``: differences relative to the torch outputs' range (see :func:`compare_outputs`)."""
    session = onnx_session(export.path)
    input_name = session.get_inputs()[0].name

    def run(images: torch.Tensor) -> list:
        return session.run(list(OUTPUT_NAMES), {input_name: images.numpy()})

    h, w = export.img_size
    sizes = [export.img_size] + (
        [(16 * round(1.5 * h / 16), 16 * round(1.5 * w / 16))] if export.dynamic_size else []
    )
    report = VerifyReport(target=target or f"onnxruntime[{export.exporter}]", tolerance=tolerance)
    for size in sizes:
        part = compare_outputs(
            FeatureModule(source.backbone), run, size, report.target, batches, tolerance, relative
        )
        report.metric = part.metric
        report.diffs.update({f"{key}@{size[0]}x{size[1]}": value for key, value in part.diffs.items()})
    return report
