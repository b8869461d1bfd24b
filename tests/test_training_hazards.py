"""Training hazards found by reading the code, each pinned by a test that fails on the old behaviour.

- the EMA expert copies the student's stochastic depth: it must run in eval mode (fixed targets);
- CNN students must not fold CSR's 75 %-masked images into their BatchNorm running statistics;
- the CSM centre moves once per optimizer step, over every accumulated micro-batch;
- no weight decay on learned query tokens, gate offsets and type embeddings;
- CSR's anchor must differ from its source view; ``local-1`` is a valid anchor;
- SyncBatchNorm replaces BatchNorm only under multi-GPU DDP.
"""

from __future__ import annotations

import copy

import pytest
import torch

from saip.backbones.norm_stats import batchnorm_statistics_frozen
from saip.data import SAIPCollate, SAIPViewConfig, ViewDataset
from saip.methods.base import ScheduleValues
from saip.pretrain.builder import build_method, build_source, build_view_config
from saip.pretrain.distributed import DistInfo, sync_batchnorm
from saip.pretrain.optim import parameter_groups
from tests.pretrain_helpers import tiny_config

SCHEDULE = ScheduleValues(
    step=0, total_steps=10, lr=1e-3, weight_decay=0.05, momentum=0.996, teacher_temp=0.04, progress=0.0
)


def _batch(cfg, start: int = 0, size: int = 4):
    views = build_view_config(cfg)
    dataset = ViewDataset(build_source(cfg), views, seed=0)
    return SAIPCollate(views, seed=0)([dataset[i] for i in range(start, start + size)])


def test_ema_expert_runs_without_stochastic_depth(tmp_path):
    cfg = tiny_config(tmp_path, "model.drop_path=0.5")
    method = build_method(cfg)
    method.train()
    assert method.student.training and not method.expert.training and not method.expert_csm_head.training
    images = _batch(cfg).global_views[0]
    with torch.no_grad():
        a, b = method.expert(images).image_token, method.expert(images).image_token
        s1, s2 = method.student(images).image_token, method.student(images).image_token
    assert torch.equal(a, b)  # identical targets for identical inputs
    assert not torch.allclose(s1, s2)  # the student does use drop path (the test would catch a copy in train)


def test_csr_masked_input_leaves_batchnorm_running_stats_alone(tmp_path):
    cfg = tiny_config(
        tmp_path, "model.backbone=starnet_s3", "objectives.csm_weight=0", "objectives.css_weight=0"
    )
    method = build_method(cfg).train()
    batch = _batch(cfg)
    reference = copy.deepcopy(method.student)
    with torch.no_grad():
        reference(batch.global_views.flatten(0, 1))  # the only unmasked student forward of a CSR step
        method(batch, SCHEDULE)
    expected = {k: v for k, v in reference.state_dict().items() if "running" in k}
    got = {k: v for k, v in method.student.state_dict().items() if "running" in k}
    assert expected and all(torch.allclose(got[k], expected[k]) for k in expected)


def test_batchnorm_statistics_frozen_normalises_with_batch_stats():
    bn = torch.nn.BatchNorm1d(3).train()
    x = torch.randn(16, 3) * 5 + 2
    with batchnorm_statistics_frozen(bn):
        y = bn(x)
    assert torch.equal(bn.running_mean, torch.zeros(3)) and int(bn.num_batches_tracked) == 0
    assert bn.track_running_stats
    assert torch.allclose(y.mean(0), torch.zeros(3), atol=1e-5)  # batch statistics were used
    bn(x)
    assert not torch.equal(bn.running_mean, torch.zeros(3))  # outside the block it updates again


def test_csm_centre_moves_once_per_optimizer_step_over_all_micro_batches(tmp_path):
    cfg = tiny_config(tmp_path)
    method = build_method(cfg).train()
    micro = [_batch(cfg, 0, 4), _batch(cfg, 4, 4)]
    with torch.no_grad():
        logits = [
            method.expert_csm_head(method.expert(b.global_views.flatten(0, 1)).image_token) for b in micro
        ]
        for b in micro:
            method(b, SCHEDULE)
    assert torch.equal(
        method.csm_loss.center, torch.zeros_like(method.csm_loss.center)
    )  # not per micro-batch
    method.update_expert(SCHEDULE)
    m = cfg.objectives.center_momentum
    expected = (1 - m) * torch.cat(logits).mean(0, keepdim=True)
    assert torch.allclose(method.csm_loss.center, expected, atol=1e-6)


def test_no_weight_decay_on_query_tokens_gate_offsets_and_type_embeddings(tmp_path):
    saip = build_method(tiny_config(tmp_path / "saip"))
    dpal = build_method(
        tiny_config(
            tmp_path / "dpal", "method=dpal", "expert.teacher=random:vit_tiny", "dpal.relation_weight=0"
        )
    )
    for method, names in ((saip, ["csr_decoder.anchor_image_embed"]), (dpal, ["gate_bias", "router_query"])):
        groups = parameter_groups(method, 0.05)
        no_decay = {id(p) for p in groups[1]["params"]}
        params = dict(method.named_parameters())
        for name in names:
            matches = [n for n in params if n.endswith(name)]
            assert matches, name
            assert all(id(params[n]) in no_decay for n in matches), name


def test_csr_anchor_equal_to_its_source_is_rejected():
    with pytest.raises(ValueError, match="same view"):
        SAIPViewConfig(csr_source="global1", csr_anchor="global1")
    with pytest.raises(ValueError, match="same view"):
        SAIPViewConfig(n_local=2, csr_source="local1", csr_anchor="local-1")


def test_last_local_crop_as_csr_anchor_trains(tmp_path):
    cfg = tiny_config(
        tmp_path, "data.views.csr_anchor=local-1", "objectives.csm_weight=0", "objectives.css_weight=0"
    )
    method = build_method(cfg)
    out = method(_batch(cfg), SCHEDULE)
    assert torch.isfinite(out.loss)


def test_sync_batchnorm_only_for_multi_gpu_ddp():
    def net():
        return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))

    two = DistInfo(rank=0, world_size=2)
    assert isinstance(sync_batchnorm(net(), two, "cuda")[1], torch.nn.SyncBatchNorm)
    assert type(sync_batchnorm(net(), two, "cpu")[1]) is torch.nn.BatchNorm2d
    assert type(sync_batchnorm(net(), DistInfo(), "cuda")[1]) is torch.nn.BatchNorm2d
