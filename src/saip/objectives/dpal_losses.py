"""The three DPAL alignment objectives (method.md §2) and the feature-distillation baseline.

Tensors in, scalar out; the decoder (:mod:`saip.objectives.dpade`) and the teacher live elsewhere.
Reference: Hermine-D/DPAL ``main_align_pretrain_moe.py`` (reference-code.md §2.4).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def global_alignment_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Image-level alignment: MSE between decoded student image tokens and the teacher's token.

    ``student (V, B, Dt)``: D-PaDe(expert 0) of the student's image token for V views of each
    image (the global view and the local crops); ``teacher (B, Dt)``: the teacher's image token of
    the global view. Returns the mean over views of the per-view MSE (reference: mean of 3 terms).
    """
    if student.dim() != 3 or student.shape[1:] != teacher.shape:
        raise ValueError(
            f"global alignment: student (V, B, D) {tuple(student.shape)} vs teacher (B, D) "
            f"{tuple(teacher.shape)}"
        )
    return (student.float() - teacher.float().unsqueeze(0)).pow(2).mean()


def local_alignment_loss(
    student: torch.Tensor, teacher: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Pixel-level alignment: person-weighted MSE between patch tokens on the same grid.

    ``student, teacher (B, N, Dt)``; ``weight (B, N)`` >= 0 (person weights,
    :func:`saip.objectives.person_weight.person_weights`). Loss
    ``sum_bn w_bn mean_d (s - t)^2 / sum_bn w_bn`` — a weighted mean, so its scale does not depend
    on how much of the crop is person. (The reference multiplies both sides by the mask and
    averages over all elements, i.e. weights by ``w^2`` and shrinks with the foreground area.)
    Without ``weight`` this is the plain MSE.
    """
    if student.shape != teacher.shape or student.dim() != 3:
        raise ValueError(
            f"local alignment: shapes {tuple(student.shape)} vs {tuple(teacher.shape)} "
            "(both (B, N, D) on the same grid)"
        )
    per_token = (student.float() - teacher.float()).pow(2).mean(dim=-1)  # (B, N)
    if weight is None:
        return per_token.mean()
    if weight.shape != per_token.shape:
        raise ValueError(f"local alignment: weight {tuple(weight.shape)} vs tokens {tuple(per_token.shape)}")
    weight = weight.float()
    return (weight * per_token).sum() / weight.sum().clamp_min(1e-12)


def relation_matrix_log(features: torch.Tensor) -> torch.Tensor:
    """``log softmax(F F^T / sqrt(d))`` ``(B, N, N)`` for token features ``F (B, N, d)``."""
    features = features.float()
    logits = features @ features.transpose(1, 2) / math.sqrt(features.shape[-1])
    return F.log_softmax(logits, dim=-1)


def relation_alignment_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Instance-level alignment on a multi-person image: ``KL(R_t || R_s)``.

    ``R = softmax(F F^T / sqrt(d))`` over the ``N`` tokens of the image; teacher ``F`` = teacher
    tokens, student ``F`` = D-PaDe(expert 2) output, both ``(B, N, Dt)``. KL summed over the last
    dimension, averaged over rows and images (reference: ``KL(...).sum(-1).mean()``).
    """
    if student.shape[:2] != teacher.shape[:2]:
        raise ValueError(
            f"relation alignment: token counts differ {tuple(student.shape)} vs {tuple(teacher.shape)}"
        )
    log_t, log_s = relation_matrix_log(teacher), relation_matrix_log(student)
    return (log_t.exp() * (log_t - log_s)).sum(dim=-1).mean()


def cosine_distillation_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Feature-distillation baseline: ``mean(1 - cos(student, teacher))`` over all leading dims."""
    if student.shape != teacher.shape:
        raise ValueError(f"cosine distillation: shapes {tuple(student.shape)} vs {tuple(teacher.shape)}")
    return (1.0 - F.cosine_similarity(student.float(), teacher.float(), dim=-1, eps=1e-6)).mean()
