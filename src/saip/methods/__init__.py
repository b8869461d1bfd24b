"""Pretraining methods: SAIP / SAIP* (:mod:`saip.methods.saip`) and DPAL (:mod:`saip.methods.dpal`)."""

from saip.methods.base import MethodOutput, PretrainMethod, ScheduleValues

__all__ = ["MethodOutput", "PretrainMethod", "ScheduleValues"]
