"""PCA of patch tokens as RGB, the feature visualisation of the SAIP paper (Fig. 1 / Fig. 5) and DINOv2.

Recipe (DINOv2 §7 / SAIP Fig. 5): a first PCA on all tokens separates foreground from background
(threshold the first component at its mean); a second PCA fitted on the foreground tokens only
gives 3 components shown as R, G, B after min-max scaling (robust: 1st/99th percentiles, clipped).
Fitting on the tokens of every scale of an image at once makes colours comparable across scales.

Everything is computed in torch (float64 eigen-decomposition of the covariance). Eigenvectors are
defined up to sign, so each component is sign-stabilised: its largest-magnitude loading is made
positive (the ``svd_flip`` convention), which makes the result independent of the solver's
arbitrary choice and of the token order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass
class PCAFit:
    """A fitted PCA: ``mean`` ``(D,)``, sign-stabilised ``components`` ``(k, D)`` (rows, by variance),
    and the 1st/99th percentile ``low``/``high`` ``(k,)`` of the fit data's projections (for RGB scaling)."""

    mean: torch.Tensor
    components: torch.Tensor
    explained_variance: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor

    def transform(self, tokens: torch.Tensor) -> torch.Tensor:
        """Project ``(N, D)`` tokens onto the components → ``(N, k)``."""
        return (tokens.double() - self.mean) @ self.components.T

    def to_unit(self, tokens: torch.Tensor) -> torch.Tensor:
        """Projections min-max scaled with the fit's percentiles, clipped to [0, 1] → ``(N, k)`` float32."""
        scaled = (self.transform(tokens) - self.low) / (self.high - self.low).clamp_min(1e-12)
        return scaled.clamp(0, 1).float()


def stabilize_signs(components: torch.Tensor) -> torch.Tensor:
    """Flip each row so that its largest-magnitude entry is positive (deterministic eigenvector sign)."""
    idx = components.abs().argmax(dim=1, keepdim=True)
    signs = torch.sign(components.gather(1, idx))
    signs[signs == 0] = 1
    return components * signs


def fit_pca(tokens: torch.Tensor, n_components: int = 3, quantile: float = 0.01) -> PCAFit:
    """Fit a PCA to ``(N, D)`` tokens (eigen-decomposition of the covariance, float64)."""
    if tokens.ndim != 2:
        raise ValueError(f"fit_pca expects (N, D) tokens, got shape {tuple(tokens.shape)}")
    n, d = tokens.shape
    if n < 2 or not 1 <= n_components <= d:
        raise ValueError(
            f"fit_pca: need >= 2 tokens and 1 <= n_components <= {d} (got N={n}, k={n_components})"
        )
    x = tokens.detach().double()
    mean = x.mean(0)
    centred = x - mean
    cov = centred.T @ centred / (n - 1)
    eigvals, eigvecs = torch.linalg.eigh(cov)  # ascending
    order = torch.argsort(eigvals, descending=True)[:n_components]
    components = stabilize_signs(eigvecs[:, order].T.contiguous())
    proj = centred @ components.T
    low = torch.quantile(proj, quantile, dim=0)
    high = torch.quantile(proj, 1 - quantile, dim=0)
    return PCAFit(
        mean=mean, components=components, explained_variance=eigvals[order].clamp_min(0), low=low, high=high
    )


def border_mask(h: int, w: int) -> torch.Tensor:
    """``(h*w,)`` bool mask of the outermost ring of a token grid (row-major)."""
    grid = torch.zeros(h, w, dtype=torch.bool)
    grid[0, :] = grid[-1, :] = grid[:, 0] = grid[:, -1] = True
    return grid.flatten()


def foreground_masks(grids: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Foreground token masks ``(h, w)`` for ``(D, h, w)`` token grids, from one shared first component.

    The first principal component of all tokens is thresholded at 0 (its mean). Which side is
    the foreground is decided by the border: people rarely touch the image border, so the side
    holding the smaller share of border tokens is the foreground.
    """
    tokens = torch.cat([g.flatten(1).T for g in grids])
    first = fit_pca(tokens, 1).transform(tokens)[:, 0]
    positive = first > 0
    border = torch.cat([border_mask(g.shape[1], g.shape[2]) for g in grids])
    if border.all() or (~border).all():
        fg = positive
    else:
        fg = positive if positive[border].double().mean() <= positive[~border].double().mean() else ~positive
    masks, start = [], 0
    for g in grids:
        n = g.shape[1] * g.shape[2]
        masks.append(fg[start : start + n].reshape(g.shape[1], g.shape[2]))
        start += n
    return masks


def pca_rgb(grids: Sequence[torch.Tensor], foreground: bool = True) -> list[torch.Tensor]:
    """RGB images ``(3, h, w)`` in [0, 1] of the first 3 components of ``(D, h, w)`` token grids.

    One PCA is fitted on the (foreground) tokens of all grids together, so colours are consistent
    across grids (e.g. the scales of one image). With ``foreground``, background tokens are black.
    """
    if not grids:
        raise ValueError("pca_rgb needs at least one token grid")
    grids = [g.detach().float().cpu() for g in grids]
    masks = (
        foreground_masks(grids) if foreground else [torch.ones(g.shape[1:], dtype=torch.bool) for g in grids]
    )
    tokens = torch.cat([g.flatten(1).T for g in grids])
    keep = torch.cat([m.flatten() for m in masks])
    if int(keep.sum()) < 4:  # degenerate split: fall back to all tokens
        keep = torch.ones_like(keep)
        masks = [torch.ones(g.shape[1:], dtype=torch.bool) for g in grids]
    fit = fit_pca(tokens[keep], n_components=min(3, tokens.shape[1]))
    out = []
    for g, m in zip(grids, masks, strict=True):
        rgb = fit.to_unit(g.flatten(1).T)  # (h*w, k)
        if rgb.shape[1] < 3:
            rgb = torch.cat([rgb, rgb.new_zeros(rgb.shape[0], 3 - rgb.shape[1])], dim=1)
        rgb = rgb * m.flatten().unsqueeze(1)
        out.append(rgb.T.reshape(3, *g.shape[1:]))
    return out
