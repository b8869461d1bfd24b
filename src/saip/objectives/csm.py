"""CSM — cross-scale matching (method.md §1, "Objectives", CSM).

A DINO-style objective: the expert (EMA teacher or frozen model) produces a centred, sharpened
distribution over ``K`` prototypes for each of its views (the global views); the student produces a
distribution for every view (global views, local crops and the rescaled copies). The student is
trained to match the expert on every *other* view (cross-view, cross-scale).

With ``t_i`` the teacher logits of teacher view ``i`` (``i < T``), ``s_v`` the student logits of
student view ``v`` (``v < S``), ``c`` the centre, ``tau_t``/``tau_s`` the temperatures and ``B`` the batch::

    P_i = softmax((t_i - c) / tau_t)           Q_v = log_softmax(s_v / tau_s)
    L_csm = 1 / (T * (S - 1)) * sum_{i < T} sum_{v < S, v != i} 1/B sum_b [ - sum_k P_i[b, k] * Q_v[b, k] ]
    c <- m * c + (1 - m) * mean_{i, b} t_i[b]          (after the loss; all-reduced under DDP)

Student views ``0..T-1`` must be the same views as the teacher's (their pairs ``v == i`` are skipped).
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from timm.layers import trunc_normal_
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from saip.config.schema import CSM_CENTERINGS
from saip.objectives.sinkhorn import sinkhorn_knopp

CENTERINGS = CSM_CENTERINGS  # objectives.csm_centering
# logits of V views: V tensors (B, K), or one (V, B, K) tensor
ViewLogits = Tensor | list[Tensor] | tuple[Tensor, ...]


class CSMHead(nn.Module):
    """DINO projection head used by CSM: MLP -> L2-normalise -> weight-normalised linear (no bias).

    ``in_dim -> hidden_dim -> hidden_dim -> bottleneck_dim`` (GELU between, ``nlayers`` Linear layers in
    the MLP), then ``F.normalize`` and ``weight_norm(Linear(bottleneck_dim, out_dim, bias=False))`` whose
    norm ``g`` is fixed to 1 (and frozen when ``norm_last_layer``), so logits are cosine similarities
    to ``out_dim`` prototypes.

    Args:
        in_dim: width of the image token.
        out_dim: number of prototypes ``K``.
        hidden_dim: MLP hidden width.
        bottleneck_dim: width before the prototype layer.
        nlayers: number of Linear layers in the MLP (>= 1).
        norm_last_layer: freeze the weight-norm magnitude ``g`` at 1.

    Shapes:
        forward: ``(N, in_dim) -> (N, out_dim)``.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int = 65536,
        hidden_dim: int = 2048,
        bottleneck_dim: int = 256,
        nlayers: int = 3,
        norm_last_layer: bool = True,
    ) -> None:
        super().__init__()
        if nlayers < 1:
            raise ValueError(f"nlayers must be >= 1, got {nlayers}")
        layers: list[nn.Module]
        if nlayers == 1:
            layers = [nn.Linear(in_dim, bottleneck_dim)]
        else:
            layers = [nn.Linear(in_dim, hidden_dim), nn.GELU()]
            for _ in range(nlayers - 2):
                layers += [nn.Linear(hidden_dim, hidden_dim), nn.GELU()]
            layers.append(nn.Linear(hidden_dim, bottleneck_dim))
        self.mlp = nn.Sequential(*layers)
        self.mlp.apply(self._init_linear)
        # Prototype layer: W = g * v / ||v|| per output row; g fixed to 1.
        self.last_layer = weight_norm(nn.Linear(bottleneck_dim, out_dim, bias=False))
        g = self.last_layer.parametrizations.weight.original0  # (out_dim, 1)
        with torch.no_grad():
            g.fill_(1.0)
        if norm_last_layer:
            g.requires_grad_(False)

    @staticmethod
    def _init_linear(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def cancel_last_layer_gradients(self) -> None:
        """Drop the prototype layer's gradients (DINO's ``freeze_last_layer`` for the first epoch)."""
        for p in self.last_layer.parameters():
            p.grad = None

    def forward(self, x: Tensor) -> Tensor:
        x = self.mlp(x)  # (N, bottleneck)
        x = F.normalize(x, dim=-1, p=2)  # (N, bottleneck), unit norm
        return self.last_layer(x)  # (N, K)


def _stack_views(views: ViewLogits, name: str) -> Tensor:
    """``(V, B, K)`` float32 logits from a list of ``V`` ``(B, K)`` tensors, or from one ``(V, B, K)``
    tensor as it is (no copy: the one-head-call path of ``SAIPMethod`` passes its output so)."""
    if isinstance(views, Tensor):
        if views.dim() != 3 or views.shape[0] == 0:
            raise ValueError(f"{name} must be a (V, B, K) tensor, got {tuple(views.shape)}")
        return views.float()
    if len(views) == 0:
        raise ValueError(f"{name} must contain at least one view")
    shapes = {tuple(v.shape) for v in views}
    if len(shapes) != 1 or len(views[0].shape) != 2:
        raise ValueError(f"all {name} must be (B, K) tensors of one shape, got {sorted(shapes)}")
    return torch.stack([v.float() for v in views])  # (V, B, K)


class CSMLoss(nn.Module):
    """Cross-scale matching loss (method.md §1 CSM; DINO cross-entropy with centring and sharpening).

    Implements (see module docstring for notation)::

        L_csm = 1/(T*(S-1)) * sum_{i<T} sum_{v<S, v!=i} mean_b[ -sum_k softmax((t_i-c)/tau_t)_bk
                                                                  * log_softmax(s_v/tau_s)_bk ]

    Teacher logits are detached; the loss is computed in float32.

    Args:
        out_dim: number of prototypes ``K``.
        student_temp: ``tau_s`` (0.1).
        center_momentum: ``m`` of the centre EMA (0.9).
        centering: ``"center"`` (DINO: ``P_i = softmax((t_i - c) / tau_t)``) or ``"sinkhorn"``
            (DINOv2: ``P`` = Sinkhorn-Knopp over the batch and the teacher views of
            ``exp(t / tau_t)``, :func:`saip.objectives.sinkhorn.sinkhorn_knopp`; the centre is then
            still tracked but not used).
    """

    center: Tensor

    def __init__(
        self,
        out_dim: int,
        student_temp: float = 0.1,
        center_momentum: float = 0.9,
        centering: str = "center",
    ) -> None:
        super().__init__()
        if centering not in CENTERINGS:
            raise ValueError(f"centering must be one of {CENTERINGS}, got {centering!r}")
        self.out_dim = out_dim
        self.centering = centering
        self.student_temp = student_temp
        self.center_momentum = center_momentum
        self.register_buffer("center", torch.zeros(1, out_dim))
        self._pending: tuple[Tensor, Tensor] | None = None  # (sum (1, K), count) of this step

    def forward(
        self,
        student_outputs: ViewLogits,
        teacher_outputs: ViewLogits,
        teacher_temp: float,
        update_center: bool = True,
    ) -> Tensor:
        """Return the scalar CSM loss; then (if ``update_center``) update the centre.

        Args:
            student_outputs: ``S`` tensors ``(B, K)`` or one ``(S, B, K)`` tensor; the first ``T``
                are the teacher's views.
            teacher_outputs: ``T`` tensors ``(B, K)`` or one ``(T, B, K)`` tensor (expert logits on
                the global views).
            teacher_temp: ``tau_t`` for this step, from ``pretrain.schedules.teacher_temperature``.
            update_center: update the centre EMA with these teacher logits after computing the loss.
        """
        s = _stack_views(student_outputs, "student_outputs")  # (S, B, K)
        t = _stack_views(teacher_outputs, "teacher_outputs").detach()  # (T, B, K)
        n_s, n_t = s.shape[0], t.shape[0]
        if t.shape[1:] != s.shape[1:]:
            raise ValueError(
                f"teacher views {tuple(t.shape[1:])} and student views {tuple(s.shape[1:])} differ"
            )
        if n_s < n_t:
            raise ValueError(f"need at least as many student views ({n_s}) as teacher views ({n_t})")
        n_pairs = n_t * (n_s - 1)
        if n_pairs == 0:
            raise ValueError("CSM needs at least one cross-view pair (got 1 teacher and 1 student view)")

        with torch.autocast(device_type=s.device.type, enabled=False):  # float32 even under AMP
            t_prob = self.teacher_targets(t, teacher_temp)  # (T, B, K)
            s_logp = F.log_softmax(s / self.student_temp, dim=-1)  # (S, B, K)
            # ce[i, v] = mean_b -sum_k P_i[b,k] * Q_v[b,k]: one (T, B*K) x (B*K, S) product; its
            # gradient w.r.t. Q is contiguous, so log_softmax's backward needs no copy of it
            n_b = s.shape[1]
            ce = -(t_prob.reshape(n_t, -1) @ s_logp.reshape(n_s, -1).t()) / n_b  # (T, S)
        same_view = torch.eye(n_t, n_s, dtype=torch.bool, device=ce.device)  # (T, S), pairs v == i
        loss = ce.masked_fill(same_view, 0.0).sum() / n_pairs

        if update_center:
            self.update_center(teacher_outputs)
        return loss

    @torch.no_grad()
    def teacher_targets(self, t: Tensor, teacher_temp: float) -> Tensor:
        """The teacher's target distributions ``P`` for ``(T, B, K)`` logits (see ``centering``)."""
        if self.centering == "sinkhorn":
            return sinkhorn_knopp(t.flatten(0, 1), teacher_temp).view_as(t)
        return F.softmax((t.float() - self.center.float()) / teacher_temp, dim=-1)

    @torch.no_grad()
    def update_center(self, teacher_outputs: ViewLogits) -> None:
        """``c <- m*c + (1-m) * mean over batch and teacher views of the teacher logits``.

        The sum and count are all-reduced across ranks when ``torch.distributed`` is initialised.
        """
        self.accumulate_center(teacher_outputs)
        self.apply_center_update()

    @torch.no_grad()
    def accumulate_center(self, teacher_outputs: ViewLogits) -> None:
        """Add one micro-batch's teacher logits to the pending centre statistics (no update yet).

        With gradient accumulation the centre must move once per optimizer step over the whole
        accumulated batch, or its momentum becomes ``m ** accum_steps``. The pending sums are plain
        attributes, not buffers, so DDP's buffer broadcast cannot overwrite a rank's own sums.
        """
        t = _stack_views(teacher_outputs, "teacher_outputs").detach().float()  # (T, B, K)
        total = t.sum(dim=(0, 1)).unsqueeze(0)  # (1, K)
        count = t.new_tensor(float(t.shape[0] * t.shape[1]))
        if self._pending is None:
            self._pending = (total, count)
        else:
            self._pending = (self._pending[0] + total, self._pending[1] + count)

    @torch.no_grad()
    def apply_center_update(self) -> None:
        """Move the centre once with the pending statistics (all-reduced over ranks), then clear them."""
        if self._pending is None:
            return
        total, count = self._pending
        self._pending = None
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(total)
            dist.all_reduce(count)
        batch_center = total / count
        self.center.mul_(self.center_momentum).add_(
            batch_center.to(self.center.dtype), alpha=1 - self.center_momentum
        )

    @torch.no_grad()
    def diagnostics(
        self, student_outputs: ViewLogits, teacher_outputs: ViewLogits, teacher_temp: float
    ) -> dict[str, Tensor]:
        """:func:`csm_diagnostics` with this loss' centre and student temperature."""
        out = csm_diagnostics(
            student_outputs, teacher_outputs, teacher_temp, student_temp=self.student_temp, center=self.center
        )
        if self.centering == "sinkhorn":
            p = self.teacher_targets(_stack_views(teacher_outputs, "teacher_outputs"), teacher_temp)
            out["teacher_entropy"] = -(p * p.clamp_min(1e-12).log()).sum(-1).mean() / math.log(p.shape[-1])
        return out


@torch.no_grad()
def csm_diagnostics(
    student_outputs: ViewLogits,
    teacher_outputs: ViewLogits,
    teacher_temp: float,
    student_temp: float = 0.1,
    center: Tensor | None = None,
) -> dict[str, Tensor]:
    """Collapse alarms for CSM, computed without grad; values are 0-d float32 tensors (no host sync).

    - ``student_entropy``: mean over views and batch of ``H(softmax(s_v / tau_s)) / ln K``
      (1 = uniform, 0 = one-hot).
    - ``teacher_entropy``: same for the teacher's centred, sharpened ``softmax((t_i - c) / tau_t)``.
    - ``teacher_std``: std over the batch of the raw teacher logits, averaged over prototypes and views
      (0 = every image gets the same output, i.e. collapse).
    """
    s = _stack_views(student_outputs, "student_outputs")  # (S, B, K)
    t = _stack_views(teacher_outputs, "teacher_outputs")  # (T, B, K)
    log_k = math.log(s.shape[-1])
    c = 0.0 if center is None else center.float()

    def _norm_entropy(logits: Tensor) -> Tensor:
        logp = F.log_softmax(logits, dim=-1)
        return -(logp.exp() * logp).sum(-1).mean() / log_k

    teacher_std = t.std(dim=1).mean() if t.shape[1] > 1 else t.new_zeros(())
    return {
        "student_entropy": _norm_entropy(s / student_temp),
        "teacher_entropy": _norm_entropy((t - c) / teacher_temp),
        "teacher_std": teacher_std,
    }
