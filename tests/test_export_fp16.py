"""``saip export --format onnx --fp16``: a half-size fp16 graph that ONNX Runtime (CPU) runs, close to
the fp32 torch model at two input sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import saip  # noqa: F401  (CPU import shim before timm)
from saip.export import load_export_source, onnx_session
from saip.export.features import FeatureModule
from saip.export.onnx_fp16 import FP16_REL_TOLERANCE

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxconverter_common")


def test_fp16_export_is_half_size_and_close_to_torch_fp32_at_two_sizes(tmp_path: Path) -> None:
    import onnx

    from saip.export.run import export_backbone

    torch.manual_seed(0)
    result = export_backbone("random:vit_tiny", "onnx", tmp_path, img_size="64x32", fp16=True)
    fp32, fp16 = result.files
    assert fp16.name.endswith(".fp16.onnx") and fp16.stat().st_size < 0.6 * fp32.stat().st_size
    report = result.reports[-1]
    assert report.target == "onnxruntime[fp16 vs torch fp32]" and report.metric == "max rel diff"
    assert {key.split("@", 1)[1] for key in report.diffs} == {
        f"b{b}@{s}" for b in (1, 4) for s in ("64x32", "96x48")
    }
    assert result.ok, [r.summary() for r in result.reports]
    assert 0 < report.max_abs_diff <= FP16_REL_TOLERANCE  # really fp16: not bit-identical to fp32

    model = onnx.load(str(fp16))
    weights = {
        onnx.TensorProto.DataType.Name(t.data_type) for t in model.graph.initializer if len(t.dims) > 1
    }
    assert weights == {"FLOAT16"}  # every weight matrix / conv kernel is half precision
    session = onnx_session(fp16)
    assert [i.type for i in session.get_inputs()] == ["tensor(float)"]  # called exactly as the fp32 graph
    source = load_export_source("random:vit_tiny", img_size="64x32")  # same seeded weights as exported
    images = torch.randn(2, 3, 128, 64)  # a third size, 2x the export size
    token, grid = session.run(None, {"images": images.numpy()})
    with torch.no_grad():
        ref_token, ref_grid = FeatureModule(source.backbone).eval()(images)
    assert grid.shape == (2, 192, 8, 4)
    for got, ref in ((token, ref_token), (grid, ref_grid)):
        assert np.abs(got - ref.numpy()).max() <= FP16_REL_TOLERANCE * float(ref.abs().max())


def test_fp16_needs_onnx_format(tmp_path: Path) -> None:
    from saip.export.run import export_backbone

    with pytest.raises(ValueError, match="--fp16 needs --format onnx"):
        export_backbone("random:vit_tiny", "torchscript", tmp_path, img_size="64x32", fp16=True)
