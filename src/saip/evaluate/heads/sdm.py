"""IRRA's image-text losses: similarity distribution matching (SDM) and the identity (ID) loss.

Jiang & Ye, "Cross-Modal Implicit Relation Reasoning and Aligning for Text-to-Image Person
Retrieval", CVPR 2023, §3.3 (eqs. 4-7) and §3.4. For a batch of ``n`` image features ``f^v`` and
text features ``f^t`` with identities ``y``:

* ``p_ij = softmax_j(τ⁻¹ · cos(f^v_i, f^t_j))`` (image→text; text→image alike),
* ``q_ij = y_ij / Σ_k y_ik`` with ``y_ij = 1`` when pair ``(i, j)`` shows the same person,
* ``L_i2t = 1/n Σ_i KL(p_i ‖ q_i) = 1/n Σ_i Σ_j p_ij log(p_ij / (q_ij + ε))``,
* ``L_sdm = L_i2t + L_t2i``.

The ID loss classifies both modalities' features into the training identities with one shared
linear classifier (cross-entropy, the two terms averaged).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SDM_EPSILON = 1e-8
IRRA_TEMPERATURE = 0.02  # τ; IRRA's logit scale 1/τ = 50


def sdm_loss(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    pids: torch.Tensor,
    temperature: float = IRRA_TEMPERATURE,
    epsilon: float = SDM_EPSILON,
) -> torch.Tensor:
    """SDM loss of ``(n, d)`` image and text features of the same ``n`` pairs with identities ``(n,)``."""
    if image_features.shape != text_features.shape or image_features.shape[0] != pids.shape[0]:
        raise ValueError(
            f"sdm_loss needs (n, d) image and text features and (n,) ids; got "
            f"{tuple(image_features.shape)}, {tuple(text_features.shape)}, {tuple(pids.shape)}"
        )
    image = F.normalize(image_features, dim=1)
    text = F.normalize(text_features, dim=1)
    labels = (pids[:, None] == pids[None, :]).to(image.dtype)
    target = labels / labels.sum(dim=1, keepdim=True)  # q: rows sum to 1 (labels are symmetric)
    log_target = torch.log(target + epsilon)
    image_to_text = image @ text.t() / temperature  # (n, n): row i = image i against every text
    loss = image.new_zeros(())
    for logits in (image_to_text, image_to_text.t()):
        log_p = F.log_softmax(logits, dim=1)
        loss = loss + (log_p.exp() * (log_p - log_target)).sum(dim=1).mean()
    return loss


def id_loss(image_logits: torch.Tensor, text_logits: torch.Tensor, pids: torch.Tensor) -> torch.Tensor:
    """Identity loss: mean of the image and text cross-entropies over the training identities."""
    return 0.5 * (F.cross_entropy(image_logits, pids) + F.cross_entropy(text_logits, pids))
