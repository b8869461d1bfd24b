"""Dynamic int8 quantisation of an exported ONNX backbone (ONNX Runtime), checked against fp32.

``onnxruntime.quantization.quantize_dynamic``: weights int8 per output channel, activations
quantised on the fly; after ONNX Runtime's pre-processing pass (shape inference, graph clean-up).
The check compares the int8 graph's image token with the fp32 graph's on the same inputs by
cosine similarity (int8 features are close in direction, not to 1e-4 in value); the retrieval cost
of int8 is measured by ``benchmarks/edge.py``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from saip.export.onnx_export import onnx_session
from saip.export.verify import VerifyReport, random_inputs

log = logging.getLogger(__name__)
INT8_MIN_COSINE = 0.98  # mean cosine similarity of int8 vs fp32 image tokens required to pass


def quantize_int8(fp32_path: str | Path, int8_path: str | Path) -> Path:
    """Write the dynamic int8 version of ``fp32_path`` to ``int8_path``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32_path, int8_path = Path(fp32_path), Path(int8_path)
    prepped = int8_path.with_suffix(".prep.onnx")
    try:
        quant_pre_process(str(fp32_path), str(prepped), skip_symbolic_shape=True)
        source = prepped
    except Exception as error:  # noqa: BLE001 - pre-processing is an optimisation, not required
        log.info("quant_pre_process skipped: %s", error)
        source = fp32_path
    quantize_dynamic(str(source), str(int8_path), weight_type=QuantType.QInt8, per_channel=True)
    prepped.unlink(missing_ok=True)
    return int8_path


def verify_int8(
    fp32_path: str | Path, int8_path: str | Path, img_size: tuple[int, int], batch: int = 4
) -> VerifyReport:
    """``1 - mean cos(image token int8, image token fp32)`` on random inputs, tolerance 1 - 0.98."""
    images = random_inputs(batch, img_size).numpy()
    tokens = []
    for path in (fp32_path, int8_path):
        session = onnx_session(path)
        tokens.append(session.run(None, {session.get_inputs()[0].name: images})[0])
    a, b = tokens
    cosine = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
    report = VerifyReport(target="onnxruntime[int8 vs fp32]", tolerance=1.0 - INT8_MIN_COSINE)
    report.diffs[f"1-cos(image_token)@b{batch}"] = float(1.0 - cosine.mean())
    return report
