"""Top-down pose: affine crops, heatmap encode/decode, COCO reader, OKS AP via pycocotools, head training."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import saip  # noqa: F401  (installs the torchvision shim first)
from saip.backbones import create_backbone
from saip.evaluate.budgets import TaskBudget
from saip.evaluate.datasets.coco_keypoints import COCO_FLIP_PAIRS, TopDownDataset, load_coco_keypoints
from saip.evaluate.heads.finetune import DenseModel, fit
from saip.evaluate.heads.heatmap import HeatmapHead, keypoint_mse_loss
from saip.evaluate.metrics.pose import coco_keypoint_ap
from saip.evaluate.pose import evaluate_pose, heatmaps_to_keypoints, keypoint_results
from saip.evaluate.topdown import (
    affine_matrix,
    apply_affine,
    box_to_center_scale,
    decode_heatmaps,
    encode_heatmaps,
    flip_heatmaps,
    invert_affine,
    warp_image,
)
from saip.synth.skeleton import KEYPOINT_NAMES

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
REAL = Path(
    os.environ.get(
        "SAIP_REAL_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "data" / "real-fixtures"
    )
)
NAMES = KEYPOINT_NAMES


def write_coco_keypoints(folder: Path, split: str, num_images: int, seed: int) -> tuple[Path, Path]:
    """A tiny COCO keypoints split: 96×64 images, one or two persons each, all 17 keypoints labelled."""
    rng = np.random.default_rng(seed)
    image_dir = folder / "images" / split
    image_dir.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(num_images):
        pixels = rng.integers(0, 60, (96, 64, 3), dtype=np.uint8)
        for p in range(1 + i % 2):
            x, y, w, h = 4.0 + 30 * p, 6.0, 26.0, 80.0
            kps = np.stack(
                [rng.uniform(x + 2, x + w - 2, 17), rng.uniform(y + 2, y + h - 2, 17), np.full(17, 2)], 1
            )
            for kx, ky, _ in kps:
                pixels[int(ky), int(kx)] = 255
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": 1,
                    "iscrowd": 0,
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "num_keypoints": 17,
                    "keypoints": [float(v) for v in kps.reshape(-1)],
                }
            )
        Image.fromarray(pixels).save(image_dir / f"{i:04d}.jpg")
        images.append({"id": i + 1, "file_name": f"{i:04d}.jpg", "height": 96, "width": 64})
    ann_dir = folder / "annotations"
    ann_dir.mkdir(exist_ok=True)
    ann_file = ann_dir / f"person_keypoints_{split}.json"
    categories = [{"id": 1, "name": "person", "keypoints": NAMES, "skeleton": []}]
    ann_file.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return ann_file, image_dir


def test_box_to_center_scale_fixes_aspect_and_pads() -> None:
    center, scale = box_to_center_scale([10, 20, 30, 60], aspect_ratio=0.75, padding=1.25)
    assert center.tolist() == [25.0, 50.0]
    assert scale.tolist() == pytest.approx([45 * 1.25, 60 * 1.25])  # width grown to 0.75·60
    _, wide = box_to_center_scale([0, 0, 100, 10], aspect_ratio=0.75, padding=1.0)
    assert wide.tolist() == pytest.approx([100.0, 100 / 0.75])
    with pytest.raises(ValueError, match="positive"):
        box_to_center_scale([0, 0, 0, 5], 0.75)


@pytest.mark.parametrize("rotation", [0.0, 25.0])
def test_affine_crop_maps_keypoints(rotation: float) -> None:
    pixels = np.zeros((120, 90), dtype=np.uint8)
    row, col = 70, 33
    pixels[row - 1 : row + 2, col - 1 : col + 2] = 255  # a 3×3 dot centred on pixel (33, 70)
    center, scale = box_to_center_scale([20, 30, 40, 70], aspect_ratio=0.75)
    matrix = affine_matrix(center, scale, (48, 64), rotation)
    crop = np.asarray(warp_image(Image.fromarray(pixels).convert("RGB"), matrix, (48, 64)))[..., 0].astype(
        float
    )
    expected = apply_affine(np.array([col + 0.5, row + 0.5]), matrix)  # continuous coordinates
    ys, xs = np.nonzero(crop > 0.5 * crop.max())
    weights = crop[ys, xs]
    found = np.array([(xs * weights).sum(), (ys * weights).sum()]) / weights.sum() + 0.5
    assert np.abs(found - expected).max() < 0.5
    assert np.allclose(apply_affine(expected, invert_affine(matrix)), [col + 0.5, row + 0.5])


def test_heatmap_round_trip_through_inverse_affine() -> None:
    rng = np.random.default_rng(1)
    box = [40.0, 15.0, 70.0, 160.0]
    keypoints = np.stack([rng.uniform(40, 110, 17), rng.uniform(15, 175, 17)], 1)
    center, scale = box_to_center_scale(box, 192 / 256)
    matrix = affine_matrix(center, scale, (192, 256))
    heatmaps, weights = encode_heatmaps(apply_affine(keypoints, matrix), np.full(17, 2), (48, 64), 4.0)
    assert weights.tolist() == [1.0] * 17
    assert heatmaps.max() <= 1.0
    decoded = heatmaps_to_keypoints(torch.from_numpy(heatmaps)[None], matrix[None])[0]
    assert np.abs(decoded[:, :2] - keypoints).max() < 0.5  # sub-pixel in image space
    assert decoded[:, 2].min() > 0.9
    coords, _ = decode_heatmaps(torch.from_numpy(heatmaps)[None], 4.0)
    assert np.abs(coords[0].numpy() - apply_affine(keypoints, matrix)).max() < 0.01


def test_encode_invisible_and_outside_keypoints_get_zero_weight() -> None:
    keypoints = np.array([[10.0, 10.0], [500.0, 10.0], [20.0, 30.0]])
    heatmaps, weights = encode_heatmaps(keypoints, np.array([2, 2, 0]), (12, 16), 4.0)
    assert weights.tolist() == [1.0, 0.0, 0.0]
    assert heatmaps[1].max() == 0 and heatmaps[2].max() == 0


def test_flip_heatmaps_matches_mirrored_keypoints() -> None:
    rng = np.random.default_rng(2)
    keypoints = np.stack([rng.uniform(4, 44, 17), rng.uniform(4, 60, 17)], 1)
    mirrored = keypoints.copy()
    mirrored[:, 0] = 48 - mirrored[:, 0]
    for a, b in COCO_FLIP_PAIRS:
        mirrored[[a, b]] = mirrored[[b, a]]
    original, _ = encode_heatmaps(keypoints, np.ones(17), (12, 16), 4.0)
    flipped, _ = encode_heatmaps(mirrored, np.ones(17), (12, 16), 4.0)
    restored = flip_heatmaps(torch.from_numpy(flipped)[None], COCO_FLIP_PAIRS)[0]
    assert torch.allclose(restored, torch.from_numpy(original), atol=1e-6)


def test_reader_and_gt_as_predictions_give_ap_one(tmp_path: Path) -> None:
    ann, images = write_coco_keypoints(tmp_path, "val", 4, seed=0)
    data = load_coco_keypoints(ann, images)
    assert len(data.instances) == 6 and data.flip_pairs == COCO_FLIP_PAIRS
    dataset = TopDownDataset(data.instances, (64, 48), MEAN, STD, data.flip_pairs)
    items = [dataset[i] for i in range(len(dataset))]
    assert items[0]["image"].shape == (3, 64, 48) and items[0]["heatmaps"].shape == (17, 16, 12)
    heatmaps = torch.stack([it["heatmaps"] for it in items])
    matrices = np.stack([it["matrix"].numpy() for it in items])
    keypoints = heatmaps_to_keypoints(heatmaps, matrices)
    scores = coco_keypoint_ap(data.dataset, keypoint_results(data.instances, keypoints))
    assert scores["AP"] == pytest.approx(1.0) and scores["AR"] == pytest.approx(1.0)
    # Moving every prediction by a third of the box height must destroy the match.
    keypoints[:, :, 1] += 27
    assert coco_keypoint_ap(data.dataset, keypoint_results(data.instances, keypoints))["AP"] < 0.2


def test_reader_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_coco_keypoints(tmp_path / "missing.json", tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        load_coco_keypoints(bad, tmp_path)
    bad.write_text(json.dumps({"images": [], "annotations": [], "categories": [{"id": 1, "name": "person"}]}))
    with pytest.raises(ValueError, match="keypoints"):
        load_coco_keypoints(bad, tmp_path)


def test_heatmap_head_training_decreases_loss(tmp_path: Path) -> None:
    torch.manual_seed(0)
    ann, images = write_coco_keypoints(tmp_path, "train", 3, seed=1)
    data = load_coco_keypoints(ann, images)
    dataset = TopDownDataset(data.instances, (64, 48), MEAN, STD, data.flip_pairs)
    model = DenseModel(create_backbone("vit_tiny"), HeatmapHead(192, 17, kind="simple"))
    budget = TaskBudget("finetune", None, steps=10, batch_size=len(dataset), lr=1e-3, warmup_steps=2)

    def loss_fn(m: DenseModel, batch: dict) -> torch.Tensor:
        return keypoint_mse_loss(m(batch["image"]), batch["heatmaps"], batch["weights"])

    losses = fit(model, dataset, budget, loss_fn)
    assert len(losses) == 10 and all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < np.mean(losses[:3])


def test_classic_head_shape() -> None:
    head = HeatmapHead(192, 17, kind="classic")
    assert head(torch.randn(2, 192, 4, 3)).shape == (2, 17, 16, 12)
    with pytest.raises(ValueError, match="kind"):
        HeatmapHead(192, 17, kind="deconv9")


def test_evaluate_pose_on_tiny_layout(tmp_path: Path) -> None:
    train, val = (
        load_coco_keypoints(*write_coco_keypoints(tmp_path, s, 3, seed=i))
        for i, s in enumerate(("train", "val"))
    )
    budget = TaskBudget("frozen", (64, 48), steps=2, batch_size=4, lr=1e-3)
    scores, losses = evaluate_pose(create_backbone("vit_tiny"), MEAN, STD, train, val, budget, flip_test=True)
    assert len(losses) == 2
    assert set(scores) >= {"AP", "AP50", "AP75", "AR"} and all(0.0 <= v <= 1.0 for v in scores.values())


@pytest.mark.skipif(not (REAL / "coco" / "test_coco.json").is_file(), reason="real COCO fixtures not present")
def test_real_coco_images_gt_ap_and_short_training() -> None:
    data = load_coco_keypoints(REAL / "coco" / "test_coco.json", REAL / "coco")
    assert len(data.instances) == 12  # 14 persons, 2 without labelled keypoints
    dataset = TopDownDataset(data.instances, (256, 192), MEAN, STD, data.flip_pairs)
    items = [dataset[i] for i in range(len(dataset))]
    keypoints = heatmaps_to_keypoints(
        torch.stack([it["heatmaps"] for it in items]), np.stack([it["matrix"].numpy() for it in items])
    )
    assert coco_keypoint_ap(data.dataset, keypoint_results(data.instances, keypoints))["AP"] == pytest.approx(
        1.0
    )
    budget = TaskBudget("finetune", (128, 96), steps=3, batch_size=6, lr=5e-4, warmup_steps=1)
    scores, losses = evaluate_pose(create_backbone("vit_tiny"), MEAN, STD, data, data, budget)
    assert len(losses) == 3 and all(np.isfinite(losses))
    assert all(0.0 <= scores[k] <= 1.0 for k in ("AP", "AP50", "AP75", "AR"))


def test_cli_pose_writes_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from saip.cli import app
    from saip.evaluate import budgets

    for split, seed in (("train", 0), ("val", 1)):
        write_coco_keypoints(tmp_path / "data" / "pose", split, 2, seed)
    tiny = TaskBudget("frozen", (64, 48), steps=2, batch_size=2, lr=1e-3)
    monkeypatch.setitem(budgets.BUDGETS["quick"], "pose", tiny)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "pose",
            "--backbone",
            "random:vit_tiny",
            "--data",
            str(tmp_path / "data"),
            "--out",
            str(out),
            "--no-flip-test",
        ],
    )
    assert result.exit_code == 0, result.output
    assert set(json.loads((out / "results.json").read_text())["tasks"]["pose"]["metrics"]) >= {
        "AP",
        "AP50",
        "AR",
    }
    assert json.loads((out / "pose" / "pose.json").read_text())["protocol"] == "frozen"
    missing = CliRunner().invoke(app, ["eval", "pose", "--backbone", "random:vit_tiny", "--data", str(out)])
    assert missing.exit_code != 0 and "person_keypoints_train" in missing.output


def test_training_augmentation_keeps_keypoints_consistent(tmp_path: Path) -> None:
    """Random flip/scale/rotation: decoding a training target through its own affine gives back the
    annotated keypoints (with left/right swapped when the crop was mirrored)."""
    ann, images = write_coco_keypoints(tmp_path, "train", 2, seed=3)
    data = load_coco_keypoints(ann, images)
    dataset = TopDownDataset(data.instances, (256, 192), MEAN, STD, data.flip_pairs, train=True, seed=0)
    mirrored_seen = False
    for _ in range(8):
        item = dataset[0]
        matrix = item["matrix"].numpy()
        decoded = heatmaps_to_keypoints(item["heatmaps"][None], matrix[None])[0]
        expected = data.instances[0].keypoints[:, :2].copy()
        if np.linalg.det(matrix[:, :2]) < 0:
            mirrored_seen = True
            for a, b in COCO_FLIP_PAIRS:
                expected[[a, b]] = expected[[b, a]]
        visible = item["weights"].numpy() > 0
        assert np.abs(decoded[visible, :2] - expected[visible]).max() < 0.5
    assert mirrored_seen
