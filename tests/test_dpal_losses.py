"""DPAL objectives and person weighting against naive loop implementations of their equations."""

from __future__ import annotations

import math

import pytest
import torch

import saip  # noqa: F401
from saip.objectives.dpal_losses import (
    cosine_distillation_loss,
    global_alignment_loss,
    local_alignment_loss,
    relation_alignment_loss,
)
from saip.objectives.person_weight import first_principal_component, person_weights, weights_from_component


def test_global_alignment_matches_naive() -> None:
    torch.manual_seed(0)
    student, teacher = torch.randn(3, 4, 6), torch.randn(4, 6)
    per_view = []
    for v in range(3):
        per_view.append(
            sum(float((student[v, b, d] - teacher[b, d]) ** 2) for b in range(4) for d in range(6)) / 24
        )
    assert global_alignment_loss(student, teacher).item() == pytest.approx(sum(per_view) / 3, rel=1e-5)
    with pytest.raises(ValueError, match="global alignment"):
        global_alignment_loss(student, torch.randn(5, 6))


def test_local_alignment_matches_naive_weighted_mse() -> None:
    torch.manual_seed(1)
    student, teacher, weight = torch.randn(2, 5, 3), torch.randn(2, 5, 3), torch.rand(2, 5)
    num = den = 0.0
    for b in range(2):
        for n in range(5):
            err = sum(float((student[b, n, d] - teacher[b, n, d]) ** 2) for d in range(3)) / 3
            num += float(weight[b, n]) * err
            den += float(weight[b, n])
    assert local_alignment_loss(student, teacher, weight).item() == pytest.approx(num / den, rel=1e-5)
    plain = float(((student - teacher) ** 2).mean())
    assert local_alignment_loss(student, teacher).item() == pytest.approx(plain, rel=1e-6)
    assert local_alignment_loss(student, teacher, torch.ones(2, 5)).item() == pytest.approx(plain, rel=1e-5)


def test_relation_alignment_matches_naive_kl() -> None:
    torch.manual_seed(2)
    student, teacher = torch.randn(2, 4, 8), torch.randn(2, 4, 8)

    def softmax_rows(f: torch.Tensor) -> list[list[float]]:
        rows = []
        for i in range(f.shape[0]):
            logits = [float(f[i] @ f[j]) / math.sqrt(f.shape[1]) for j in range(f.shape[0])]
            z = sum(math.exp(v) for v in logits)
            rows.append([math.exp(v) / z for v in logits])
        return rows

    total = 0.0
    for b in range(2):
        rt, rs = softmax_rows(teacher[b]), softmax_rows(student[b])
        for i in range(4):
            total += sum(rt[i][j] * math.log(rt[i][j] / rs[i][j]) for j in range(4))
    assert relation_alignment_loss(student, teacher).item() == pytest.approx(total / 8, rel=1e-4)
    assert relation_alignment_loss(teacher, teacher).item() == pytest.approx(0.0, abs=1e-6)


def test_cosine_distillation_matches_naive() -> None:
    torch.manual_seed(3)
    a, b = torch.randn(3, 5), torch.randn(3, 5)
    naive = sum(1 - float(a[i] @ b[i]) / float(a[i].norm() * b[i].norm()) for i in range(3)) / 3
    assert cosine_distillation_loss(a, b).item() == pytest.approx(naive, rel=1e-5)


def _person_tokens(
    batch: int = 3, grid: tuple[int, int] = (8, 4), dim: int = 16, seed: int = 0
) -> torch.Tensor:
    """Tokens where a central 'person' region shares a strong direction (the first principal axis)."""
    g = torch.Generator().manual_seed(seed)
    tokens = 0.1 * torch.randn(batch, grid[0] * grid[1], dim, generator=g)
    person = torch.zeros(grid, dtype=torch.bool)
    person[2:6, 1:3] = True
    direction = torch.randn(dim, generator=g)
    tokens[:, person.flatten()] += direction
    return tokens


def test_first_principal_component_matches_svd() -> None:
    x = torch.randn(200, 12) * torch.linspace(3, 0.1, 12)
    v = first_principal_component(x)
    ref = torch.linalg.svd(x - x.mean(0), full_matrices=False).Vh[0]
    assert abs(float(v @ ref)) == pytest.approx(1.0, abs=1e-4)


def test_person_weights_find_the_person_with_a_fixed_sign() -> None:
    tokens = _person_tokens()
    for sign_rule in ("center", "norm"):
        w = person_weights(tokens, (8, 4), sign_rule=sign_rule).reshape(3, 8, 4)
        assert w.min() >= 0 and w.max() <= 1
        assert float(w[:, 2:6, 1:3].mean()) > 0.9 and float(w[:, :2].mean()) < 0.1
    floored = person_weights(tokens, (8, 4), floor=0.2)
    assert float(floored.min()) == pytest.approx(0.2) and float(floored.max()) == pytest.approx(1.0)


def test_person_weights_are_stable_under_sign_flip_and_permutation() -> None:
    tokens = _person_tokens(batch=4, seed=5)
    component = first_principal_component(tokens.reshape(-1, 16))
    for rule in ("center", "norm"):
        a = weights_from_component(tokens, component, (8, 4), sign_rule=rule, smooth=True)
        b = weights_from_component(tokens, -component, (8, 4), sign_rule=rule, smooth=True)
        torch.testing.assert_close(a, b)
    perm = torch.tensor([2, 0, 3, 1])
    torch.testing.assert_close(person_weights(tokens[perm], (8, 4)), person_weights(tokens, (8, 4))[perm])


def test_person_weight_errors_and_constant_maps() -> None:
    assert torch.equal(person_weights(torch.ones(2, 4, 3), (2, 2)), torch.ones(2, 4))
    with pytest.raises(ValueError, match="grid"):
        person_weights(torch.randn(2, 5, 3), (2, 2))
    with pytest.raises(ValueError, match="floor"):
        person_weights(torch.randn(2, 4, 3), (2, 2), floor=1.5)
    with pytest.raises(ValueError, match="sign_rule"):
        person_weights(torch.randn(2, 4, 3), (2, 2), sign_rule="up")
