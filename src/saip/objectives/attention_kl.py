"""Attention-distillation KL term of CSM (option; reference-code §1.6, method.md §1 CSM).

The reference code adds, for the pair "student and expert on the same global view", a KL divergence
between the last-block attention maps::

    L_att = mean_{b, h, n} sum_m T[b,h,n,m] * (log(T[b,h,n,m] + eps) - log(S[b,h,n,m] + eps))

i.e. ``KL(teacher || student)`` over the key dimension, averaged over batch, heads and query tokens.
"""

from __future__ import annotations

from torch import Tensor


def attention_kl(student_attn: Tensor, teacher_attn: Tensor, eps: float = 1e-10) -> Tensor:
    """``KL(teacher || student)`` of attention probabilities, summed over keys, mean over the rest.

    Args:
        student_attn: ``(B, Hs, N, N)`` attention probabilities (rows sum to 1).
        teacher_attn: ``(B, Ht, N, N)`` attention probabilities; detached here (targets only).
        eps: added inside both logarithms.

    If ``Hs != Ht`` (e.g. a frozen expert with another head count) both maps are first averaged over
    heads (the result is again a row-stochastic ``(B, 1, N, N)`` map) and the KL is taken between the
    head-averaged maps.

    Returns:
        Scalar tensor (float32).
    """
    if student_attn.dim() != 4 or teacher_attn.dim() != 4:
        raise ValueError("attention maps must be (B, heads, N, N)")
    if student_attn.shape[0] != teacher_attn.shape[0] or student_attn.shape[2:] != teacher_attn.shape[2:]:
        raise ValueError(
            f"incompatible attention shapes {tuple(student_attn.shape)} vs {tuple(teacher_attn.shape)}"
        )
    s = student_attn.float()
    t = teacher_attn.detach().float()
    if s.shape[1] != t.shape[1]:
        s = s.mean(dim=1, keepdim=True)  # (B, 1, N, N)
        t = t.mean(dim=1, keepdim=True)
    kl = (t * ((t + eps).log() - (s + eps).log())).sum(dim=-1)  # (B, H, N)
    return kl.mean()
