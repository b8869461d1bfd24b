"""Frozen pretrained teachers: the DPAL teacher (method.md §2) and the SAIP* expert (method.md §1)."""

from saip.teachers.adapter import LinearAdapter
from saip.teachers.cache import TeacherFeatureCache
from saip.teachers.frozen import FrozenTeacher
from saip.teachers.loading import (
    BUILTIN_TEACHERS,
    EFFICIENTNET_LITE0_IMAGENET,
    TeacherInfo,
    build_teacher,
    build_teacher_backbone,
    create_efficientnet_lite0_imagenet_classifier,
    efficientnet_lite0_checkpoint_path,
    efficientnet_lite0_imagenet_state_dict,
)

__all__ = [
    "BUILTIN_TEACHERS",
    "EFFICIENTNET_LITE0_IMAGENET",
    "FrozenTeacher",
    "LinearAdapter",
    "TeacherFeatureCache",
    "TeacherInfo",
    "build_teacher",
    "build_teacher_backbone",
    "create_efficientnet_lite0_imagenet_classifier",
    "efficientnet_lite0_checkpoint_path",
    "efficientnet_lite0_imagenet_state_dict",
]
