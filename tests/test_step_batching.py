"""The overhead-free step computes the same losses as the per-view step it replaced (issue 13 §2):
one CSM-head call over all views, one CSS canvas pass for all queries, diagnostics on log steps only."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from saip.data import SAIPCollate, ViewDataset
from saip.methods.base import ScheduleValues
from saip.objectives import css_loss
from saip.pretrain.builder import build_method, build_source, build_view_config
from tests.pretrain_helpers import tiny_config

SCHEDULE = ScheduleValues(
    step=0, total_steps=10, lr=1e-3, weight_decay=0.05, momentum=0.996, teacher_temp=0.04, progress=0.0
)


def _setup(tmp_path):
    cfg = tiny_config(tmp_path)
    views = build_view_config(cfg)
    dataset = ViewDataset(build_source(cfg), views, seed=0)
    batch = SAIPCollate(views, seed=0)([dataset[i] for i in range(4)])
    torch.manual_seed(0)
    return build_method(cfg).eval(), batch  # eval: no dropout, the two forwards are comparable


def _per_view_reference(method, batch) -> dict[str, torch.Tensor]:
    """The old step: a head call per view, a decoder call (with its conv pass) per CSS query."""
    n_local = batch.local_views.shape[0]
    s_out = method._encode_views(batch, need_attention=False)
    views = [
        "global0",
        "global1",
        *[f"local{i}" for i in range(n_local)],
        *[f"scaled{i}" for i in range(len(batch.scaled_views))],
    ]
    g = batch.global_views
    t_out = method._expert(g.flatten(0, 1))
    n_b = g.shape[1]
    t_tokens = [t_out.image_token[:n_b], t_out.image_token[n_b:]]
    s_logits = [method.csm_head(s_out[v].image_token) for v in views]
    t_logits = [method.expert_csm_head(t) for t in t_tokens]
    csm = method.csm_loss(s_logits, t_logits, SCHEDULE.teacher_temp, update_center=False)
    canvas = method._expert(batch.canvas).patch_grid
    per_query = []
    for k, name in enumerate(batch.css_query_sources):
        q = s_out[method._view_name(name, n_local)]
        tokens = torch.cat([q.image_token.unsqueeze(1), q.patch_tokens], dim=1)
        logits = method.css_decoder(tokens, canvas, queries_per_canvas=1)
        per_query.append(css_loss(logits, batch.canvas_masks[:, k : k + 1], method.cfg.css_dice_weight))
    return {"loss/csm": csm, "loss/css": torch.stack(per_query).mean()}


def test_batched_step_equals_the_per_view_step(tmp_path):
    method, batch = _setup(tmp_path)
    with torch.no_grad():
        reference = _per_view_reference(method, batch)
        out = method(batch, SCHEDULE)
    for key, value in reference.items():
        assert torch.allclose(out.terms[key], value, rtol=1e-5, atol=1e-6), key


def test_css_search_of_all_queries_equals_one_call_per_query(tmp_path):
    method, batch = _setup(tmp_path)
    decoder = method.css_decoder
    torch.manual_seed(1)
    canvas = torch.randn(3, decoder.canvas_embed.in_features, 4, 2)
    queries = [torch.randn(3, n, decoder.query_embed.in_features) for n in (9, 3)]  # two lengths
    with torch.no_grad():
        together = decoder.search(torch.stack([decoder.encode_queries(q) for q in queries], 1), canvas)
        alone = torch.cat([decoder(q, canvas, queries_per_canvas=1) for q in queries], dim=1)
    assert together.shape == (3, 2, 4, 2) and torch.allclose(together, alone, atol=1e-6)


def test_collapse_diagnostics_only_on_log_steps(tmp_path):
    method, batch = _setup(tmp_path)
    with torch.no_grad():
        logged = method(batch, SCHEDULE)
        quiet = method(batch, replace(SCHEDULE, log=False))
    assert {"csm/teacher_std", "csm/student_entropy"} <= set(logged.diagnostics)
    assert not any(k.startswith("csm/") for k in quiet.diagnostics)
    assert torch.allclose(logged.loss, quiet.loss)


def test_logged_diagnostics_are_means_over_the_steps_that_computed_them(tmp_path):
    """With log_every=3 the diagnostics come from one step in three: the logged value must be that
    step's (as logged by a log_every=1 run), not a third of it (the sum divided by the window)."""
    import json

    from saip.pretrain import pretrain

    def records(name, every):
        run = pretrain(
            tiny_config(tmp_path / name, "train.max_steps=6", f"train.log_every={every}"), progress=False
        )
        return {
            r["step"]: r for r in map(json.loads, (run / "logs" / "metrics.jsonl").read_text().splitlines())
        }

    every_step, every_third = records("a", 1), records("b", 3)
    assert sorted(every_third) == [3, 6]
    for step in (3, 6):
        for key in ("csm/teacher_entropy", "csm/student_entropy", "csm/teacher_std"):
            assert every_third[step][key] == pytest.approx(every_step[step][key], rel=1e-4), (step, key)
