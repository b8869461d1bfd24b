"""Loading the backbone to evaluate: run folder, weight file + arch, random:<arch>."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from saip.backbones import create_backbone
from saip.evaluate.backbone_loader import load_backbone, random_counterpart


def _write_run(folder, backbone):
    folder.mkdir()
    save_file(
        {k: v.contiguous() for k, v in backbone.model.state_dict().items()},
        str(folder / "backbone.safetensors"),
    )
    meta = {
        "timm_name": backbone.timm_name,
        "alias": "vit_tiny",
        "img_size": [64, 32],
        "embed_dim": 192,
        "stride": 16,
        "mean": [0.1, 0.2, 0.3],
        "std": [0.4, 0.5, 0.6],
    }
    (folder / "backbone.json").write_text(json.dumps(meta))


def test_run_folder_round_trip(tmp_path):
    torch.manual_seed(5)
    source = create_backbone("vit_tiny", img_size=(64, 32))
    _write_run(tmp_path / "run", source)
    backbone, info = load_backbone(tmp_path / "run")
    assert info.img_size == (64, 32) and info.mean == (0.1, 0.2, 0.3) and info.alias == "vit_tiny"
    assert not backbone.training
    x = torch.randn(2, 3, 64, 32)
    source.eval()
    assert torch.allclose(backbone(x).image_token, source(x).image_token)


def test_weight_file_needs_arch(tmp_path):
    source = create_backbone("vit_tiny", img_size=(64, 32))
    path = tmp_path / "w.pt"
    torch.save({"model": {f"module.{k}": v for k, v in source.model.state_dict().items()}}, path)
    with pytest.raises(ValueError, match="--arch"):
        load_backbone(path)
    backbone, info = load_backbone(path, arch="vit_tiny", img_size=(64, 32))
    assert torch.equal(backbone.model.cls_token, source.model.cls_token)
    assert info.timm_name == "vit_tiny_patch16_224"


def test_random_is_seeded_and_counterpart_matches():
    a, info = load_backbone("random:vit_tiny", seed=1)
    b, _ = load_backbone("random:vit_tiny", seed=1)
    c, _ = load_backbone("random:vit_tiny", seed=2)
    assert torch.equal(a.model.pos_embed, b.model.pos_embed)
    assert not torch.equal(a.model.pos_embed, c.model.pos_embed)
    d, d_info = random_counterpart(info, seed=1)
    assert torch.equal(a.model.pos_embed, d.model.pos_embed) and d_info.timm_name == info.timm_name


def test_bad_specs(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such run folder"):
        load_backbone(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="backbone.json"):
        load_backbone(tmp_path / "empty")
    with pytest.raises(ValueError, match="random:<arch>"):
        load_backbone("random:")
    with pytest.raises(ValueError, match="unknown backbone"):
        load_backbone("random:not_a_model_xyz")


def test_training_checkpoint_loads_its_student_not_its_expert(tmp_path) -> None:
    """A saip checkpoint nests the method under "method" (student.model.*, expert.model.*): a weight
    file given with --arch yields the student's weights."""
    import torch

    from saip.evaluate.backbone_loader import load_backbone

    reference, _ = load_backbone("random:vit_tiny", img_size=(64, 32), seed=3)
    timm_state = reference.model.state_dict()
    method = {f"student.model.{k}": v for k, v in timm_state.items()}
    method.update({f"expert.model.{k}": v + 1 for k, v in timm_state.items()})
    path = tmp_path / "last.pt"
    torch.save({"method": method, "step": 7, "config": {"model": {"backbone": "vit_tiny"}}}, path)
    loaded, _ = load_backbone(path, arch="vit_tiny", img_size=(64, 32))
    for key, value in loaded.model.state_dict().items():
        torch.testing.assert_close(value, timm_state[key])
