"""``train.compile`` with rescale buckets: one static graph per shape combination, no recompiles after
warm-up (dynamo's own counters; the eager backend traces exactly as inductor would, without C++)."""

from __future__ import annotations

import pytest
import torch
import torch._dynamo
from torch._dynamo.utils import counters

from saip.config import load_config
from saip.data import SAIPCollate, ViewDataset
from saip.methods.base import ScheduleValues
from saip.pretrain.builder import build_method, build_source, build_view_config
from saip.pretrain.compile import compile_step_model, compiled_schedule, shape_combinations

OVERRIDES = [
    "model.backbone=vit_tiny",
    "model.img_size=[64,32]",
    "data.views.global_size=[64,32]",
    "data.views.local_size=[32,16]",
    "data.views.n_local=0",
    "data.views.n_scaled=1",
    "data.views.canvas_size=[64,64]",
    "data.synthetic_identities=8",
    "data.synthetic_images_per_id=4",
    "objectives.csm_out_dim=256",
    "train.batch_size=2",
    "probe.enabled=false",
]


def test_shape_combinations() -> None:
    views = build_view_config(load_config("cpu_demo", OVERRIDES))
    assert shape_combinations(views) is None  # a continuous factor range
    views = build_view_config(load_config("cpu_demo", [*OVERRIDES, "data.views.scale_set=[0.75,1.5]"]))
    assert shape_combinations(views) == 2
    views = build_view_config(load_config("cpu_demo", [*OVERRIDES, "data.views.n_scaled=0"]))
    assert shape_combinations(views) == 1


def _schedule(step: int, log: bool) -> ScheduleValues:
    """The loop's schedule at ``step`` of 100 with a teacher-temperature warm-up (0.04 -> 0.07)."""
    return ScheduleValues(step, 100, 1e-4, 0.05, 0.996, 0.04 + 0.0003 * step, step / 100, log=log)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize(
    "recipe, overrides, expected_graphs",
    [
        ("cpu_demo", [], 3),  # SAIP*: frozen expert, feature matching (no log-step extras)
        # EMA expert, CSM with the DINO centre (its pending sums live across the step; CSR and CSS
        # read no schedule value and are off to keep the tracing short)
        (
            "cpu_ssl",
            [
                "objectives.csm_centering=center",
                "objectives.csm_out_dim=256",
                "objectives.csr_weight=0",
                "objectives.css_weight=0",
                "data.views.n_local=0",
            ],
            6,  # the collapse diagnostics on log steps: a second graph per bucket
        ),
    ],
)
def test_no_recompiles_after_every_bucket_was_seen(
    recipe: str, overrides: list[str], expected_graphs: int
) -> None:
    """Warm-up traces one graph per (rescale bucket, log step or not); after it, steps with new shapes
    from the same buckets, a moving teacher temperature and progress, log and non-log steps and the
    expert updated between steps (as the loop runs them) trace nothing. Fails if a schedule float is
    specialised on (a recompile every step) or the step's state changes type between steps."""
    torch._dynamo.reset()
    counters.clear()
    cfg = load_config(recipe, [*OVERRIDES, *overrides, "data.views.scale_set=[0.75,1.0,1.5]"])
    views = build_view_config(cfg)
    dataset, collate = ViewDataset(build_source(cfg), views, seed=0), SAIPCollate(views, seed=0)
    torch.manual_seed(0)
    method = build_method(cfg)
    model = compile_step_model(method, views, backend="eager")
    batches = [collate([dataset[i] for i in range(start, start + 2)]) for start in range(0, 32, 2)]
    shapes = {tuple(tuple(v.shape) for v in b.scaled_views) for b in batches}
    assert len(shapes) == 3  # every bucket occurs in these batches

    def step(batch, schedule: ScheduleValues) -> None:
        model(batch, compiled_schedule(schedule, torch.device("cpu"))).loss.backward()
        method.update_expert(schedule)
        method.zero_grad(set_to_none=True)

    warm_up = {tuple(tuple(v.shape) for v in b.scaled_views): b for b in batches}
    for log in (False, True):  # each shape combination traced once per kind of step
        for batch in warm_up.values():
            step(batch, _schedule(0, log))
    graphs = counters["stats"]["unique_graphs"]
    assert graphs == expected_graphs, graphs  # one graph per bucket (and kind of step)
    try:
        torch._dynamo.config.error_on_recompile = True  # any further trace raises
        for i, batch in enumerate(batches[:8]):  # new shapes, schedule values and kinds of step
            step(batch, _schedule(i + 1, log=i % 4 == 3))
    finally:
        torch._dynamo.config.error_on_recompile = False
        torch._dynamo.reset()
    assert counters["stats"]["unique_graphs"] == graphs


def test_compiled_schedule_makes_the_read_floats_tensors() -> None:
    schedule = compiled_schedule(_schedule(10, log=True), torch.device("cpu"))
    assert isinstance(schedule.teacher_temp, torch.Tensor) and schedule.teacher_temp.ndim == 0
    assert isinstance(schedule.progress, torch.Tensor) and float(schedule.progress) == pytest.approx(0.1)
    assert schedule.step == 10 and schedule.log is True and schedule.momentum == 0.996
