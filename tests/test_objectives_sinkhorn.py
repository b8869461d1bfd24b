"""Sinkhorn-Knopp teacher targets (DINOv2 §3) against a float64 loop written from the algorithm."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from saip.config import load_config
from saip.config.load import ConfigError
from saip.objectives.csm import CSMLoss
from saip.objectives.sinkhorn import sinkhorn_knopp


def naive_sinkhorn(logits: np.ndarray, temp: float, iters: int) -> np.ndarray:
    """Q = exp(t / tau)^T; normalise to total mass 1; alternately make every prototype's row sum 1/K
    and every sample's column sum 1/N; return N * Q^T (rows sum to 1)."""
    q = np.exp(logits.astype(np.float64) / temp).T  # (K, N)
    k, n = q.shape
    q = q / q.sum()
    for _ in range(iters):
        for row in range(k):
            q[row] = q[row] / q[row].sum() / k
        for col in range(n):
            q[:, col] = q[:, col] / q[:, col].sum() / n
    return (q * n).T


@pytest.mark.parametrize(("n", "k", "temp", "iters"), [(8, 4, 0.1, 3), (12, 20, 0.04, 1), (6, 3, 0.02, 7)])
def test_matches_naive_loop(n: int, k: int, temp: float, iters: int) -> None:
    logits = torch.randn(n, k, generator=torch.Generator().manual_seed(n + k))
    got = sinkhorn_knopp(logits, temp, iters).double().numpy()
    np.testing.assert_allclose(got, naive_sinkhorn(logits.numpy(), temp, iters), rtol=1e-4, atol=1e-6)


def test_rows_are_distributions_and_prototypes_balanced() -> None:
    # nearly identical logits (a random init): DINO's centred softmax is close to uniform for every
    # sample, Sinkhorn-Knopp still spreads the samples evenly over the prototypes
    logits = 1.0 + 0.01 * torch.randn(64, 16, generator=torch.Generator().manual_seed(0))
    p = sinkhorn_knopp(logits, 0.04, n_iterations=50)
    torch.testing.assert_close(p.sum(1), torch.ones(64))
    torch.testing.assert_close(p.sum(0), torch.full((16,), 4.0), atol=1e-3, rtol=0)


def test_no_overflow_at_low_temperature() -> None:
    logits = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])  # / 0.001 -> exp(1000) without the max shift
    p = sinkhorn_knopp(logits, 0.001)
    assert torch.isfinite(p).all()
    torch.testing.assert_close(p, torch.eye(2), atol=1e-6, rtol=0)


def test_csm_loss_with_sinkhorn_targets_matches_equation() -> None:
    g = torch.Generator().manual_seed(3)
    n_t, n_s, b, k, tt, ts = 2, 4, 5, 7, 0.05, 0.1
    teacher = [torch.randn(b, k, generator=g) for _ in range(n_t)]
    student = [torch.randn(b, k, generator=g) for _ in range(n_s)]
    loss = CSMLoss(k, ts, centering="sinkhorn")(student, teacher, tt)
    # targets over both teacher views together (rows = views x batch), as DINOv2 does
    p = naive_sinkhorn(torch.cat(teacher).numpy(), tt, 3).reshape(n_t, b, k)
    total, pairs = 0.0, 0
    for i in range(n_t):
        for v in range(n_s):
            if v == i:
                continue
            logq = torch.log_softmax(student[v].double() / ts, dim=-1).numpy()
            total += float(-(p[i] * logq).sum(-1).mean())
            pairs += 1
    assert math.isclose(float(loss), total / pairs, rel_tol=1e-5)


def test_centering_option_is_validated() -> None:
    with pytest.raises(ConfigError, match="objectives.csm_centering"):
        load_config(None, ["objectives.csm_centering=median"])
    with pytest.raises(ValueError, match="centering"):
        CSMLoss(4, centering="median")
