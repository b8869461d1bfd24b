"""SAIP* feature matching (frozen expert): which expert feature each student view is matched to."""

from __future__ import annotations

import pytest
import torch

import saip  # noqa: F401
from saip.backbones import create_backbone
from saip.config.schema import ObjectivesConfig
from saip.data import SAIPBatch
from saip.methods.base import ScheduleValues
from saip.methods.saip import SAIPMethod, cosine_distance, standardize
from saip.teachers import FrozenTeacher
from saip.teachers.loading import IMAGENET_MEAN, IMAGENET_STD

SCHEDULE = ScheduleValues(
    step=0, total_steps=10, lr=1e-3, weight_decay=0.0, momentum=1.0, teacher_temp=0.04, progress=0.0
)


def _method(pairing: str, patch_weight: float = 0.0) -> SAIPMethod:
    torch.manual_seed(0)
    student = create_backbone("vit_tiny", img_size=(64, 32), depth=1)
    expert = FrozenTeacher(
        create_backbone("vit_small", img_size=(64, 32), depth=1), IMAGENET_MEAN, IMAGENET_STD
    )
    objectives = ObjectivesConfig(
        csm_weight=1.0,
        csr_weight=0.0,
        css_weight=0.0,
        feature_patch_weight=patch_weight,
        feature_pairing=pairing,
    )
    return SAIPMethod(student, objectives, frozen_expert=expert).eval()


def _batch(n_local: int) -> SAIPBatch:
    g = torch.Generator().manual_seed(1)
    B = 4
    global_views = torch.randn(2, B, 3, 64, 32, generator=g)
    local_views = torch.randn(n_local, B, 3, 32, 16, generator=g)
    sources = ["global1", "local0"] if n_local else ["global1", "global0"]
    scaled = [torch.randn(B, 3, 80, 48, generator=g), torch.randn(B, 3, 48, 32, generator=g)]
    return SAIPBatch(
        index=torch.arange(B),
        epoch=0,
        global_views=global_views,
        local_views=local_views,
        scaled_views=scaled,
        scaled_factors=[1.25, 0.75],
        scaled_sources=sources,
    )


def _naive(method: SAIPMethod, batch: SAIPBatch, pairing: str) -> torch.Tensor:
    """The loss written out view by view: mean over pairs of 1 - cos(projector(student), std(expert))."""
    views = {"global0": batch.global_views[0], "global1": batch.global_views[1]}
    views.update({f"local{i}": batch.local_views[i] for i in range(batch.local_views.shape[0])})
    student = {name: method.student(x).image_token for name, x in views.items()}
    student.update({f"scaled{i}": method.student(x).image_token for i, x in enumerate(batch.scaled_views)})
    with torch.no_grad():
        expert = {name: standardize(method.expert(x).image_token, (0,)) for name, x in views.items()}
    if pairing == "cross":
        pairs = [(s, t) for s in student for t in ("global0", "global1")]
    else:
        source = {f"scaled{i}": name for i, name in enumerate(batch.scaled_sources)}
        pairs = [(s, source.get(s, s)) for s in student]
    terms = [cosine_distance(method.csm_projector(student[s]), expert[t]) for s, t in pairs]
    return torch.stack(terms).mean()


@pytest.mark.parametrize("pairing", ["same", "cross"])
@pytest.mark.parametrize("n_local", [0, 2])
def test_feature_matching_pairs_views_as_documented(pairing: str, n_local: int) -> None:
    method = _method(pairing)
    batch = _batch(n_local)
    with torch.no_grad():
        loss = method(batch, SCHEDULE).loss
        expected = _naive(method, batch, pairing)
    assert torch.allclose(loss, expected, atol=1e-5), (loss, expected)


def test_pairings_differ() -> None:
    """The two pairings are different objectives on the same batch (guards a silently ignored option)."""
    batch = _batch(2)
    with torch.no_grad():
        same = _method("same")(batch, SCHEDULE).loss
        cross = _method("cross")(batch, SCHEDULE).loss
    assert not torch.allclose(same, cross)


def test_unknown_pairing_is_rejected() -> None:
    with pytest.raises(ValueError, match="feature_pairing"):
        _method("nearest")
