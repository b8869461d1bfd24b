"""BatchNorm folded into the convolution before it: the same function as the eval-mode module.

The reference is the unfolded module in eval mode (BatchNorm with its running statistics), so a
wrong scale, shift, channel axis or a fold across a branching conv output shows as a difference.
"""

from __future__ import annotations

import pytest
import torch
from timm.layers import BatchNormAct2d
from torch import nn

import saip  # noqa: F401  (before torchvision/timm)
from saip.teachers import FrozenTeacher
from saip.teachers.fold_batchnorm import fold_batchnorm


def _randomise_statistics(module: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial running statistics and affine parameters, so folding is not the identity."""
    generator = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=generator))
            m.running_var.copy_(torch.rand(n, generator=generator) * 3 + 0.1)
            with torch.no_grad():
                m.weight.copy_(torch.randn(n, generator=generator))
                m.bias.copy_(torch.randn(n, generator=generator))
    return module.eval()


class _Branching(nn.Module):
    """conv_a feeds a BatchNorm and a second consumer (must not be folded); conv_b -> bn_b folds."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_a = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn_a = nn.BatchNorm2d(8)
        self.conv_b = nn.Conv2d(8, 8, 1)
        self.bn_b = BatchNormAct2d(8, act_layer=nn.ReLU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.conv_a(x)
        return self.bn_b(self.conv_b(self.bn_a(a))) + a.mean()


class _Untraceable(nn.Module):
    """Control flow on the input at the top level: only its children can be traced."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.Conv2d(4, 4, 3, groups=4, padding=1, bias=False),
            BatchNormAct2d(4, act_layer=nn.SiLU),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:  # data-dependent branch: fx cannot trace this module as a whole
            return self.body(x)
        return -self.body(x)


@pytest.mark.parametrize(("model", "expected"), [(_Branching, 1), (_Untraceable, 2)])
def test_folded_copy_computes_the_same_function(model, expected: int) -> None:
    torch.manual_seed(0)
    original = _randomise_statistics(model())
    x = torch.randn(2, 3, 12, 10)
    with torch.no_grad():
        reference = original(x)
    folded, count = fold_batchnorm(original)
    assert count == expected
    with torch.no_grad():
        torch.testing.assert_close(folded(x), reference, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(original(x), reference, atol=0, rtol=0)  # the input is untouched
    remaining = [m for m in folded.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(remaining) == sum(isinstance(m, nn.BatchNorm2d) for m in original.modules()) - expected


def test_branching_conv_output_keeps_its_norm() -> None:
    folded, _ = fold_batchnorm(_randomise_statistics(_Branching()))
    assert isinstance(folded.bn_a, nn.BatchNorm2d)  # conv_a's output is also used by the mean
    assert not isinstance(folded.bn_b, nn.BatchNorm2d)
    assert isinstance(folded.bn_b.act, nn.ReLU)  # the activation after the norm is kept


class _ConvBackbone(nn.Module):
    """A teacher-like backbone (BackboneOutput from a conv-BN-act map) for FrozenTeacher."""

    def __init__(self) -> None:
        super().__init__()
        self.stride, self.embed_dim = 16, 8
        self.features = nn.Sequential(nn.Conv2d(3, 8, 16, stride=16), BatchNormAct2d(8, act_layer=nn.GELU))

    def forward(self, images: torch.Tensor):
        from saip.backbones import BackboneOutput

        fmap = self.features(images)
        return BackboneOutput(fmap.mean((2, 3)), fmap.flatten(2).transpose(1, 2), tuple(fmap.shape[-2:]))


def test_frozen_teacher_uses_the_folded_copy_and_keeps_its_state_dict() -> None:
    torch.manual_seed(0)
    backbone = _randomise_statistics(_ConvBackbone())
    keys = set(backbone.state_dict())
    teacher = FrozenTeacher(backbone, mean=(0.5,) * 3, std=(0.5,) * 3)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in teacher.inference_backbone.modules())
    # checkpoints hold the teacher's own weights under their own keys (resume across versions)
    assert {k.removeprefix("backbone.") for k in teacher.state_dict()} == keys
    x = torch.randn(3, 3, 64, 32)
    with torch.no_grad():
        expected = backbone(teacher.renormalize(x))
    out = teacher(x)
    torch.testing.assert_close(out.image_token, expected.image_token, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.patch_tokens, expected.patch_tokens, atol=1e-5, rtol=1e-5)

    # loading other weights refolds: the copy follows the loaded state, not the first one
    state = {k: v.clone() for k, v in teacher.state_dict().items()}
    state["backbone.features.1.running_mean"] += 1.0
    teacher.load_state_dict(state)
    with torch.no_grad():
        moved = teacher.backbone(teacher.renormalize(x))
    torch.testing.assert_close(teacher(x).image_token, moved.image_token, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(moved.image_token, expected.image_token)
