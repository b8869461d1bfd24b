"""DPAL: distil a frozen pretrained teacher into a lightweight student (method.md §2).

Per batch (``saip.data.SAIPBatch``), with the teacher frozen (:class:`saip.teachers.FrozenTeacher`):

- global (image level): D-PaDe of the student image token of the global view ``global_views[0]``
  and of each local crop regresses the teacher's image token of the global view (MSE);
- local (pixel level): D-PaDe of the student patch tokens of the global view regresses the
  teacher's patch tokens on the same grid, weighted towards the person (torch PCA of the teacher
  tokens with a fixed sign, :mod:`saip.objectives.person_weight`);
- relation (instance level): on the multi-person canvas, KL between the teacher's and the
  student's (D-PaDe output) token-affinity matrices softmax(F F^T / sqrt(d));
- routing: cross-entropy of the router towards each objective's expert, weight 0.1 then 0.01
  after ``routing_switch_progress`` of training (reference: epoch 20 of 200).

``L = w_g L_global + w_l L_local + w_r L_relation + w_route(progress) L_routing``. A zero weight
skips the term's computation (ablations).

``mode="feature"`` is the simpler feature-distillation baseline: cosine regression of the
student's image and patch tokens to the teacher's through linear width adapters (fast to learn on
a CPU; also the natural frozen expert recipe without D-PaDe).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from saip.backbones.output import BackboneOutput
from saip.methods.base import MethodOutput, PretrainMethod, ScheduleValues
from saip.objectives.dpade import EXPERT_NAMES, DPaDe, DPaDeOutput, routing_loss
from saip.objectives.dpal_losses import (
    cosine_distillation_loss,
    global_alignment_loss,
    local_alignment_loss,
    relation_alignment_loss,
)
from saip.objectives.person_weight import SIGN_RULES, person_weights
from saip.teachers import FrozenTeacher, LinearAdapter

MODES = ("dpade", "feature")


@dataclass
class DPALMethodConfig:
    """Options of :class:`DPALMethod` (defaults: the DPAL reference, reference-code.md §2.4).

    mode: "dpade" (DPAL) or "feature" (cosine feature-distillation baseline).
    global_weight, local_weight, relation_weight: objective weights (0 switches one off).
    routing_weight_start/end, routing_switch_progress: router CE weight, 0.1 then 0.01 once
        ``schedule.progress >= 0.1`` (epoch 20 of 200).
    rank, decoder_heads: D-PaDe low-rank size and attention heads.
    expert_norm_weight: optional penalty on the mixed map's squared Frobenius norm (reference 0.025
        with its /256 scaling; 0 here, see :mod:`saip.objectives.dpade`).
    max_local_views: use at most this many local crops in the global objective (None = all;
        reference: 2).
    person_weight_floor, person_weight_smooth, person_weight_sign: person weighting options.
    feature_patch_weight: patch term weight of the feature baseline.
    """

    mode: str = "dpade"
    global_weight: float = 1.0
    local_weight: float = 1.0
    relation_weight: float = 1.0
    routing_weight_start: float = 0.1
    routing_weight_end: float = 0.01
    routing_switch_progress: float = 0.1
    rank: int = 32
    decoder_heads: int = 4
    expert_norm_weight: float = 0.0
    max_local_views: int | None = None
    person_weight_floor: float = 0.1
    person_weight_smooth: bool = False
    person_weight_sign: str = "center"
    feature_patch_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"dpal.mode must be one of {MODES}, got {self.mode!r}")
        for name in (
            "global_weight",
            "local_weight",
            "relation_weight",
            "routing_weight_start",
            "routing_weight_end",
            "expert_norm_weight",
            "feature_patch_weight",
        ):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"dpal.{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.routing_switch_progress <= 1.0:
            raise ValueError(
                f"dpal.routing_switch_progress must be in [0, 1], got {self.routing_switch_progress}"
            )
        if not 0.0 <= self.person_weight_floor <= 1.0:
            raise ValueError(f"dpal.person_weight_floor must be in [0, 1], got {self.person_weight_floor}")
        if self.person_weight_sign not in SIGN_RULES:
            raise ValueError(
                f"dpal.person_weight_sign must be one of {SIGN_RULES}, got {self.person_weight_sign!r}"
            )
        if int(self.rank) <= 0 or int(self.decoder_heads) <= 0:
            raise ValueError(
                f"dpal.rank and dpal.decoder_heads must be > 0, got {self.rank}, {self.decoder_heads}"
            )
        if self.max_local_views is not None and int(self.max_local_views) < 0:
            raise ValueError(f"dpal.max_local_views must be >= 0 or None, got {self.max_local_views}")

    @classmethod
    def coerce(cls, value: Any) -> DPALMethodConfig:
        """From None, this class, a mapping or any dataclass with a subset of these fields (e.g.
        the run config's ``dpal`` section); unknown names are an error naming them."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if dataclasses.is_dataclass(value):
            value = dataclasses.asdict(value)
        if not isinstance(value, Mapping):
            raise TypeError(f"dpal config must be a mapping or dataclass, got {type(value).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(
                f"unknown dpal option(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        return cls(**dict(value))

    def routing_weight(self, progress: float | torch.Tensor) -> float | torch.Tensor:
        """Router CE weight at training progress ``progress`` in [0, 1] (a 0-d tensor under
        ``train.compile``: the switch is then a ``torch.where``, no branch on its value)."""
        if isinstance(progress, torch.Tensor):
            return torch.where(
                progress < self.routing_switch_progress, self.routing_weight_start, self.routing_weight_end
            )
        return (
            self.routing_weight_start if progress < self.routing_switch_progress else self.routing_weight_end
        )


class DPALMethod(PretrainMethod):
    """DPAL pretraining (see the module docstring).

    Args:
        student: the saip backbone being trained (``embed_dim`` Ds, stride 16).
        teacher: a :class:`FrozenTeacher` (``embed_dim`` Dt); never trained, never in train mode.
        config: :class:`DPALMethodConfig`, a mapping, or the run config's ``dpal`` dataclass.
    """

    def __init__(self, student: nn.Module, teacher: FrozenTeacher, config: Any = None) -> None:
        super().__init__()
        self.cfg = DPALMethodConfig.coerce(config)
        self.student = student
        self.teacher = teacher
        teacher.requires_grad_(False)
        Ds, Dt = int(student.embed_dim), int(teacher.embed_dim)
        if self.cfg.mode == "dpade":
            self.decoder = DPaDe(
                Ds, Dt, num_experts=len(EXPERT_NAMES), rank=self.cfg.rank, num_heads=self.cfg.decoder_heads
            )
        else:
            self.image_adapter = LinearAdapter(Ds, Dt)
            self.patch_adapter = LinearAdapter(Ds, Dt)

    # ------------------------------------------------------------------------------------ helpers
    def _teacher(self, batch, images: torch.Tensor, grid: tuple[int, int], view: str) -> BackboneOutput:
        keys = None
        if self.teacher.cache is not None:
            keys = [(int(batch.epoch), int(i), view) for i in batch.index.tolist()]
        return self.teacher(images, grid_size=grid, keys=keys)

    def _local_views(self, batch) -> torch.Tensor | None:
        local = batch.local_views
        limit = self.cfg.max_local_views
        if limit is not None:
            local = local[: int(limit)]
        return local if local.shape[0] > 0 else None

    # ------------------------------------------------------------------------------------ forward
    def forward(self, batch, schedule: ScheduleValues) -> MethodOutput:
        if self.cfg.mode == "feature":
            return self._feature_forward(batch)
        c = self.cfg
        g = batch.global_views[0]  # (B, 3, Hg, Wg)
        B = g.shape[0]
        s_g = self.student(g)
        t_g = self._teacher(batch, g, s_g.grid_size, "global0")
        total = g.new_zeros(())
        terms: dict[str, torch.Tensor] = {}
        routed: list[tuple[int, DPaDeOutput]] = []

        if c.global_weight > 0:
            tokens = [s_g.image_token]
            local = self._local_views(batch)
            if local is not None:
                tokens.append(self.student(local.flatten(0, 1)).image_token)
            tokens = torch.cat(tokens)  # (V*B, Ds), view-major
            out = self.decoder(tokens.unsqueeze(1))
            pred = out.features[:, 0].reshape(-1, B, out.features.shape[-1])  # (V, B, Dt)
            loss = global_alignment_loss(pred, t_g.image_token)
            terms["dpal/global"] = loss.detach()
            total = total + c.global_weight * loss
            routed.append((0, out))
        if c.local_weight > 0:
            out = self.decoder(s_g.patch_tokens)
            weight = person_weights(
                t_g.patch_tokens,
                t_g.grid_size,
                floor=c.person_weight_floor,
                smooth=c.person_weight_smooth,
                sign_rule=c.person_weight_sign,
            )
            loss = local_alignment_loss(out.features, t_g.patch_tokens, weight)
            terms["dpal/local"] = loss.detach()
            total = total + c.local_weight * loss
            routed.append((1, out))
        if c.relation_weight > 0:
            if batch.canvas is None:
                raise ValueError(
                    "dpal.relation_weight > 0 needs the multi-person canvas (data.views.make_canvas)"
                )
            s_c = self.student(batch.canvas)
            t_c = self._teacher(batch, batch.canvas, s_c.grid_size, "canvas")
            out = self.decoder(s_c.patch_tokens)
            loss = relation_alignment_loss(out.features, t_c.patch_tokens)
            terms["dpal/relation"] = loss.detach()
            total = total + c.relation_weight * loss
            routed.append((2, out))
        if not routed:
            raise ValueError("DPAL: every objective weight is 0 (dpal.global/local/relation_weight)")

        loss_route = torch.stack([routing_loss(out.router_logits, expert) for expert, out in routed]).mean()
        terms["dpal/routing"] = loss_route.detach()
        total = total + c.routing_weight(schedule.progress) * loss_route
        if c.expert_norm_weight > 0:
            norm = torch.stack([out.weight_sq_norm.mean() for _, out in routed]).mean()
            terms["dpal/expert_norm"] = norm.detach()
            total = total + c.expert_norm_weight * norm
        return MethodOutput(loss=total, terms=terms, diagnostics=self._diagnostics(routed, schedule))

    def _diagnostics(
        self, routed: list[tuple[int, DPaDeOutput]], schedule: ScheduleValues
    ) -> dict[str, torch.Tensor]:
        """Router entropy, per-expert usage (mean routing probability), routing accuracy."""
        with torch.no_grad():
            probs = torch.cat([out.router_probs.float() for _, out in routed])  # (M, K)
            entropy = -(probs * probs.clamp_min(1e-12).log()).sum(-1).mean()
            diagnostics = {
                "dpal/router_entropy": entropy,
                "dpal/routing_weight": torch.as_tensor(
                    self.cfg.routing_weight(schedule.progress), dtype=probs.dtype, device=probs.device
                ),
            }
            usage = probs.mean(0)
            for k, name in enumerate(EXPERT_NAMES):
                diagnostics[f"dpal/expert_usage/{name}"] = usage[k]
            hits = torch.cat([(out.router_probs.argmax(-1) == expert).float() for expert, out in routed])
            diagnostics["dpal/routing_accuracy"] = hits.mean()
        return diagnostics

    def _feature_forward(self, batch) -> MethodOutput:
        """Feature-distillation baseline: 1 - cos on image and patch tokens through adapters."""
        g = batch.global_views[0]
        s_g = self.student(g)
        t_g = self._teacher(batch, g, s_g.grid_size, "global0")
        loss_image = cosine_distillation_loss(self.image_adapter(s_g.image_token), t_g.image_token)
        loss_patch = cosine_distillation_loss(self.patch_adapter(s_g.patch_tokens), t_g.patch_tokens)
        total = self.cfg.global_weight * loss_image + self.cfg.feature_patch_weight * loss_patch
        terms = {"dpal/feature_image": loss_image.detach(), "dpal/feature_patch": loss_patch.detach()}
        return MethodOutput(loss=total, terms=terms, diagnostics={})
