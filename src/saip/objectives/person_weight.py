"""Person weighting of DPAL's pixel-level alignment: a foreground map from the teacher's tokens.

Reference (Hermine-D/DPAL, reference-code.md §2.4): ``minmax_scale(PCA(n=1).fit_transform(T))``
over the teacher patch tokens of the whole batch, with sklearn on the CPU, every step — its sign
is arbitrary, so foreground and background can swap between steps. Here, in torch on the device:

1. ``T (B*N, D)`` centred; its first principal component by deterministic power iteration
   (start: the centred token of largest norm, so the result does not depend on batch order);
2. the **sign is fixed** so that the person is positive: in person-centred crops the mean
   projection of the central region (middle half of rows and columns) must exceed the mean over
   all tokens (``sign_rule="center"``); alternatively the projection must correlate positively
   with the token norm (``sign_rule="norm"``, for inputs that are not person-centred);
3. optional 3x3 mean smoothing on the patch grid, min-max scaling per image to ``[0, 1]``
   (a constant map gives all ones), then ``w = floor + (1 - floor) w``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SIGN_RULES = ("center", "norm")


@torch.no_grad()
def first_principal_component(x: torch.Tensor, iters: int = 50, tol: float = 1e-6) -> torch.Tensor:
    """Unit first principal direction ``(D,)`` of the rows of ``x (M, D)`` (sign not fixed)."""
    x = x.float()
    xc = x - x.mean(dim=0, keepdim=True)
    norms = xc.norm(dim=1)
    v = xc[int(norms.argmax())]
    if float(v.norm()) == 0.0:
        return torch.zeros(x.shape[1], dtype=x.dtype, device=x.device)
    v = v / v.norm()
    for _ in range(iters):
        w = xc.t() @ (xc @ v)
        n = w.norm()
        if float(n) == 0.0:
            break
        w = w / n
        done = float((w - v).norm()) < tol
        v = w
        if done:
            break
    return v


def _center_region(grid: tuple[int, int], device: torch.device) -> torch.Tensor:
    h, w = grid
    mask = torch.zeros(h, w, dtype=torch.bool, device=device)
    mask[h // 4 : h - h // 4, w // 4 : w - w // 4] = True
    return mask.flatten()


@torch.no_grad()
def oriented_projection(
    tokens: torch.Tensor, component: torch.Tensor, grid: tuple[int, int], sign_rule: str = "center"
) -> torch.Tensor:
    """Projections ``(B, N)`` of the centred tokens on ``component``, sign fixed by ``sign_rule``."""
    if sign_rule not in SIGN_RULES:
        raise ValueError(f"person weight sign_rule must be one of {SIGN_RULES}, got {sign_rule!r}")
    tokens = tokens.float()
    B, N, D = tokens.shape
    mean = tokens.reshape(B * N, D).mean(dim=0)
    proj = (tokens - mean) @ component.float()  # (B, N)
    if sign_rule == "center":
        centre = _center_region(grid, tokens.device)
        score = proj[:, centre].mean() - proj.mean()
    else:
        norm = tokens.norm(dim=-1)
        score = ((norm - norm.mean()) * proj).mean()
    return -proj if float(score) < 0 else proj


@torch.no_grad()
def person_weights(
    tokens: torch.Tensor,
    grid: tuple[int, int],
    floor: float = 0.0,
    smooth: bool = False,
    sign_rule: str = "center",
    iters: int = 50,
) -> torch.Tensor:
    """Foreground weights ``(B, N)`` in ``[floor, 1]`` from teacher patch tokens ``(B, N, D)`` on ``grid``."""
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"person weight floor must be in [0, 1], got {floor}")
    B, N, D = tokens.shape
    if grid[0] * grid[1] != N:
        raise ValueError(f"person weights: grid {grid} does not hold {N} tokens")
    component = first_principal_component(tokens.reshape(B * N, D), iters=iters)
    return weights_from_component(tokens, component, grid, floor, smooth, sign_rule)


@torch.no_grad()
def weights_from_component(
    tokens: torch.Tensor,
    component: torch.Tensor,
    grid: tuple[int, int],
    floor: float = 0.0,
    smooth: bool = False,
    sign_rule: str = "center",
) -> torch.Tensor:
    """Steps 2-3 of the module docstring for a given principal ``component (D,)`` (either sign)."""
    proj = oriented_projection(tokens, component, grid, sign_rule)  # (B, N)
    B = proj.shape[0]
    if smooth:
        fmap = proj.reshape(B, 1, *grid)
        proj = F.avg_pool2d(fmap, 3, stride=1, padding=1, count_include_pad=False).reshape(B, -1)
    low = proj.min(dim=1, keepdim=True).values
    span = proj.max(dim=1, keepdim=True).values - low
    scaled = torch.where(span > 1e-12, (proj - low) / span.clamp_min(1e-12), torch.ones_like(proj))
    return floor + (1.0 - floor) * scaled
