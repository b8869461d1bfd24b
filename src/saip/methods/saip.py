"""SAIP: the three cross-scale objectives against an EMA or a frozen expert (method.md §1).

One forward computes, for a batch of views (``saip.data.SAIPBatch``):

- CSM: the student encodes every view (2 global, local crops, rescaled copies); the expert encodes
  the global views. EMA expert: DINO cross-entropy between the expert's centred, sharpened
  distribution and the student's on every other view (``CSMLoss``), optionally + attention KL.
  Frozen expert (SAIP*): the prototype space of a frozen model of another width is not defined,
  so CSM becomes cross-scale *feature* matching through a learned projector: 1 - cos between the
  projected student image token of a view and standardised expert image tokens, plus patch-token
  matching on the global views (``objectives.feature_patch_weight``). Pairing
  (``objectives.feature_pairing``): "same" matches every view to the expert's token of the same
  content — a global or local view to itself, a rescaled copy (the person at another scale) to its
  source view; "cross" matches every view to each global expert view (DINO's pairing), which also
  asks for invariance to the other crop's colour jitter and loses the colour cues persons differ by.
- CSR: the student encodes the visible 25% of the rescaled view; the decoder reconstructs its
  masked patches while cross-attending to the student's anchor-view tokens (``CSRDecoder``).
- CSS: the student encodes each query person; the expert encodes the multi-person canvas; the
  decoder predicts where the query sits (``CSSDecoder``, BCE (+ dice) on box masks).

L = w_csm L_csm + w_csr L_csr + w_css L_css; a zero weight builds no module and computes nothing.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from saip.backbones import Backbone, BackboneOutput
from saip.backbones.norm_stats import batchnorm_statistics_frozen
from saip.config.schema import FEATURE_PAIRINGS, ObjectivesConfig
from saip.experts import ema_update, make_ema_copy
from saip.methods.base import MethodOutput, PretrainMethod, ScheduleValues
from saip.objectives import CSMHead, CSMLoss, CSRDecoder, CSSDecoder, attention_kl, csr_loss, css_loss
from saip.objectives.koleo import koleo_loss


class FeatureProjector(nn.Module):
    """MLP mapping student tokens to the frozen expert's width (SAIP* "linear adapter", made 2-layer)."""

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 1024) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def standardize(features: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """Zero-mean, unit-variance per channel over ``dims`` (the batch, and positions for patch tokens).

    Frozen teachers' pooled features share a large common component; matching raw features lets the
    student reach a low loss by predicting that mean for every image (measured: 1 - cos plateaued at
    0.67 with a probe no better than random init). Standardised targets keep only what differs
    between images and positions. Under DDP the mean and (unbiased) std are those of the global
    batch (sums all-reduced over ranks), so the targets do not depend on how the batch is split.
    """
    features = features.float()
    distributed = dist.is_available() and dist.is_initialized()
    if not distributed:  # one process: torch's own reductions (bit-identical to earlier runs)
        return (features - features.mean(dims, keepdim=True)) / (features.std(dims, keepdim=True) + 1e-6)
    count = features.new_tensor(float(features.numel() // features.sum(dims, keepdim=True).numel()))
    total = features.sum(dims, keepdim=True)
    if distributed:
        stats = torch.cat([total.flatten(), count.view(1)])
        dist.all_reduce(stats)
        total, count = stats[:-1].view_as(total), stats[-1]
    mean = total / count
    squares = (features - mean).square().sum(dims, keepdim=True)
    if distributed:
        dist.all_reduce(squares)
    std = (squares / (count - 1)).sqrt()
    return (features - mean) / (std + 1e-6)


def cosine_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean of 1 - cos(a, b) over leading dimensions (feature matching against a frozen expert)."""
    return (1.0 - F.cosine_similarity(a.float(), b.float(), dim=-1)).mean()


class SAIPMethod(PretrainMethod):
    """SAIP (EMA expert) and SAIP* (frozen expert) pretraining; see the module docstring.

    Args:
        student: the image encoder being trained.
        objectives: loss weights and decoder shapes.
        frozen_expert: a frozen teacher module (SAIP*) returning :class:`BackboneOutput`-like
            objects with ``image_token`` and ``patch_grid`` at stride 16, with ``embed_dim``;
            ``None`` for the EMA expert.
    """

    def __init__(
        self, student: Backbone, objectives: ObjectivesConfig, frozen_expert: nn.Module | None = None
    ):
        super().__init__()
        o = objectives
        self.cfg = o
        self.student = student
        dim = student.embed_dim
        self.frozen = frozen_expert is not None
        self.use_csm, self.use_csr, self.use_css = o.csm_weight > 0, o.csr_weight > 0, o.css_weight > 0
        self.use_attn_kl = o.attention_kl_weight > 0 and not self.frozen
        if self.use_attn_kl and not hasattr(student, "num_heads"):
            raise ValueError("objectives.attention_kl_weight > 0 needs a ViT student (attention maps)")

        if self.frozen:
            if o.feature_pairing not in FEATURE_PAIRINGS:
                raise ValueError(
                    f"objectives.feature_pairing must be one of {FEATURE_PAIRINGS}, got {o.feature_pairing!r}"
                )
            self.expert = frozen_expert
            expert_dim = frozen_expert.embed_dim
            if self.use_csm:
                self.csm_projector = FeatureProjector(dim, expert_dim)
                self.patch_projector = nn.Linear(dim, expert_dim) if o.feature_patch_weight > 0 else None
        else:
            expert_dim = dim
            if self.use_csm:
                self.csm_head = CSMHead(dim, o.csm_out_dim, o.csm_hidden_dim, o.csm_bottleneck_dim)
                self.csm_loss = CSMLoss(o.csm_out_dim, o.student_temp, o.center_momentum, o.csm_centering)
                self.expert_csm_head = make_ema_copy(self.csm_head)
            self.expert = make_ema_copy(student)
        if self.use_csr:
            self.csr_decoder = CSRDecoder(dim, o.csr_dim, o.csr_depth, o.csr_heads, patch_size=student.stride)
        if self.use_css:
            self.css_decoder = CSSDecoder(dim, expert_dim, o.css_hidden_dim, o.css_heads)
        self.train()

    def train(self, mode: bool = True) -> SAIPMethod:
        """Train mode for the student and decoders; the expert always runs in eval mode.

        An EMA expert is a copy of the student, stochastic depth and dropout included: in train mode
        two forwards of the same image would give different targets (DINO's teacher has no drop
        path either). Its BatchNorm layers normalise with their EMA running statistics.
        """
        super().train(mode)
        self.expert.train(False)
        if hasattr(self, "expert_csm_head"):
            self.expert_csm_head.train(False)
        return self

    # ------------------------------------------------------------------------------------ encoders
    def _encode_views(self, batch, need_attention: bool) -> dict[str, BackboneOutput]:
        """Student outputs for every view a loss needs, keyed by view name ("global0", "local3", ...)."""
        outputs: dict[str, BackboneOutput] = {}
        g = batch.global_views  # (2, B, 3, Hg, Wg)
        n_b = g.shape[1]
        out = self.student(g.flatten(0, 1), return_attention=need_attention)
        for i in range(2):
            outputs[f"global{i}"] = _slice(out, i * n_b, (i + 1) * n_b)
        need_locals = (
            self.use_csm
            or (self.use_css and any(s.startswith("local") for s in batch.css_query_sources))
            or (self.use_csr and batch.csr_anchor_source.startswith("local"))
        )
        n_local = batch.local_views.shape[0]
        if need_locals and n_local > 0:
            out = self.student(batch.local_views.flatten(0, 1))
            for i in range(n_local):
                outputs[f"local{i}"] = _slice(out, i * n_b, (i + 1) * n_b)
        if self.use_csm:
            for i, view in enumerate(batch.scaled_views):
                outputs[f"scaled{i}"] = self.student(view)
        return outputs

    def _view_name(self, name: str, n_local: int) -> str:
        return f"local{n_local - 1}" if name == "local-1" else name

    @torch.no_grad()
    def _expert(self, images: torch.Tensor, need_attention: bool = False) -> BackboneOutput:
        if self.frozen:
            return self.expert(images)
        return self.expert(images, return_attention=need_attention)

    # ------------------------------------------------------------------------------------ forward
    def forward(self, batch, schedule: ScheduleValues) -> MethodOutput:
        o = self.cfg
        terms: dict[str, torch.Tensor] = {}
        diagnostics: dict[str, torch.Tensor] = {}
        total = batch.global_views.new_zeros(())
        n_local = batch.local_views.shape[0]
        s_out = self._encode_views(batch, need_attention=self.use_attn_kl)
        student_views = (
            ["global0", "global1"]
            + [f"local{i}" for i in range(n_local)]
            + [f"scaled{i}" for i in range(len(batch.scaled_views))]
        )

        if self.use_csm or self.use_attn_kl:
            g = batch.global_views
            t_out = self._expert(g.flatten(0, 1), need_attention=self.use_attn_kl)
            n_b = g.shape[1]
            t_views = [_slice(t_out, 0, n_b), _slice(t_out, n_b, 2 * n_b)]
        if self.use_csm:
            if self.frozen:
                loss_csm = self._feature_matching(batch, s_out, student_views, t_views, terms)
            else:
                # one head call over every view (the weight-normed prototypes are built once)
                tokens = torch.cat([s_out[v].image_token for v in student_views])  # (S*B, D)
                s_logits = self.csm_head(tokens).unflatten(0, (len(student_views), n_b))  # (S, B, K)
                with torch.no_grad():
                    t_logits = self.expert_csm_head(torch.cat([t.image_token for t in t_views])).unflatten(
                        0, (len(t_views), n_b)
                    )  # (T, B, K)
                loss_csm = self.csm_loss(s_logits, t_logits, schedule.teacher_temp, update_center=False)
                self.csm_loss.accumulate_center(t_logits)  # applied once per optimizer step
                if schedule.log:  # the collapse diagnostics are only read on log steps
                    for key, value in self.csm_loss.diagnostics(
                        s_logits, t_logits, schedule.teacher_temp
                    ).items():
                        diagnostics[f"csm/{key}"] = value
            terms["loss/csm"] = loss_csm.detach()
            total = total + o.csm_weight * loss_csm
        if self.use_attn_kl:
            s_attn = [s_out["global0"].attention, s_out["global1"].attention]
            loss_attn = sum(attention_kl(s, t.attention) for s, t in zip(s_attn, t_views, strict=True)) / 2
            terms["loss/attn_kl"] = loss_attn.detach()
            total = total + o.attention_kl_weight * loss_attn

        if o.koleo_weight > 0:  # DINOv2's spread term on the student's global image tokens
            loss_koleo = (
                koleo_loss(s_out["global0"].image_token) + koleo_loss(s_out["global1"].image_token)
            ) / 2
            terms["loss/koleo"] = loss_koleo.detach()
            total = total + o.koleo_weight * loss_koleo

        if self.use_csr:
            loss_csr = self._csr(batch, s_out)
            terms["loss/csr"] = loss_csr.detach()
            diagnostics["csr/vs_trivial"] = loss_csr.detach()  # predicting the patch mean scores 1.0
            total = total + o.csr_weight * loss_csr

        if self.use_css:
            loss_css = self._css(batch, s_out, n_local)
            terms["loss/css"] = loss_css.detach()
            total = total + o.css_weight * loss_css

        return MethodOutput(loss=total, terms=terms, diagnostics=diagnostics)

    def _feature_matching(self, batch, s_out, student_views, t_views, terms) -> torch.Tensor:
        """SAIP* CSM: projected student image tokens vs standardised expert image tokens (see the
        module docstring for the two pairings), plus patch-token matching on the global views."""
        targets = {f"global{i}": standardize(t.image_token, (0,)) for i, t in enumerate(t_views)}
        if self.cfg.feature_pairing == "cross":
            pairs = [(v, target) for v in student_views for target in targets]
        else:
            n_local = batch.local_views.shape[0]
            if n_local > 0:
                local = self._expert(batch.local_views.flatten(0, 1)).image_token.unflatten(0, (n_local, -1))
                targets.update({f"local{i}": standardize(local[i], (0,)) for i in range(n_local)})
            sources = {f"scaled{i}": self._view_name(s, n_local) for i, s in enumerate(batch.scaled_sources)}
            pairs = [(v, sources.get(v, v)) for v in student_views]
        loss = torch.stack(
            [cosine_distance(self.csm_projector(s_out[v].image_token), targets[t]) for v, t in pairs]
        ).mean()
        if self.patch_projector is not None:
            patch_terms = []
            for i, t in enumerate(t_views):
                s = s_out[f"global{i}"]
                target = t.patch_grid
                if target.shape[-2:] != tuple(s.grid_size):
                    target = F.interpolate(target, size=s.grid_size, mode="bilinear", align_corners=False)
                target = standardize(target.flatten(2).transpose(1, 2), (0, 1))  # (B, N, Dt)
                patch_terms.append(cosine_distance(self.patch_projector(s.patch_tokens), target))
            loss_patch = torch.stack(patch_terms).mean()
            terms["loss/csm_patch"] = loss_patch.detach()
            loss = loss + self.cfg.feature_patch_weight * loss_patch
        return loss

    def _csr(self, batch, s_out) -> torch.Tensor:
        view = batch.csr_view  # (B, 3, Hr, Wr)
        with batchnorm_statistics_frozen(self.student):  # masked images stay out of BN running stats
            visible = self.student(view, ids_keep=batch.csr_ids_keep)
        anchor = s_out[self._view_name(batch.csr_anchor_source, batch.local_views.shape[0])]
        anchor_tokens = torch.cat([anchor.image_token.unsqueeze(1), anchor.patch_tokens], dim=1)
        grid = (view.shape[-2] // self.student.stride, view.shape[-1] // self.student.stride)
        pred = self.csr_decoder(
            visible.patch_tokens, batch.csr_ids_restore, grid, anchor_tokens, anchor.grid_size
        )
        return csr_loss(pred, view, batch.csr_mask, patch_size=self.student.stride, norm_pix=True)

    def _css(self, batch, s_out, n_local: int) -> torch.Tensor:
        canvas_grid = self._expert(batch.canvas).patch_grid  # (B, Dc, h, w), no grad
        queries = []
        for name in batch.css_query_sources:  # views of different sizes: encoded one by one
            q = s_out[self._view_name(name, n_local)]
            queries.append(
                self.css_decoder.encode_queries(torch.cat([q.image_token.unsqueeze(1), q.patch_tokens], 1))
            )
        logits = self.css_decoder.search(
            torch.stack(queries, dim=1), canvas_grid
        )  # (B, K, h, w), one conv pass
        # the mean over (B, K, h, w) is the mean of the K per-person losses (equal sizes)
        return css_loss(logits, batch.canvas_masks[:, : len(queries)], self.cfg.css_dice_weight)

    # ------------------------------------------------------------------------------------ expert
    @torch.no_grad()
    def update_expert(self, schedule: ScheduleValues) -> None:
        if self.frozen:
            return
        ema_update(self.expert, self.student, schedule.momentum)
        if self.use_csm:
            ema_update(self.expert_csm_head, self.csm_head, schedule.momentum)
            self.csm_loss.apply_center_update()


def _slice(out: BackboneOutput, start: int, stop: int) -> BackboneOutput:
    """Rows ``start:stop`` of a batched backbone output (views encoded together are split again)."""
    return BackboneOutput(
        image_token=out.image_token[start:stop],
        patch_tokens=out.patch_tokens[start:stop],
        grid_size=out.grid_size,
        ids_keep=None if out.ids_keep is None else out.ids_keep[start:stop],
        attention=None if out.attention is None else out.attention[start:stop],
    )
