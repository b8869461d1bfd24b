"""PCA-of-patch-tokens helper: correct components, deterministic, sign-stable, foreground split."""

from __future__ import annotations

import pytest
import torch

import saip  # noqa: F401
from saip.viz.pca import fit_pca, foreground_masks, pca_rgb, stabilize_signs


def _anisotropic(n: int = 4000, d: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    scales = torch.tensor([10.0, 5.0, 2.0] + [0.1] * (d - 3))
    return torch.randn(n, d, generator=g, dtype=torch.float64) * scales + 3.0


def test_fit_pca_recovers_axes_in_variance_order() -> None:
    fit = fit_pca(_anisotropic())
    assert torch.allclose(fit.components.abs(), torch.eye(8, dtype=torch.float64)[:3], atol=0.03)
    assert (fit.explained_variance[:-1] >= fit.explained_variance[1:]).all()
    # largest-magnitude loading of every component is positive (the sign convention)
    assert (fit.components.gather(1, fit.components.abs().argmax(1, keepdim=True)) > 0).all()


def test_pca_is_deterministic_and_independent_of_token_order_and_solver_sign() -> None:
    x = _anisotropic()
    a, b = fit_pca(x), fit_pca(x[torch.randperm(len(x), generator=torch.Generator().manual_seed(1))])
    assert torch.allclose(a.components, b.components, atol=1e-8)
    assert torch.equal(fit_pca(x).components, a.components)
    flipped = a.components * torch.tensor([[-1.0], [1.0], [-1.0]], dtype=torch.float64)
    assert torch.equal(stabilize_signs(flipped), a.components)
    unit = a.to_unit(x.float())
    assert unit.min() >= 0 and unit.max() <= 1 and unit.dtype == torch.float32


def test_fit_pca_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        fit_pca(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="n_components"):
        fit_pca(torch.zeros(10, 2), n_components=3)


def _person_grid(h: int, w: int, d: int = 16, seed: int = 0) -> torch.Tensor:
    """Token grid: background tokens around a 'person' block with a different feature direction."""
    g = torch.Generator().manual_seed(seed)
    grid = torch.randn(d, h, w, generator=g) * 0.1
    grid[0] += 2.0
    grid[1, h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] += 6.0
    grid[2, h // 4 : h // 2, w // 4 : 3 * w // 4] += 3.0  # "upper body" differs from "legs"
    return grid


def test_foreground_is_the_block_away_from_the_border() -> None:
    grids = [_person_grid(8, 4), _person_grid(16, 8, seed=1)]
    masks = foreground_masks(grids)
    for grid, mask in zip(grids, masks, strict=True):
        h, w = grid.shape[1:]
        expected = torch.zeros(h, w, dtype=torch.bool)
        expected[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = True
        assert torch.equal(mask, expected)
    # the same holds when the feature sign is flipped (side chosen by the border, not the sign)
    assert torch.equal(foreground_masks([-g for g in grids])[1], masks[1])


def test_pca_rgb_consistent_across_scales_and_black_background() -> None:
    small, large = _person_grid(8, 4), _person_grid(16, 8, seed=1)
    rgb_small, rgb_large = pca_rgb([small, large])
    assert rgb_small.shape == (3, 8, 4) and rgb_large.shape == (3, 16, 8)
    assert rgb_large[:, 0, 0].eq(0).all()  # background
    # the first component (red) separates the parts; a joint fit gives each part one red value at both
    # scales (the other two channels are noise directions in this toy grid)
    upper_s, upper_l = rgb_small[0, 2, 1], rgb_large[0, 5, 3]
    lower_s, lower_l = rgb_small[0, 5, 1], rgb_large[0, 10, 3]
    assert abs(upper_s - upper_l) < 0.15 and abs(lower_s - lower_l) < 0.15
    assert abs(upper_s - lower_s) > 0.5
    assert torch.equal(pca_rgb([small, large])[0], rgb_small)
