"""Pretraining: the loop, schedules, checkpoints, alarms (method.md §1 "Training recipe")."""

from saip.pretrain.alarms import TrainingDiverged, TrainingInterrupted
from saip.pretrain.loop import Trainer, pretrain

__all__ = ["Trainer", "TrainingDiverged", "TrainingInterrupted", "pretrain"]
