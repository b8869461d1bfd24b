"""The frozen top-down protocol: cached crop features, mirrored targets, and a head that learns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from saip.backbones import create_backbone
from saip.evaluate.budgets import TaskBudget
from saip.evaluate.datasets.coco_keypoints import TopDownDataset, load_coco_keypoints
from saip.evaluate.heads.cached_heatmap_fit import cache_crop_features, fit_head_on_cached_features
from saip.evaluate.heads.finetune import DenseModel
from saip.evaluate.heads.heatmap import HeatmapHead
from saip.evaluate.topdown import apply_affine, encode_heatmaps
from tests.test_eval_pose import MEAN, STD, write_coco_keypoints


def _crops(tmp_path: Path) -> TopDownDataset:
    data = load_coco_keypoints(*write_coco_keypoints(tmp_path, "train", 3, seed=0))
    return TopDownDataset(data.instances, (64, 48), MEAN, STD, data.flip_pairs, train=False)


def test_cached_mirror_targets_are_the_mirrored_crops_targets(tmp_path: Path) -> None:
    crops = _crops(tmp_path)
    torch.manual_seed(0)
    model = DenseModel(create_backbone("vit_tiny", img_size=(64, 48)), HeatmapHead(192, 17), True)
    cache = cache_crop_features(model, crops)
    assert cache["features"].shape == cache["flipped"].shape == (len(crops), 192, 4, 3)
    assert cache["features"].dtype == torch.float16
    for i, inst in enumerate(crops.instances):
        mirror = np.array([[-1.0, 0.0, 48.0], [0.0, 1.0, 0.0]]) @ np.vstack(
            [crops[i]["matrix"].numpy(), [0, 0, 1]]
        )
        keypoints, visible = apply_affine(inst.keypoints[:, :2], mirror), inst.keypoints[:, 2].copy()
        for a, b in crops.flip_pairs:
            keypoints[[a, b]], visible[[a, b]] = keypoints[[b, a]], visible[[b, a]]
        expected, weights = encode_heatmaps(keypoints, visible, (12, 16), 4.0)
        assert torch.allclose(cache["flipped_heatmaps"][i], torch.from_numpy(expected), atol=1e-5)
        assert cache["flipped_weights"][i].tolist() == weights.tolist()


def test_head_on_cached_features_learns(tmp_path: Path) -> None:
    crops = _crops(tmp_path)
    torch.manual_seed(0)
    model = DenseModel(
        create_backbone("vit_tiny", img_size=(64, 48)), HeatmapHead(192, 17, "classic", 32), True
    )
    budget = TaskBudget("frozen", (64, 48), steps=60, batch_size=4, lr=3e-3, warmup_steps=5)
    losses = fit_head_on_cached_features(model, crops, budget, seed=0)
    assert len(losses) == 60 and all(np.isfinite(losses))
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:5])
    assert all(p.grad is None for p in model.backbone.parameters())  # the backbone never trains
