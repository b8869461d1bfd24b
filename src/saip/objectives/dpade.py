"""D-PaDe, DPAL's dynamic pattern decoder (method.md §2; reference-code.md §2.3).

A mixture of ``K = 3`` experts — 0 global identity, 1 local shape, 2 multi-person relation — each a
per-image linear map from the student width ``Ds`` to the teacher width ``Dt`` that is *generated*
from a learned pattern query (hypernetwork), mixed by a router:

1. tokens ``x (B, S, Ds)`` -> ``x' = LN(x + SA(x))`` (reference: post-norm, no pre-norm);
2. router: a learned query attends over ``x'`` -> logits over the experts -> softmax ``p (B, K)``;
3. expert generator: pattern queries ``P (K, Ds)`` self-attend, then cross-attend to ``x``;
4. ``W = sum_k p_k W_k(P_k)``; output ``y = LN(GELU(x' @ W)) (B, S, Dt)``.

Deviation (documented): the reference generates each ``W_k`` with ``Linear(Ds, Ds*Dt)`` applied to
the query, i.e. 28M parameters for 192 -> 768 (5x the student), too heavy for a CPU default. Here
each generated map is a static base plus a query-modulated low-rank correction::

    W_k(b) = W0_k + U_k diag(g_k(b)) V_k,   g_k(b) = G_k LN(P_k(b)),   rank r = 32 by default,

so the map still depends on the image through its pattern query (same hypernetwork idea, rank-r
instead of full-rank updates) at ``K (Ds Dt + r (2 Ds + Dt))`` parameters. The reference also
divides ``W`` by the per-GPU batch size (256) and penalises ``0.025 ||W||_F^2``; with the output
LayerNorm the scale of ``W`` is immaterial, so neither is done by default (``weight_sq_norm`` is
returned for an optional penalty).

Routing is supervised (reference): each objective names its expert and the router's logits get a
cross-entropy towards it (:func:`routing_loss`); the output is always the soft mixture.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from timm.layers import trunc_normal_
from torch import nn

from saip.objectives.blocks import CrossAttention, SelfAttention, init_decoder_weights

EXPERT_GLOBAL, EXPERT_LOCAL, EXPERT_RELATION = 0, 1, 2
EXPERT_NAMES: tuple[str, ...] = ("global", "local", "relation")


@dataclass
class DPaDeOutput:
    """``features (B, S, Dt)``; ``router_logits``/``router_probs (B, K)``; ``weight_sq_norm (B,)``."""

    features: torch.Tensor
    router_logits: torch.Tensor
    router_probs: torch.Tensor
    weight_sq_norm: torch.Tensor


def routing_loss(router_logits: torch.Tensor, expert: int) -> torch.Tensor:
    """Cross-entropy between router logits ``(B, K)`` and the objective's expert id (DPAL aux loss)."""
    target = torch.full((router_logits.shape[0],), int(expert), dtype=torch.long, device=router_logits.device)
    return F.cross_entropy(router_logits.float(), target)


