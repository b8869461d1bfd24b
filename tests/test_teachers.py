"""Frozen teachers: loading every checkpoint layout, re-normalisation, grid, cache, ImageNet sanity."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from torch import nn

import saip  # noqa: F401  (before torchvision/timm)
from saip.backbones import BackboneOutput, create_backbone
from saip.teachers import (
    FrozenTeacher,
    LinearAdapter,
    build_teacher,
    create_efficientnet_lite0_imagenet_classifier,
)

REAL = Path(
    os.environ.get(
        "SAIP_REAL_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "data" / "real-fixtures"
    )
)
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@pytest.fixture(autouse=True)
def _one_thread():
    """Single-threaded: the shared CPU is oversubscribed and these small ops do not gain from threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


class GridBackbone(nn.Module):
    """A fake backbone with a chosen stride whose tokens are the pooled input (to check resizing)."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride, self.embed_dim = stride, 3
        self.seen: torch.Tensor | None = None

    def forward(self, images: torch.Tensor) -> BackboneOutput:
        self.seen = images
        fmap = nn.functional.avg_pool2d(images, self.stride)
        return BackboneOutput(fmap.mean((2, 3)), fmap.flatten(2).transpose(1, 2), tuple(fmap.shape[-2:]))


def _vit_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return create_backbone("vit_tiny", img_size=(224, 224)).model.state_dict()


def _assert_same_weights(teacher: FrozenTeacher, state: dict[str, torch.Tensor]) -> None:
    loaded = teacher.backbone.model.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key


def test_renormalizes_student_input_to_teacher_statistics() -> None:
    backbone = GridBackbone(16)
    teacher = FrozenTeacher(backbone, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    raw = torch.rand(2, 3, 32, 32)
    teacher((raw - IMAGENET_MEAN) / IMAGENET_STD)
    torch.testing.assert_close(backbone.seen, (raw - 0.5) / 0.5, atol=1e-5, rtol=1e-5)


def test_tokens_are_resized_to_the_student_grid() -> None:
    teacher = FrozenTeacher(GridBackbone(32), IMAGENET_MEAN.flatten(), IMAGENET_STD.flatten())
    images = torch.randn(2, 3, 64, 64)
    out = teacher(images)
    assert out.grid_size == (4, 4) and out.patch_tokens.shape == (2, 16, 3)
    expected = nn.functional.interpolate(
        nn.functional.avg_pool2d(images, 32), size=(4, 4), mode="bilinear", align_corners=False
    )
    torch.testing.assert_close(out.patch_grid, expected)


def test_frozen_teacher_stays_in_eval_mode_without_gradients() -> None:
    teacher = build_teacher("random:efficientnet_lite0")
    teacher.train()
    assert not teacher.training and not any(m.training for m in teacher.modules())
    assert not any(p.requires_grad for p in teacher.parameters())
    out = teacher(torch.randn(2, 3, 64, 32, requires_grad=True))
    assert not out.image_token.requires_grad and out.patch_tokens.shape == (2, 8, teacher.embed_dim)


def test_cache_reuses_features_per_key() -> None:
    backbone = GridBackbone(16)
    teacher = FrozenTeacher(backbone, IMAGENET_MEAN.flatten(), IMAGENET_STD.flatten(), cache_size=8)
    images = torch.randn(3, 3, 32, 32)
    first = teacher(images, keys=["a", "b", "c"])
    backbone.seen = None
    again = teacher(torch.zeros_like(images), keys=["a", "b", "c"])  # content ignored: cache hits
    assert backbone.seen is None and teacher.cache.hits == 3
    torch.testing.assert_close(again.patch_tokens, first.patch_tokens)
    mixed = teacher(images[[0, 1]], keys=["a", "d"])  # one hit, one computed
    assert backbone.seen.shape[0] == 1
    torch.testing.assert_close(mixed.image_token[0], first.image_token[0])
    with pytest.raises(ValueError, match="cache keys"):
        teacher(images, keys=["a"])


@pytest.mark.parametrize("layout", ["timm", "student", "model", "state_dict", "safetensors"])
def test_checkpoint_layouts(tmp_path: Path, layout: str) -> None:
    state = _vit_state()
    if layout == "safetensors":
        path = tmp_path / "teacher.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        path = tmp_path / "teacher.pth"
        obj = {
            "timm": state,
            "student": {"student": {f"module.backbone.{k}": v for k, v in state.items()}, "epoch": 3},
            "model": {"model": state, "optimizer": {}},
            "state_dict": {"state_dict": {f"backbone.{k}": v for k, v in state.items()}},
        }[layout]
        torch.save(obj, path)
    teacher = build_teacher(str(path), arch="vit_tiny")
    _assert_same_weights(teacher, state)
    assert teacher.info.img_size == (224, 224)  # from the 14x14 position embeddings
    assert teacher(torch.randn(1, 3, 64, 32)).grid_size == (4, 2)


def test_arch_prefix_spec_and_errors(tmp_path: Path) -> None:
    state = _vit_state()
    path = tmp_path / "t.pth"
    torch.save(state, path)
    _assert_same_weights(build_teacher(f"vit_tiny:{path}"), state)
    with pytest.raises(ValueError, match="name the architecture"):
        build_teacher(str(path))
    with pytest.raises(ValueError, match="not a built-in teacher"):
        build_teacher(str(tmp_path / "missing.pth"))
    bad = tmp_path / "bad.pth"
    torch.save({"model": {"pos_embed": torch.zeros(1, 197, 192)}}, bad)
    with pytest.raises(ValueError, match="missing"):
        build_teacher(str(bad), arch="vit_tiny")


def test_saip_run_folder(tmp_path: Path) -> None:
    torch.manual_seed(1)
    student = create_backbone("vit_tiny", img_size=(256, 128))
    state = student.model.state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "backbone.safetensors"))
    meta = {
        "timm_name": "vit_tiny_patch16_224",
        "alias": "vit_tiny",
        "img_size": [256, 128],
        "embed_dim": 192,
        "stride": 16,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.25, 0.25, 0.25],
    }
    (tmp_path / "backbone.json").write_text(json.dumps(meta))
    teacher = build_teacher(str(tmp_path))
    _assert_same_weights(teacher, state)
    assert teacher.info.mean == (0.5, 0.5, 0.5) and teacher.info.std == (0.25, 0.25, 0.25)
    (tmp_path / "backbone.json").write_text("{}")
    with pytest.raises(ValueError, match="backbone.json"):
        build_teacher(str(tmp_path))


def test_linear_adapter_maps_width() -> None:
    adapter = LinearAdapter(4, 6)
    assert adapter(torch.randn(2, 5, 4)).shape == (2, 5, 6)
    assert isinstance(LinearAdapter(4, 4, identity_if_equal=True).proj, nn.Identity)
    with pytest.raises(ValueError, match="width 4"):
        adapter(torch.randn(2, 3))


def _imagenet_input(path: Path) -> torch.Tensor:
    image = Image.open(path).convert("RGB").resize((224, 224), Image.BICUBIC)
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255.0
    return ((x - 0.5) / 0.5).unsqueeze(0)


@pytest.mark.skipif(
    not (REAL / "bus.jpg").is_file(), reason=f"real fixtures not found at {REAL} (set SAIP_REAL_FIXTURES)"
)
def test_efficientnet_lite0_imagenet_classifies_real_images() -> None:
    bus, astronaut = REAL / "bus.jpg", REAL / "astronaut.png"
    model = create_efficientnet_lite0_imagenet_classifier()
    with torch.no_grad():
        probs = model(_imagenet_input(bus)).softmax(-1)[0]
    top5 = set(probs.topk(5).indices.tolist())
    # ImageNet: 654 minibus, 779 school bus, 874 trolleybus, 734 police van, 705 passenger car
    assert top5 & {654, 779, 874, 734, 705}, top5
    assert float(probs.max()) > 0.3
    if astronaut.is_file():  # no plausible single class: only check it is deterministic and valid
        with torch.no_grad():
            a, b = model(_imagenet_input(astronaut)), model(_imagenet_input(astronaut))
        assert torch.equal(a, b) and torch.isfinite(a).all()


def test_efficientnet_lite0_imagenet_teacher() -> None:
    teacher = build_teacher("efficientnet_lite0_imagenet")
    assert teacher.info.mean == (0.5, 0.5, 0.5) and teacher.embed_dim == 1280
    out = teacher(torch.randn(2, 3, 256, 128))
    assert out.grid_size == (16, 8) and out.patch_tokens.shape == (2, 128, 1280)
    assert torch.isfinite(out.patch_tokens).all()
