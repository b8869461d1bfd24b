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
from saip.pretrain.compile import compile_step_model, shape_combinations

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


@pytest.mark.filterwarnings("ignore")
def test_no_recompiles_after_every_bucket_was_seen() -> None:
    torch._dynamo.reset()
    counters.clear()
    cfg = load_config("cpu_demo", [*OVERRIDES, "data.views.scale_set=[0.75,1.0,1.5]"])
    views = build_view_config(cfg)
    dataset, collate = ViewDataset(build_source(cfg), views, seed=0), SAIPCollate(views, seed=0)
    torch.manual_seed(0)
    method = build_method(cfg)
    model = compile_step_model(method, views, backend="eager")
    sched = ScheduleValues(0, 10, 1e-4, 0.05, 0.996, 0.04, 0.0)
    batches = [collate([dataset[i] for i in range(start, start + 2)]) for start in range(0, 32, 2)]
    shapes = {tuple(tuple(v.shape) for v in b.scaled_views) for b in batches}
    assert len(shapes) == 3  # every bucket occurs in these batches
    warm_up = {tuple(tuple(v.shape) for v in b.scaled_views): b for b in batches}
    for batch in warm_up.values():  # each shape combination traced once
        model(batch, sched).loss.backward()
    graphs = counters["stats"]["unique_graphs"]
    assert graphs == 3, graphs  # one graph per bucket
    try:
        torch._dynamo.config.error_on_recompile = True  # any further trace raises
        for batch in batches:
            model(batch, sched).loss.backward()
    finally:
        torch._dynamo.config.error_on_recompile = False
        torch._dynamo.reset()
    assert counters["stats"]["unique_graphs"] == graphs
