"""The contract between the training loop and a pretraining method (SAIP, SAIP*, DPAL, ...).

Data flows one way (design.md): batch of views -> encoders -> decoders -> losses. A method
never reads the epoch or keeps a step counter: the loop computes every schedule value and passes
it in as :class:`ScheduleValues`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ScheduleValues:
    """Schedule values for one optimizer step, computed by the loop from the global step."""

    step: int  # global optimizer step (0-based)
    total_steps: int
    lr: float
    weight_decay: float
    momentum: float  # EMA momentum of the expert for this step
    teacher_temp: float  # CSM teacher temperature for this step (0-d tensor under train.compile)
    progress: float  # step / total_steps, in [0, 1] (0-d tensor under train.compile)
    log: bool = True  # this step is logged: methods compute their (diagnostic-only) extras


@dataclass
class MethodOutput:
    """What a method returns for one micro-batch.

    ``loss`` is the weighted total to back-propagate; ``terms`` are the individual (weighted
    and unweighted where useful) loss values for logging, ``diagnostics`` are detached scalars
    such as entropies for the collapse alarms. Every value in ``terms``/``diagnostics`` is a
    0-d tensor; the loop logs each under its own name.
    """

    loss: torch.Tensor
    terms: dict[str, torch.Tensor]
    diagnostics: dict[str, torch.Tensor]


class PretrainMethod(nn.Module, metaclass=abc.ABCMeta):
    """Base class of pretraining methods.

    Subclasses own the student backbone (attribute ``student``, a :class:`saip.backbones.Backbone`),
    their decoders and their expert (EMA copy or frozen teacher; excluded from the optimizer by
    ``requires_grad=False``), and implement :meth:`forward` and, when they have an EMA expert,
    :meth:`update_expert`.
    """

    student: nn.Module

    @abc.abstractmethod
    def forward(self, batch, schedule: ScheduleValues) -> MethodOutput:
        """Compute the losses of one micro-batch (a :class:`saip.data` batch already on the device)."""

    @torch.no_grad()
    def update_expert(self, schedule: ScheduleValues) -> None:
        """Called once per optimizer step (never per micro-step), after ``optimizer.step()``."""

    def extra_state(self) -> dict:
        """Non-parameter state to checkpoint besides ``state_dict()`` (buffers are already in it)."""
        return {}
