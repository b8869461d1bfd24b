"""Pretraining: the loop, schedules, checkpoints, alarms (method.md §1 "Training recipe")."""

from saip.pretrain.alarms import TrainingDiverged, TrainingInterrupted
from saip.pretrain.loop import Trainer, pretrain

__all__ = ["Trainer", "TrainingDiverged", "TrainingInterrupted", "pretrain"]

from saip._callable_package import make_callable  # noqa: E402

make_callable(__name__, "pretrain")  # saip.pretrain(...) is saip.api.pretrain(...)
