"""Sinkhorn-Knopp teacher targets for CSM (DINOv2's alternative to DINO's centring).

DINO (Caron et al., 2021) keeps the teacher from collapsing by subtracting a running centre from
its logits before sharpening. From a random initialisation that leaves the teacher's targets close
to uniform for a long start-up phase: the logits barely differ between images, so
``softmax((t - c) / tau_t)`` is flat and the student gets almost no signal. DINOv2 (Oquab et al.,
2023, §3 "Sinkhorn-Knopp centering", after SwAV, Caron et al., 2020) replaces the centre with a
few Sinkhorn-Knopp iterations over the batch: the targets ``P`` are the entropy-regularised optimal
transport of the ``N`` teacher outputs onto ``K`` equally used prototypes,

    P = diag(u) exp(t / tau_t) diag(v)   with every prototype's total mass 1/K and every sample's 1/N

(``u``, ``v`` found by alternating the two normalisations), returned times ``N`` so that each
sample's row sums to 1. Every sample gets a confident, balanced
assignment from the first step, so the start-up phase is short. Under DDP the sums run over the
global batch (all-reduced), as DINOv2 does.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def _all_reduce(x: Tensor) -> Tensor:
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(x)
    return x


@torch.no_grad()
def sinkhorn_knopp(logits: Tensor, teacher_temp: float, n_iterations: int = 3) -> Tensor:
    """Balanced soft assignments of ``N`` samples to ``K`` prototypes.

    Args:
        logits: ``(N, K)`` teacher logits (all teacher views of the local batch concatenated).
        teacher_temp: ``tau_t``.
        n_iterations: Sinkhorn-Knopp iterations (DINOv2: 3).

    Returns:
        ``(N, K)`` float32 targets, each row a probability distribution. Over the global batch the
        column sums are (approximately, after finitely many iterations) equal: ``N_global / K``.
    """
    scores = logits.float() / teacher_temp
    # exp(s - max) with one global max keeps the ratios exact and avoids overflow at low tau_t
    peak = scores.max().reshape(1)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(peak, op=dist.ReduceOp.MAX)
    q = torch.exp(scores - peak).t()  # (K, N)
    n_samples = _all_reduce(torch.tensor(float(q.shape[1]), device=q.device))
    n_protos = q.shape[0]
    q /= _all_reduce(q.sum())
    for _ in range(n_iterations):
        q /= _all_reduce(q.sum(dim=1, keepdim=True))  # every prototype gets mass 1/K
        q /= n_protos
        q /= q.sum(dim=0, keepdim=True)  # every sample gets mass 1/N (local column, no reduce)
        q /= n_samples
    q *= n_samples  # rows of the result sum to 1
    return q.t()