class DPaDe(nn.Module):
    """Dynamic pattern decoder ``(B, S, Ds) -> (B, S, Dt)`` with a supervised 3-expert router.

    Args:
        student_dim, teacher_dim: widths ``Ds`` and ``Dt``.
        num_experts: K (3 in DPAL: global identity, local shape, multi-person relation).
        rank: rank r of each expert's query-generated correction.
        num_heads: attention heads of the token block, router and generator (divides ``Ds``).
    """

    def __init__(
        self, student_dim: int, teacher_dim: int, num_experts: int = 3, rank: int = 32, num_heads: int = 4
    ) -> None:
        super().__init__()
        if student_dim % num_heads:
            raise ValueError(f"D-PaDe: num_heads={num_heads} must divide the student width {student_dim}")
        if rank <= 0 or num_experts <= 0:
            raise ValueError(f"D-PaDe: rank and num_experts must be > 0, got {rank}, {num_experts}")
        Ds, Dt, K = int(student_dim), int(teacher_dim), int(num_experts)
        self.student_dim, self.teacher_dim, self.num_experts, self.rank = Ds, Dt, K, int(rank)
        # 1. token block (reference: x' = norm2(x + attn(x)))
        self.token_attn = SelfAttention(Ds, num_heads)
        self.token_norm = nn.LayerNorm(Ds)
        # 2. router
        self.router_query = nn.Parameter(torch.zeros(1, 1, Ds))
        self.router_norm = nn.LayerNorm(Ds)
        self.router_attn = CrossAttention(Ds, num_heads)
        self.router_head = nn.Linear(Ds, K)
        # 3. expert generator
        self.pattern_queries = nn.Parameter(torch.zeros(1, K, Ds))
        self.pattern_norm1 = nn.LayerNorm(Ds)
        self.pattern_self = SelfAttention(Ds, num_heads)
        self.pattern_norm2 = nn.LayerNorm(Ds)
        self.context_norm = nn.LayerNorm(Ds)
        self.pattern_cross = CrossAttention(Ds, num_heads)
        self.gate_norm = nn.LayerNorm(Ds)
        self.gate_weight = nn.Parameter(torch.zeros(K, Ds, self.rank))
        self.gate_bias = nn.Parameter(torch.ones(K, self.rank))
        # 4. expert maps
        self.base = nn.Parameter(torch.zeros(K, Ds, Dt))
        self.down = nn.Parameter(torch.zeros(K, Ds, self.rank))
        self.up = nn.Parameter(torch.zeros(K, self.rank, Dt))
        self.out_norm = nn.LayerNorm(Dt)
        self.apply(init_decoder_weights)
        for p in (self.router_query, self.pattern_queries, self.base, self.gate_weight):
            trunc_normal_(p, std=0.02)
        trunc_normal_(self.down, std=Ds**-0.5)
        trunc_normal_(self.up, std=0.02)

    def route(self, tokens: torch.Tensor) -> torch.Tensor:
        """Router logits ``(B, K)`` for the block-processed tokens ``x' (B, S, Ds)``."""
        query = self.router_norm(self.router_query.expand(tokens.shape[0], -1, -1))
        return self.router_head(self.router_attn(query, tokens)[:, 0])

    def expert_gates(self, tokens: torch.Tensor) -> torch.Tensor:
        """Per-image low-rank gates ``g (B, K, r)`` generated from the pattern queries and ``tokens``."""
        P = self.pattern_queries.expand(tokens.shape[0], -1, -1)
        P = P + self.pattern_self(self.pattern_norm1(P))
        P = P + self.pattern_cross(self.pattern_norm2(P), self.context_norm(tokens))
        return torch.einsum("bkd,kdr->bkr", self.gate_norm(P), self.gate_weight) + self.gate_bias

    def expert_maps(self, gates: torch.Tensor) -> torch.Tensor:
        """All experts' per-image maps ``W_k(b) (B, K, Ds, Dt)`` (for inspection and tests)."""
        low_rank = torch.einsum("kir,bkr,krj->bkij", self.down, gates, self.up)
        return self.base.unsqueeze(0) + low_rank

    def mixed_map(self, probs: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        """``W(b) = sum_k p_k W_k(b)`` ``(B, Ds, Dt)`` without materialising every expert."""
        base = torch.einsum("bk,kij->bij", probs, self.base)
        scaled = self.down.unsqueeze(0) * (probs.unsqueeze(-1) * gates).unsqueeze(2)  # (B, K, Ds, r)
        low_rank = torch.einsum("bkir,krj->bij", scaled, self.up)
        return base + low_rank

    def forward(self, tokens: torch.Tensor) -> DPaDeOutput:
        """Decode student tokens ``(B, S, Ds)`` (``S = 1`` for an image token) to the teacher width."""
        if tokens.dim() != 3 or tokens.shape[-1] != self.student_dim:
            raise ValueError(f"D-PaDe expects (B, S, {self.student_dim}) tokens, got {tuple(tokens.shape)}")
        x = self.token_norm(tokens + self.token_attn(tokens))
        logits = self.route(x)
        probs = logits.softmax(dim=-1)
        W = self.mixed_map(probs, self.expert_gates(tokens))
        features = self.out_norm(F.gelu(torch.bmm(x, W)))
        return DPaDeOutput(features, logits, probs, W.pow(2).sum(dim=(1, 2)))
