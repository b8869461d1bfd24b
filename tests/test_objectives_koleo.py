"""KoLeo (DINOv2 §4) against a loop written from the equation, and what it pushes the features to."""

from __future__ import annotations

import math

import pytest
import torch

from saip.objectives.koleo import koleo_loss


def naive_koleo(x: torch.Tensor) -> float:
    """- 1/n sum_i log(min_{j != i} ||z_i - z_j||), z = x / ||x||, in float64."""
    z = [row / row.norm() for row in x.double()]
    total = 0.0
    for i, zi in enumerate(z):
        total += math.log(min(float((zi - zj).norm()) for j, zj in enumerate(z) if j != i) + 1e-8)
    return -total / len(z)


@pytest.mark.parametrize(("n", "d"), [(2, 3), (7, 5), (16, 32)])
def test_matches_naive(n: int, d: int) -> None:
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(n * d))
    assert math.isclose(float(koleo_loss(x)), naive_koleo(x), rel_tol=1e-5)


def test_spread_scores_lower_than_clustered() -> None:
    # the loss is the negative log nearest-neighbour distance: an orthonormal set (distance sqrt 2)
    # beats the same points squeezed together (a dimensional collapse)
    spread = torch.eye(4)
    squeezed = torch.ones(4, 4) + 0.01 * torch.eye(4)
    assert math.isclose(float(koleo_loss(spread)), -math.log(math.sqrt(2)), rel_tol=1e-6)
    assert float(koleo_loss(squeezed)) > float(koleo_loss(spread)) + 3


def test_gradient_pushes_nearest_neighbours_apart() -> None:
    x = torch.tensor([[1.0, 0.0], [1.0, 0.1], [-1.0, 0.0]], requires_grad=True)
    koleo_loss(x).backward()
    step = x.detach() - 0.1 * x.grad
    z0, z1 = (torch.nn.functional.normalize(v, dim=0) for v in (step[0], step[1]))
    before = torch.nn.functional.normalize(x.detach()[1], dim=0) - torch.nn.functional.normalize(
        x.detach()[0], dim=0
    )
    assert float((z1 - z0).norm()) > float(before.norm())


def test_needs_two_samples() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        koleo_loss(torch.randn(1, 4))


def test_method_adds_weighted_koleo_term(tmp_path) -> None:
    """objectives.koleo_weight adds w * mean over the two global views of L_koleo(student image token)."""
    from dataclasses import replace

    from saip.data import SAIPCollate, ViewDataset
    from saip.methods.base import ScheduleValues
    from saip.pretrain.builder import build_method, build_source, build_view_config
    from tests.pretrain_helpers import tiny_config

    cfg = tiny_config(tmp_path)
    views = build_view_config(cfg)
    dataset = ViewDataset(build_source(cfg), views, seed=0)
    batch = SAIPCollate(views, seed=0)([dataset[i] for i in range(4)])
    schedule = ScheduleValues(0, 10, 1e-3, 0.05, 0.996, 0.04, 0.0)
    torch.manual_seed(0)
    plain = build_method(cfg).eval()
    cfg_k = replace(cfg, objectives=replace(cfg.objectives, koleo_weight=0.5))
    torch.manual_seed(0)
    with_koleo = build_method(cfg_k).eval()
    with torch.no_grad():
        out_plain, out_k = plain(batch, schedule), with_koleo(batch, schedule)
        tokens = with_koleo._encode_views(batch, need_attention=False)
        expected = (koleo_loss(tokens["global0"].image_token) + koleo_loss(tokens["global1"].image_token)) / 2
    torch.testing.assert_close(out_k.terms["loss/koleo"], expected)
    torch.testing.assert_close(out_k.loss, out_plain.loss + 0.5 * expected)
    assert "loss/koleo" not in out_plain.terms
