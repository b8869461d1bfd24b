"""timm export: strict load three ways + outputs identical to saip's backbone (fp32, < 1e-5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import load_file

import saip  # noqa: F401  (CPU import shim before timm)
import tests.pretrain_helpers as helpers
from saip.backbones import make_stride16
from saip.export import export_timm, load_export_source, load_timm_export, verify_timm_export

SIZE = (64, 32)


def write_run(folder: Path, alias: str = "vit_tiny", img_size: tuple[int, int] = (64, 32)) -> Path:
    return helpers.write_run(folder, alias, img_size)


@pytest.mark.parametrize("alias", ["vit_tiny", "starnet_s3", "tiny_vit_5m"])
def test_timm_strict_load_and_identical_outputs(tmp_path: Path, alias: str) -> None:
    run = write_run(tmp_path / "run", alias)
    source = load_export_source(run)
    export = export_timm(source, tmp_path / "out")
    # The file holds exactly timm's keys for a num_classes=0 model.
    kwargs = {"img_size": SIZE} if alias == "vit_tiny" else {}
    reference = timm.create_model(source.timm_name, pretrained=False, num_classes=0, **kwargs)
    assert set(load_file(str(export.weights))) == set(reference.state_dict())
    config = json.loads(export.config.read_text())
    assert config["architecture"] == source.timm_name and config["num_classes"] == 0
    assert config["img_size"] == list(SIZE) and config["mean"] == [0.485, 0.456, 0.406]
    for how in (
        ("pretrained_file", "checkpoint_path") if alias != "vit_tiny" else ("pretrained_file", "local_dir")
    ):
        report = verify_timm_export(source, export, how, batches=(1, 3))
        assert report.max_abs_diff < 1e-5, report.summary()
        assert set(report.diffs) == {"image_token@b1", "patch_grid@b1", "image_token@b3", "patch_grid@b3"}


def test_stride16_patch_is_needed_and_sufficient(tmp_path: Path) -> None:
    source = load_export_source(write_run(tmp_path / "run", "starnet_s3"))
    export = export_timm(source, tmp_path / "out")
    assert export.stride16_patch and "make_stride16(model, 'starnet_s3')" in "\n".join(export.load_commands())
    plain = timm.create_model(
        "starnet_s3", pretrained=True, num_classes=0, pretrained_cfg_overlay=dict(file=str(export.weights))
    ).eval()
    x = torch.randn(1, 3, *SIZE)
    with torch.no_grad():
        assert plain.forward_features(x).shape[-2:] == (2, 1)  # timm default: stride 32
        make_stride16(plain, "starnet_s3")
        assert torch.allclose(plain.forward_features(x), source.backbone(x).patch_grid, atol=1e-6)


def test_verify_detects_different_weights(tmp_path: Path) -> None:
    source = load_export_source(write_run(tmp_path / "run", "vit_tiny"))
    export = export_timm(source, tmp_path / "out")
    with torch.no_grad():
        source.backbone.model.blocks[0].mlp.fc1.bias.add_(0.5)
    report = verify_timm_export(source, export, "checkpoint_path", batches=(1,))
    assert not report.ok and report.max_abs_diff > 1e-3


def test_load_timm_export_rejects_unknown_method(tmp_path: Path) -> None:
    export = export_timm(load_export_source(write_run(tmp_path / "run", "vit_tiny")), tmp_path / "out")
    with pytest.raises(ValueError, match="unknown timm load method"):
        load_timm_export(export, "hub")
