"""The frozen dense protocol on cached features: the cache holds the backbone's features of the
batches ``fit`` draws, and training on it is the same optimisation as running the backbone per step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import RandomSampler

from saip.backbones import create_backbone
from saip.evaluate.budgets import TaskBudget
from saip.evaluate.datasets.lip import ParsingDataset, list_lip_split
from saip.evaluate.heads.cached_fit import cache_batches, fit_head_on_cached_batches, input_size
from saip.evaluate.heads.finetune import DenseModel, fit
from saip.evaluate.heads.segmentation import SegmentationHead
from saip.evaluate.runtime import EvalRuntime
from tests.test_eval_parsing import MEAN, STD, write_lip


def _model(seed: int = 0) -> DenseModel:
    torch.manual_seed(seed)
    backbone = create_backbone("vit_tiny", img_size=(64, 32))
    return DenseModel(backbone, SegmentationHead(192, 20, hidden=16), freeze_backbone=True)


def _loss(m: DenseModel, batch: dict) -> torch.Tensor:
    return F.cross_entropy(m(batch["image"], input_size(batch)), batch["mask"], ignore_index=255)


def test_cache_holds_features_of_the_augmented_batches_fit_draws(tmp_path: Path) -> None:
    write_lip(tmp_path, "train", 6, 0)
    samples = list_lip_split(tmp_path, "train")
    model = _model()
    budget = TaskBudget("frozen", (64, 32), steps=5, batch_size=2, lr=1e-3, feature_passes=2)
    cached = cache_batches(model, ParsingDataset(samples, (64, 32), MEAN, STD, train=True, seed=3),
                           budget, seed=0, collate_fn=None, task="t", runtime=EvalRuntime())  # fmt: skip
    assert len(cached) == 2 * 3  # two passes of three batches
    # the same draws, recomputed: a fresh dataset with the same seed, reshuffled by the same generator
    replay = ParsingDataset(samples, (64, 32), MEAN, STD, train=True, seed=3)
    sampler = RandomSampler(range(6), generator=torch.Generator().manual_seed(0))
    order = [*sampler, *sampler]
    for k, batch in enumerate(cached):
        items = [replay[i] for i in order[2 * k : 2 * k + 2]]
        images = torch.stack([item["image"] for item in items])
        assert batch["image"].dtype == torch.float16 and batch["image"].shape == (2, 192, 4, 2)
        assert input_size(batch) == (64, 32)
        assert torch.equal(batch["mask"], torch.stack([item["mask"] for item in items]))
        with torch.no_grad():
            expected = model.features(images)
        torch.testing.assert_close(batch["image"].float(), expected, atol=2e-2, rtol=2e-3)
    # the two passes are different augmentation draws of the same images (random flips, scales)
    assert not all(torch.equal(cached[k]["mask"], cached[k + 3]["mask"]) for k in range(3))


def test_cached_training_equals_per_step_backbone_training(tmp_path: Path) -> None:
    """One batch per pass and one pass: every step of both paths sees the same batch, so the loss
    curves agree up to the float16 rounding of the cached features; the backbone never changes."""
    write_lip(tmp_path, "train", 2, 0)
    samples = list_lip_split(tmp_path, "train")
    dataset = ParsingDataset(samples, (64, 32), MEAN, STD)  # no augmentation: each pass identical
    budget = TaskBudget("frozen", (64, 32), steps=12, batch_size=2, lr=3e-3, warmup_steps=2)
    direct_model, cached_model = _model(), _model()
    before = [p.clone() for p in cached_model.backbone.parameters()]
    direct = fit(direct_model, dataset, budget, _loss, seed=0)
    from dataclasses import replace

    cached = fit(cached_model, dataset, replace(budget, feature_passes=1), _loss, seed=0)
    np.testing.assert_allclose(cached, direct, rtol=2e-3, atol=2e-3)
    assert cached[-1] < 0.8 * cached[0]
    for a, b in zip(direct_model.head.parameters(), cached_model.head.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-2, rtol=1e-2)  # AdamW: ~lr-sized steps
    assert all(torch.equal(a, b) for a, b in zip(before, cached_model.backbone.parameters(), strict=True))


def test_cached_fit_needs_a_frozen_backbone(tmp_path: Path) -> None:
    write_lip(tmp_path, "train", 2, 0)
    model = _model()
    model.freeze_backbone = False
    budget = TaskBudget("finetune", (64, 32), steps=1, batch_size=2, lr=1e-3, feature_passes=1)
    dataset = ParsingDataset(list_lip_split(tmp_path, "train"), (64, 32), MEAN, STD)
    with pytest.raises(ValueError, match="frozen backbone"):
        fit_head_on_cached_batches(model, dataset, budget, _loss)
