"""ONNX (dynamic batch, height and width, checked with ONNX Runtime) and TorchScript round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import saip  # noqa: F401  (CPU import shim before timm)
from saip.export import (
    export_onnx,
    export_torchscript,
    load_export_source,
    onnx_session,
    verify_onnx_export,
    verify_torchscript_export,
)


@pytest.fixture(scope="module")
def vit_source():
    torch.manual_seed(0)
    return load_export_source("random:vit_tiny", img_size="64x32")


def test_onnx_dynamic_batch_matches_torch(tmp_path: Path, vit_source) -> None:
    pytest.importorskip("onnxruntime")
    export = export_onnx(vit_source, tmp_path / "m.onnx", opset=18)
    assert export.exporter in ("dynamo", "torchscript") and export.path.stat().st_size > 1_000_000
    session = onnx_session(export.path)
    assert session.get_inputs()[0].shape[0] not in (1, 2)  # symbolic batch axis
    assert [o.name for o in session.get_outputs()] == ["image_token", "patch_grid"]
    report = verify_onnx_export(vit_source, export, batches=(1, 4))
    assert report.max_abs_diff < 1e-4, report.summary()
    (token, grid) = session.run(None, {"images": torch.randn(3, 3, 64, 32).numpy()})
    assert token.shape == (3, 192) and grid.shape == (3, 192, 4, 2)


def test_onnx_dynamic_height_and_width_match_torch(tmp_path: Path, vit_source) -> None:
    pytest.importorskip("onnxruntime")
    export = export_onnx(vit_source, tmp_path / "m.onnx", opset=18, exporter="dynamo")
    assert export.dynamic_size
    report = verify_onnx_export(vit_source, export, batches=(2,))
    assert {key.split("@", 1)[1] for key in report.diffs} == {"b2@64x32", "b2@96x48"}  # two sizes checked
    assert report.max_abs_diff < 1e-4, report.summary()
    session = onnx_session(export.path)
    (token, grid) = session.run(None, {"images": torch.randn(1, 3, 256, 128).numpy()})
    assert token.shape == (1, 192) and grid.shape == (1, 192, 16, 8)


def test_onnx_rejects_old_opset(tmp_path: Path, vit_source) -> None:
    with pytest.raises(ValueError, match="opset"):
        export_onnx(vit_source, tmp_path / "m.onnx", opset=13)


def test_torchscript_round_trip(tmp_path: Path, vit_source) -> None:
    export = export_torchscript(vit_source, tmp_path / "m.pt")
    report = verify_torchscript_export(vit_source, export, batches=(1, 2))
    assert report.max_abs_diff < 1e-5, report.summary()
    loaded = torch.jit.load(str(export.path))
    with torch.no_grad():
        token, grid = loaded(torch.zeros(2, 3, 64, 32))
    assert token.shape == (2, 192) and grid.shape == (2, 192, 4, 2)


def test_int8_export_is_written_and_close_to_fp32(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from saip.export.run import export_backbone

    result = export_backbone("random:vit_tiny", "onnx", tmp_path, img_size="64x32", int8=True)
    fp32, int8 = result.files
    assert int8.name.endswith(".int8.onnx") and int8.stat().st_size < 0.5 * fp32.stat().st_size
    assert result.ok, [r.summary() for r in result.reports]
    assert result.reports[-1].target == "onnxruntime[int8 vs fp32]"
    with pytest.raises(ValueError, match="--int8 needs --format onnx"):
        export_backbone("random:vit_tiny", "torchscript", tmp_path / "ts", img_size="64x32", int8=True)
