"""Every backbone x input size: forward + backward, shapes, no NaN, every parameter gets a gradient."""

from __future__ import annotations

import pytest
import timm
import torch
from safetensors.torch import save_file

import saip  # noqa: F401  (torchvision shim)
from saip.backbones import PAPER_BACKBONES, create_backbone, make_stride16
from saip.weights import load_backbone_weights

SIZES = [(256, 128), (128, 64), (320, 160), (224, 224), (96, 48)]
EXPECTED_DIM = {"vit_tiny": 192, "starnet_s3": 256, "tiny_vit_5m": 320}


@pytest.fixture(scope="module", params=PAPER_BACKBONES)
def backbone(request):
    torch.manual_seed(0)
    return request.param, create_backbone(request.param)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_forward_backward_every_size(backbone, size):
    name, model = backbone
    model.train()
    model.zero_grad(set_to_none=True)
    x = torch.randn(2, 3, *size)
    out = model(x)
    h, w = size[0] // 16, size[1] // 16
    assert out.image_token.shape == (2, EXPECTED_DIM[name])
    assert out.patch_grid.shape == (2, EXPECTED_DIM[name], h, w)
    assert out.patch_tokens.shape == (2, h * w, EXPECTED_DIM[name])
    assert torch.isfinite(out.image_token).all() and torch.isfinite(out.patch_tokens).all()
    (out.image_token.square().mean() + out.patch_tokens.square().mean()).backward()
    no_grad = [
        n
        for n, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())
    ]
    assert not no_grad, f"{name} {size}: parameters without a finite gradient: {no_grad[:5]}"


def test_parameter_counts_are_lightweight(backbone):
    _, model = backbone
    n = sum(p.numel() for p in model.parameters())
    assert 4.5e6 < n < 6.0e6


def test_vit_position_embedding_unchanged_at_native_size():
    model = create_backbone("vit_tiny", img_size=(256, 128))
    pos = model.position_embedding((16, 8))
    assert torch.equal(pos, model.model.pos_embed)
    resized = model.position_embedding((20, 10))
    assert resized.shape == (1, 1 + 200, 192)
    assert torch.equal(resized[:, 0], model.model.pos_embed[:, 0])  # class slot untouched


def test_vit_interpolation_is_two_dimensional():
    """A pos-embed that varies only along rows must still vary only along rows after resizing."""
    model = create_backbone("vit_tiny", img_size=(256, 128))
    rows = torch.arange(16, dtype=torch.float32).repeat_interleave(8)  # value = row index
    with torch.no_grad():
        model.model.pos_embed[0, 1:] = rows[:, None].expand(-1, 192)
    resized = model.position_embedding((20, 10))[0, 1:, 0].reshape(20, 10)
    assert torch.allclose(resized, resized[:, :1].expand(-1, 10), atol=1e-4)  # constant along each row
    assert (resized[1:, 0] >= resized[:-1, 0] - 1e-4).all()  # monotone down the rows


def test_vit_matches_timm_at_native_size():
    torch.manual_seed(0)
    model = create_backbone("vit_tiny", img_size=(256, 128)).eval()
    reference = timm.create_model("vit_tiny_patch16_224", num_classes=0, img_size=(256, 128)).eval()
    reference.load_state_dict(model.model.state_dict())
    x = torch.randn(2, 3, 256, 128)
    with torch.no_grad():
        ours = model(x)
        tokens = reference.forward_features(x)
    assert torch.allclose(ours.image_token, tokens[:, 0], atol=1e-5)
    assert torch.allclose(ours.patch_tokens, tokens[:, 1:], atol=1e-5)


@pytest.mark.parametrize("name", PAPER_BACKBONES)
def test_masked_forward_returns_visible_tokens(name):
    torch.manual_seed(0)
    model = create_backbone(name).eval()
    x = torch.randn(2, 3, 320, 160)
    L = 20 * 10
    ids_keep = torch.stack([torch.randperm(L)[:50].sort().values for _ in range(2)])
    out = model(x, ids_keep=ids_keep)
    assert out.patch_tokens.shape == (2, 50, model.embed_dim)
    with pytest.raises(ValueError):
        _ = out.patch_grid


def test_vit_masked_tokens_match_unmasked_without_attention_mixing():
    """Before the blocks, a kept token equals the same token of the full sequence (positions preserved)."""
    model = create_backbone("vit_tiny", img_size=(256, 128))
    x = torch.randn(1, 3, 256, 128)
    ids_keep = torch.tensor([[0, 5, 77, 127]])
    masked, _ = model._embed(x, ids_keep)
    full, _ = model._embed(x, None)
    assert torch.allclose(masked[:, 1:], full[:, 1 + ids_keep[0]], atol=1e-6)


def test_intermediate_blocks_and_attention():
    model = create_backbone("vit_tiny")
    out = model(torch.randn(2, 3, 128, 64), return_blocks=[6, -1], return_attention=True)
    assert set(out.block_tokens) == {6, 11}
    assert out.block_tokens[6].shape == (2, 33, 192)
    assert out.attention.shape == (2, 3, 33, 33)
    assert torch.allclose(out.attention.sum(-1), torch.ones(2, 3, 33), atol=1e-5)


def test_bad_input_size_is_a_clear_error():
    model = create_backbone("vit_tiny")
    with pytest.raises(ValueError, match="multiple"):
        model(torch.randn(1, 3, 250, 128))


def test_unknown_backbone_name():
    with pytest.raises(ValueError, match="unknown backbone"):
        create_backbone("no_such_model_xyz")


@pytest.mark.parametrize("name", ["starnet_s3", "tiny_vit_5m"])
def test_stride16_surgery_keeps_timm_keys(name, tmp_path):
    """Weights load strictly into timm; after make_stride16 the timm model computes our features."""
    torch.manual_seed(0)
    ours = create_backbone(name).eval()
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in ours.model.state_dict().items()}, str(path))
    timm_name = ours.timm_name
    plain = timm.create_model(timm_name, num_classes=0).eval()
    load_backbone_weights(plain, path)
    make_stride16(plain, timm_name)
    x = torch.randn(1, 3, 128, 64)
    with torch.no_grad():
        assert torch.allclose(plain.forward_features(x), ours(x).patch_grid, atol=1e-5)


@pytest.mark.parametrize("layout", ["timm", "student_module_backbone", "model", "state_dict_backbone"])
def test_weight_loading_key_layouts(layout, tmp_path):
    torch.manual_seed(0)
    source = create_backbone("vit_tiny")
    state = source.model.state_dict()
    if layout == "timm":
        payload = state
    elif layout == "student_module_backbone":
        payload = {
            "student": {f"module.backbone.{k}": v for k, v in state.items()}
            | {"module.csm_head.w": torch.ones(1)}
        }
    elif layout == "model":
        payload = {"model": state}
    else:
        payload = {"state_dict": {f"backbone.{k}": v for k, v in state.items()}}
    path = tmp_path / "ckpt.pt"
    torch.save(payload, path)
    target = create_backbone("vit_tiny", weights=path)
    for key, value in state.items():
        assert torch.equal(target.model.state_dict()[key], value), key


def test_weight_loading_reports_missing_keys(tmp_path):
    path = tmp_path / "partial.pt"
    torch.save({"model": {"cls_token": torch.zeros(1, 1, 192)}}, path)
    with pytest.raises(ValueError, match="missing"):
        create_backbone("vit_tiny", weights=path)
