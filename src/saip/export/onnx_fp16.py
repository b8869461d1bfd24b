"""Half-precision (fp16) version of an exported ONNX backbone, checked with ONNX Runtime against torch fp32.

The fp32 graph is converted with ``onnxconverter_common.float16.convert_float_to_float16`` (Microsoft's
maintained converter, the one ONNX Runtime's own transformer tools vendor): every float32 initializer
and activation becomes float16, half the file size. Rather than a torch export of a ``.half()`` model,
converting the verified fp32 graph keeps one export path (dynamo with dynamic batch/H/W, or the legacy
fallback) and lets chosen ops stay fp32 through the converter's op block list: its default list keeps
``Resize`` (the in-graph bicubic resampling of the ViT position embeddings for other input sizes),
``TopK``, ``Range``, ``CumSum``, ``Min``/``Max`` and the classic-ML ops in fp32, with casts around them.
ONNX Runtime's CPU provider loads and runs every op of ViT-Tiny, StarNet-S3 and TinyViT-5M in the fp16
graph (it computes ops that have no fp16 CPU kernel in fp32 behind casts it inserts itself), so no
op needs adding to the block list; the fp16 speed-up itself is for GPU/NPU runtimes (CUDA, TensorRT,
CoreML, NNAPI, DirectML). Inputs and outputs stay float32 (``keep_io_types``): the graph is called
exactly as the fp32 one.

The check runs the fp16 graph on the same random inputs as the fp32 check, at the export size and
(for a graph with dynamic H and W) at a second size, and compares it with the **fp32 torch** backbone
by the max difference relative to each output's range: fp16 keeps 11 significant bits (unit roundoff
4.9e-4), and the round-off of a dozen blocks gives about 1-2e-3 on these backbones; the tolerance is 1e-2.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

from saip.errors import MissingDependencyError
from saip.export.onnx_export import OnnxExport, verify_onnx_export
from saip.export.source import ExportSource
from saip.export.verify import VerifyReport

FP16_REL_TOLERANCE = 1e-2  # max |fp16 - fp32| / max |fp32| per output


def convert_fp16(fp32_path: str | Path, fp16_path: str | Path) -> Path:
    """Write the fp16 version of the ONNX graph ``fp32_path`` to ``fp16_path`` (float32 inputs and
    outputs; the converter's default op block list stays fp32)."""
    import onnx

    try:
        from onnxconverter_common.float16 import convert_float_to_float16
    except ImportError as error:
        raise MissingDependencyError(
            "--fp16 needs the PyPI package 'onnxconverter-common' (pip install 'saip[export]')"
        ) from error
    fp16_path = Path(fp16_path)
    with warnings.catch_warnings():  # one per tiny weight clipped to +-1e-7 (fp16 keeps it)
        warnings.simplefilter("ignore", UserWarning)
        model = convert_float_to_float16(onnx.load(str(fp32_path)), keep_io_types=True)
    onnx.save(model, str(fp16_path))
    onnx.checker.check_model(str(fp16_path))
    return fp16_path


def verify_fp16(source: ExportSource, export: OnnxExport, fp16_path: str | Path) -> VerifyReport:
    """ONNX Runtime (CPU) on the fp16 graph vs the fp32 torch backbone at batch 1 and 4, at the export
    size and, when ``export`` has dynamic H and W, at 1.5x it; max relative difference per output."""
    return verify_onnx_export(
        source,
        replace(export, path=Path(fp16_path)),
        tolerance=FP16_REL_TOLERANCE,
        relative=True,
        target="onnxruntime[fp16 vs torch fp32]",
    )
