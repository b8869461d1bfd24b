"""The built-in probe: structure, trained-vs-random detection, verdict, synthetic default."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from saip.backbones import BackboneOutput
from saip.evaluate.backbone_loader import BackboneInfo, load_backbone
from saip.evaluate.probe import format_probe_table, probe_verdict, run_probe


def write_market(root: Path, n_ids: int = 6) -> Path:
    """Tiny Market-1501 test split: identity p is a solid colour (plus noise), 3 query + 3 gallery images."""
    rng = np.random.default_rng(0)
    for folder in ("bounding_box_train", "query", "bounding_box_test"):
        (root / folder).mkdir(parents=True)
        for p in range(1, n_ids + 1):
            colour = np.array([40 * p, 255 - 40 * p, 120])
            for k in range(3):
                cam = (k + (folder == "bounding_box_test")) % 6 + 1
                pixels = np.clip(colour + rng.normal(0, 10, (32, 16, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(root / folder / f"{p:04d}_c{cam}s1_{k:06d}_00.jpg")
    return root


def write_table(root: Path, n: int = 32) -> Path:
    """Attribute table with one attribute, 'red', visible as the image colour."""
    (root / "images").mkdir(parents=True)
    rows = ["image,split,red"]
    for i in range(n):
        Image.new("RGB", (16, 32), (220, 30, 30) if i % 2 else (30, 30, 220)).save(
            root / "images" / f"{i}.jpg"
        )
        rows.append(f"{i}.jpg,{'train' if i < n // 2 else 'test'},{i % 2}")
    (root / "attributes.csv").write_text("\n".join(rows) + "\n")
    return root


INFO = BackboneInfo("fake", "fake", (32, 16), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 3, "test")


class ColourBackbone(nn.Module):
    """'Trained': the image token is the mean colour, which identifies the fixture's identities."""

    def forward(self, images: torch.Tensor) -> BackboneOutput:
        tokens = images.flatten(2).transpose(1, 2)
        return BackboneOutput(image_token=images.mean(dim=(2, 3)), patch_tokens=tokens, grid_size=(1, 1))


class NoiseBackbone(nn.Module):
    """'Random init': features unrelated to the image."""

    def __init__(self) -> None:
        super().__init__()
        self.generator = torch.Generator().manual_seed(0)

    def forward(self, images: torch.Tensor) -> BackboneOutput:
        b = len(images)
        return BackboneOutput(
            image_token=torch.randn(b, 3, generator=self.generator),
            patch_tokens=torch.zeros(b, 1, 3),
            grid_size=(1, 1),
        )


def test_probe_detects_trained_backbone(tmp_path):
    root = write_market(tmp_path / "data" / "reid")
    write_table(tmp_path / "data" / "attributes")
    result = run_probe(
        ColourBackbone(),
        INFO,
        data_root=tmp_path / "data",
        img_size=(32, 16),
        random_backbone=NoiseBackbone(),
    )
    assert set(result) >= {"trained", "random_init", "margin", "data"}
    assert result["trained"]["reid_mAP"] == pytest.approx(100.0)
    assert result["margin"]["reid_mAP"] > 20 and result["margin"]["attr_mA"] > 10
    assert probe_verdict(result) is None
    assert "reid_mAP" in format_probe_table(result)
    assert root.is_dir()


def test_verdict_warns_when_not_better(tmp_path):
    write_market(tmp_path / "m")
    result = run_probe(
        NoiseBackbone(), INFO, data_root=tmp_path / "m", img_size=(32, 16), random_backbone=ColourBackbone()
    )
    assert "attr_mA" not in result["trained"]  # no attribute table beside this folder
    assert result["margin"]["reid_mAP"] < 0
    assert "not better" in probe_verdict(result)


def test_synthetic_default_random_vs_itself_warns():
    backbone, info = load_backbone("random:vit_tiny", img_size=(64, 32), seed=0)
    result = run_probe(backbone, info, seed=0, max_images=48, img_size=(64, 32))
    assert result["data"]["identities"] == 8 and result["data"]["query"] == 24
    assert all(np.isclose(v, 0.0) for v in result["margin"].values())  # same seed = same weights
    assert probe_verdict(result) is not None


@pytest.mark.parametrize("pooling", ["token", "mean"])
def test_eval_probe_cli_on_a_market_folder(tmp_path, pooling):
    """``saip eval probe``: a random init against itself (same seed) has zero margin and is flagged."""
    import json

    from typer.testing import CliRunner

    from saip.cli import app

    root = write_market(tmp_path / "m")
    out = tmp_path / "out"
    args = ["eval", "probe", "--backbone", "random:vit_tiny", "--data", str(root), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--pooling", pooling])
    assert result.exit_code == 0, result.output
    probe = json.loads((out / "probe" / "probe.json").read_text())
    assert probe["data"]["pooling"] == pooling and probe["data"]["identities"] == 6
    assert np.isclose(probe["margin"]["reid_mAP"], 0.0)
    assert "not better" in result.output
    bad = CliRunner().invoke(app, [*args, "--pooling", "max"])
    assert bad.exit_code == 2 and "token, mean, concat" in bad.output


def test_probe_size_is_the_backbone_size_capped_at_128x64() -> None:
    """A 64x32 model is probed at 64x32 (what it was trained on), larger ones at 128x64."""
    from saip.evaluate.probe import PROBE_SIZE, probe_size

    assert probe_size((64, 32)) == (64, 32)
    assert probe_size((256, 128)) == PROBE_SIZE == (128, 64)
    assert probe_size((224, 224)) == (128, 64)
    assert probe_size((96, 48)) == (96, 48)
    assert probe_size(None) == PROBE_SIZE
