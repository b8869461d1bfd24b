"""Collapse and no-learning alarms computed from the logged diagnostics (issue: "the default run must learn").

- CSM collapse: the expert gives every image the same output (teacher std across the batch ~ 0),
  or its distribution is one-hot for everything (teacher entropy / ln K ~ 0) -> stop the run.
- CSM flat: student and teacher entropies both ~ ln K (uniform outputs: nothing learned yet).
- CSR flat: reconstruction loss ~ 1.0, the loss of predicting each patch's mean (targets are
  normalised per patch), i.e. no better than the trivial predictor.
"""

from __future__ import annotations

from dataclasses import dataclass


class TrainingDiverged(RuntimeError):
    """A NaN/inf or a collapse stopped the run; the last good checkpoint is kept."""


class TrainingInterrupted(RuntimeError):
    """SIGTERM/SIGUSR1 (a scheduler's pre-emption) stopped the run after writing a checkpoint."""


@dataclass
class AlarmThresholds:
    collapse_std: float = 1e-4
    collapse_entropy: float = 0.02
    flat_entropy: float = 0.98
    flat_csr: float = 0.98
    patience: int = 3  # consecutive logged steps before the alarm fires


class AlarmMonitor:
    """Feeds on logged scalars; returns warnings, raises :class:`TrainingDiverged` on collapse."""

    def __init__(self, thresholds: AlarmThresholds | None = None, stop_on_collapse: bool = True) -> None:
        self.t = thresholds or AlarmThresholds()
        self.stop_on_collapse = stop_on_collapse
        self._collapse_count = 0

    def check(self, step: int, scalars: dict[str, float], past_warmup: bool) -> list[str]:
        warnings: list[str] = []
        std = scalars.get("csm/teacher_std")
        t_ent = scalars.get("csm/teacher_entropy")
        s_ent = scalars.get("csm/student_entropy")
        collapsed = std is not None and (
            std < self.t.collapse_std
            or (t_ent is not None and t_ent < self.t.collapse_entropy and std < 10 * self.t.collapse_std)
        )
        self._collapse_count = self._collapse_count + 1 if (collapsed and past_warmup) else 0
        if self._collapse_count >= self.t.patience:
            msg = (
                f"step {step}: CSM collapse — the expert's outputs no longer differ between images "
                f"(teacher std {std:.2e}, teacher entropy/lnK {t_ent}). Lower the lr or the teacher "
                "temperature, or raise the centre momentum."
            )
            if self.stop_on_collapse:
                raise TrainingDiverged(msg)
            warnings.append(msg)
        if (
            s_ent is not None
            and t_ent is not None
            and s_ent > self.t.flat_entropy
            and t_ent > self.t.flat_entropy
        ):
            warnings.append(f"CSM flat: entropies at {s_ent:.3f}/{t_ent:.3f} of ln K (uniform outputs)")
        csr = scalars.get("csr/vs_trivial")
        if csr is not None and csr > self.t.flat_csr and past_warmup:
            warnings.append(f"CSR flat: loss {csr:.3f} ~ trivial mean predictor (1.0)")
        return warnings
