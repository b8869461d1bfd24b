"""DPALMethod end to end on a tiny fixed batch: frozen teacher, loss terms, learning, config."""

from __future__ import annotations

import pytest
import torch

import saip  # noqa: F401
from saip.backbones import create_backbone
from saip.data import SAIPBatch
from saip.methods.base import ScheduleValues
from saip.methods.dpal import DPALMethod, DPALMethodConfig
from saip.teachers import FrozenTeacher, build_teacher
from saip.teachers.loading import IMAGENET_MEAN, IMAGENET_STD


@pytest.fixture(autouse=True)
def _one_thread():
    """Single-threaded: the shared CPU is oversubscribed and these tiny ops do not gain from threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _batch(B: int = 2, seed: int = 0) -> SAIPBatch:
    g = torch.Generator().manual_seed(seed)
    return SAIPBatch(
        index=torch.arange(B),
        epoch=0,
        global_views=torch.randn(2, B, 3, 64, 32, generator=g),
        local_views=torch.randn(2, B, 3, 32, 16, generator=g),
        canvas=torch.randn(B, 3, 48, 48, generator=g),
    )


def _schedule(step: int = 0, total: int = 100) -> ScheduleValues:
    return ScheduleValues(
        step=step,
        total_steps=total,
        lr=1e-3,
        weight_decay=0.0,
        momentum=1.0,
        teacher_temp=0.04,
        progress=step / total,
    )


def _method(config=None, cache_size: int = 0, bn_teacher: bool = True) -> DPALMethod:
    """A 2-block ViT-Tiny student; teacher: a BatchNorm CNN (EfficientNet-Lite0, 1280-d) or, where
    only learning speed matters, a cheaper 1-block ViT-Small (384-d)."""
    torch.manual_seed(0)
    student = create_backbone("vit_tiny", img_size=(64, 32), depth=2)
    if bn_teacher:
        teacher = build_teacher("random:efficientnet_lite0", cache_size=cache_size)
    else:
        backbone = create_backbone("vit_small", img_size=(64, 32), depth=1)
        teacher = FrozenTeacher(backbone, IMAGENET_MEAN, IMAGENET_STD, cache_size=cache_size)
    return DPALMethod(student, teacher, config)


def _train(method: DPALMethod, batch: SAIPBatch, steps: int, lr: float = 1e-3) -> list[float]:
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    method.train()
    losses = []
    for step in range(steps):
        out = method(batch, _schedule(step))
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        method.update_expert(_schedule(step))
        losses.append(float(out.loss.detach()))
    return losses


def test_terms_and_diagnostics() -> None:
    method = _method()
    out = method(_batch(), _schedule())
    assert {"dpal/global", "dpal/local", "dpal/relation", "dpal/routing"} <= set(out.terms)
    assert torch.isfinite(out.loss) and out.loss.requires_grad
    usage = sum(float(out.diagnostics[f"dpal/expert_usage/{n}"]) for n in ("global", "local", "relation"))
    assert usage == pytest.approx(1.0, abs=1e-5)
    assert 0 <= float(out.diagnostics["dpal/router_entropy"]) <= torch.log(torch.tensor(3.0)).item() + 1e-6
    assert all(v.dim() == 0 for v in (*out.terms.values(), *out.diagnostics.values()))


def test_teacher_is_bit_identical_after_optimizer_steps() -> None:
    method = _method()
    before = {k: v.clone() for k, v in method.teacher.state_dict().items()}  # incl. BN running stats
    student_before = [p.clone() for p in method.student.parameters()]
    _train(method, _batch(), steps=3)
    after = method.teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in method.teacher.parameters())
    assert not method.teacher.training
    assert any(
        not torch.equal(a, b) for a, b in zip(student_before, method.student.parameters(), strict=True)
    )


def test_dpal_loss_decreases_on_a_fixed_batch() -> None:
    losses = _train(_method(bn_teacher=False), _batch(), steps=30)
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5, losses


def test_feature_baseline_learns() -> None:
    method = _method({"mode": "feature"}, bn_teacher=False)
    losses = _train(method, _batch(), steps=15)
    out = method(_batch(), _schedule())
    assert set(out.terms) == {"dpal/feature_image", "dpal/feature_patch"}
    assert losses[-1] < 0.7 * losses[0], losses


def test_zero_weights_skip_terms_and_the_canvas() -> None:
    method = _method({"relation_weight": 0.0, "global_weight": 0.0}, bn_teacher=False)
    batch = _batch()
    batch.canvas = None
    out = method(batch, _schedule())
    assert set(out.terms) == {"dpal/local", "dpal/routing"}
    with pytest.raises(ValueError, match="canvas"):
        _method(bn_teacher=False)(batch, _schedule())


def test_routing_weight_schedule_and_config_coercion() -> None:
    config = DPALMethodConfig()
    assert config.routing_weight(0.05) == 0.1 and config.routing_weight(0.5) == 0.01
    # train.compile passes the progress as a 0-d tensor: the same switch, as a tensor
    assert float(config.routing_weight(torch.tensor(0.05))) == pytest.approx(0.1)
    assert float(config.routing_weight(torch.tensor(0.5))) == pytest.approx(0.01)
    from saip.config.schema import DPALConfig  # the run config's section

    assert DPALMethodConfig.coerce(DPALConfig()).rank == DPALConfig().rank
    with pytest.raises(ValueError, match="unknown dpal option"):
        DPALMethodConfig.coerce({"rnak": 3})
    with pytest.raises(ValueError, match="mode"):
        DPALMethodConfig(mode="kd")


def test_teacher_cache_is_keyed_by_epoch_index_and_view() -> None:
    method = _method(cache_size=16, bn_teacher=False)
    batch = _batch()
    method(batch, _schedule())
    assert len(method.teacher.cache) == 4  # 2 images x (global0, canvas)
    method(batch, _schedule())
    assert method.teacher.cache.hits == 4
