"""Pedestrian detection: MR⁻² and AP by hand / pycocotools, COCO and odgt readers, CenterNet head, CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import saip  # noqa: F401  (installs the torchvision shim first)
from saip.backbones import create_backbone
from saip.evaluate.budgets import TaskBudget
from saip.evaluate.datasets.detection import (
    LetterboxDataset,
    collate_detection,
    letterbox,
    load_coco_detection,
    load_odgt,
    to_coco_ground_truth,
)
from saip.evaluate.detection import detection_scores, evaluate_detection, load_detection_split
from saip.evaluate.heads.dense_detector import (
    CenterNetHead,
    centernet_loss,
    centernet_targets,
    decode_centernet,
)
from saip.evaluate.heads.finetune import DenseModel, fit
from saip.evaluate.metrics.detection import (
    ImageDetections,
    coco_box_ap,
    log_average_miss_rate,
    miss_rate_curve,
)

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
T = torch.tensor


def write_detection(root: Path, split: str, count: int, seed: int) -> None:
    """Tiny COCO + odgt split: 48×64 images with 1–2 bright rectangles (persons) and one ignore box."""
    rng = np.random.default_rng(seed)
    image_dir = root / "images" / split
    image_dir.mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(exist_ok=True)
    images, annotations, lines = [], [], []
    for i in range(count):
        pixels = rng.integers(0, 50, (48, 64, 3), dtype=np.uint8)
        boxes = []
        for p in range(1 + i % 2):
            x, y = 4 + 30 * p + int(rng.integers(0, 6)), int(rng.integers(2, 10))
            boxes.append([float(x), float(y), 14.0, 32.0])
            pixels[y : y + 32, x : x + 14] = 230
        stem = f"img_{i:03d}"
        Image.fromarray(pixels).save(image_dir / f"{stem}.jpg")
        images.append({"id": i + 1, "file_name": f"{stem}.jpg", "height": 48, "width": 64})
        gtboxes = [{"tag": "person", "fbox": b, "vbox": b, "hbox": b, "extra": {"ignore": 0}} for b in boxes]
        gtboxes.append(
            {"tag": "mask", "fbox": [0.0, 40.0, 8.0, 8.0], "vbox": [0, 40, 8, 8], "extra": {"ignore": 1}}
        )
        lines.append(json.dumps({"ID": stem, "gtboxes": gtboxes}))
        for b in boxes:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": 1,
                    "bbox": b,
                    "area": b[2] * b[3],
                    "iscrowd": 0,
                }
            )
        annotations.append(
            {
                "id": len(annotations) + 1,
                "image_id": i + 1,
                "category_id": 1,
                "bbox": [0.0, 40.0, 8.0, 8.0],
                "area": 64.0,
                "iscrowd": 1,
            }
        )
    categories = [{"id": 1, "name": "person"}]
    (root / "annotations" / f"instances_{split}.json").write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    (root / f"annotation_{split}.odgt").write_text("\n".join(lines) + "\n")


def test_log_average_miss_rate_hand_worked() -> None:
    image_a = ImageDetections(
        gt_boxes=T([[0.0, 0, 10, 20], [20, 0, 30, 20]]),
        gt_ignore=T([False, False]),
        boxes=T([[0.0, 0, 10, 20], [20, 0, 30, 20], [0, 1, 10, 21]]),
        scores=T([0.9, 0.7, 0.6]),
    )
    image_b = ImageDetections(
        gt_boxes=T([[0.0, 0, 10, 20], [50, 50, 100, 100]]),
        gt_ignore=T([False, True]),
        boxes=T([[60.0, 60, 70, 70], [200, 200, 210, 220]]),
        scores=T([0.85, 0.8]),
    )
    # Ranked: 0.9 TP (A, g1) | 0.85 inside the ignore region: dropped | 0.8 FP (B) | 0.7 TP (A, g2)
    # | 0.6 duplicate of the taken g1: FP. 3 GT, 2 images.
    fppi, miss = miss_rate_curve([image_a, image_b])
    assert fppi.tolist() == [0.0, 0.5, 0.5, 1.0]
    assert miss.tolist() == pytest.approx([2 / 3, 2 / 3, 1 / 3, 1 / 3])
    # FPPI references 0.01 … 0.316 (7 points) see only the first detection (miss 2/3); 0.562 and 1.0 see 1/3.
    expected = math.exp((7 * math.log(2 / 3) + 2 * math.log(1 / 3)) / 9)
    assert log_average_miss_rate([image_a, image_b]) == pytest.approx(expected)


def test_miss_rate_extremes() -> None:
    gt = T([[0.0, 0, 10, 20]])
    none = ImageDetections(gt, T([False]), torch.zeros(0, 4), torch.zeros(0))
    assert log_average_miss_rate([none]) == pytest.approx(1.0)
    perfect = ImageDetections(gt, T([False]), gt.clone(), T([0.5]))
    assert log_average_miss_rate([perfect]) == pytest.approx(1e-10)
    with pytest.raises(ValueError, match="ground-truth"):
        log_average_miss_rate(
            [ImageDetections(torch.zeros(0, 4), torch.zeros(0, dtype=torch.bool), gt, T([1.0]))]
        )


def _ground_truth() -> dict:
    return {
        "images": [{"id": 1, "height": 100, "width": 100}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 40], "area": 800},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [50, 10, 20, 40], "area": 800},
        ],
        "categories": [{"id": 1, "name": "person"}],
    }


def test_coco_box_ap_gt_as_detections_and_partial_case() -> None:
    gt = _ground_truth()
    perfect = [{"image_id": 1, "category_id": 1, "bbox": a["bbox"], "score": 0.9} for a in gt["annotations"]]
    assert coco_box_ap(gt, perfect) == pytest.approx({"AP": 1.0, "AP50": 1.0, "AP75": 1.0})
    # One exact hit (score 0.9) then a false positive (0.8): precision 1 up to recall 0.5, nothing beyond.
    # COCO's 101-point interpolation: 51 of the 101 recall thresholds (0, 0.01, …, 0.50) have precision 1.
    hit, miss = dict(perfect[0]), {"image_id": 1, "category_id": 1, "bbox": [80, 60, 10, 10], "score": 0.8}
    assert coco_box_ap(gt, [hit, miss]) == pytest.approx({"AP": 51 / 101, "AP50": 51 / 101, "AP75": 51 / 101})
    # The false positive ranked first: precision 1/2 at recall 0.5.
    hit["score"] = 0.7
    assert coco_box_ap(gt, [hit, miss])["AP50"] == pytest.approx(0.5 * 51 / 101)
    assert coco_box_ap(gt, [])["AP"] == 0.0


def test_coco_and_odgt_readers_agree(tmp_path: Path) -> None:
    write_detection(tmp_path, "val", 3, 0)
    coco = load_coco_detection(tmp_path / "annotations" / "instances_val.json", tmp_path / "images" / "val")
    odgt = load_odgt(tmp_path / "annotation_val.odgt", tmp_path / "images" / "val")
    assert len(coco) == len(odgt) == 3
    for a, b in zip(coco, odgt, strict=True):
        assert torch.allclose(a.boxes, b.boxes) and torch.equal(a.ignore, b.ignore)
        assert a.ignore.tolist()[-1] is True and a.size == (48, 64)
    assert load_detection_split(tmp_path, "val", "odgt")[0].boxes.shape == (2, 4)
    gt = to_coco_ground_truth(coco)
    assert sum(a["iscrowd"] for a in gt["annotations"]) == 3
    # Ground truth as detections (ignore regions excluded): AP 1, MR⁻² at its floor.
    predictions = [(r.boxes[~r.ignore], torch.ones(int((~r.ignore).sum()))) for r in coco]
    scores = detection_scores(coco, predictions)
    assert scores["AP"] == pytest.approx(1.0) and scores["MR-2"] == pytest.approx(1e-10)
    with pytest.raises(FileNotFoundError, match="annotation_test"):
        load_detection_split(tmp_path, "test")
    (tmp_path / "broken.odgt").write_text('{"ID": "img_000"}\nnot json\n')
    with pytest.raises(ValueError, match="broken.odgt:2"):
        load_odgt(tmp_path / "broken.odgt", tmp_path / "images" / "val")


def test_letterbox_maps_boxes_back(tmp_path: Path) -> None:
    image, scale, (dx, dy) = letterbox(Image.new("RGB", (64, 48)), 32)
    assert image.size == (32, 32) and scale == 0.5 and (dx, dy) == (0.0, 4.0)
    write_detection(tmp_path, "train", 2, 0)
    records = load_coco_detection(
        tmp_path / "annotations" / "instances_train.json", tmp_path / "images" / "train"
    )
    item = LetterboxDataset(records, 32, MEAN, STD)[0]
    assert item["boxes"].shape == (1, 4)  # the ignore region is not a training target
    back = (item["boxes"] - T([dx, dy, dx, dy])) / scale
    assert torch.allclose(back, records[0].boxes[:1])


def test_centernet_targets_decode_to_ground_truth() -> None:
    boxes = [T([[8.0, 4.0, 24.0, 44.0], [30.0, 10.0, 46.0, 58.0]])]
    targets = centernet_targets(boxes, (16, 16))
    assert int(targets["mask"].sum()) == 2 and targets["heatmap"].max() == 1.0
    logits = torch.where(targets["heatmap"] == 1, T(8.0), T(-8.0))
    outputs = {"heatmap": logits, "size": targets["size"], "offset": targets["offset"]}
    decoded, scores = decode_centernet(outputs)[0]
    assert len(decoded) == 2 and scores.min() > 0.99
    order = torch.argsort(decoded[:, 0])
    assert torch.allclose(decoded[order], boxes[0], atol=1e-4)
    assert centernet_loss(outputs, targets) < centernet_loss({**outputs, "heatmap": -logits}, targets)


def test_detector_training_decreases_loss(tmp_path: Path) -> None:
    torch.manual_seed(0)
    write_detection(tmp_path, "train", 4, 0)
    records = load_coco_detection(
        tmp_path / "annotations" / "instances_train.json", tmp_path / "images" / "train"
    )
    dataset = LetterboxDataset(records, 64, MEAN, STD)
    model = DenseModel(create_backbone("vit_tiny"), CenterNetHead(192), freeze_backbone=True)

    def loss_fn(m: DenseModel, batch: dict) -> torch.Tensor:
        return centernet_loss(m(batch["image"]), centernet_targets(batch["boxes"], (16, 16)))

    losses = fit(
        model,
        dataset,
        TaskBudget("frozen", None, steps=10, batch_size=4, lr=2e-3, warmup_steps=1),
        loss_fn,
        collate_fn=collate_detection,
    )
    assert np.mean(losses[-3:]) < np.mean(losses[:3])


def test_evaluate_detection_and_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from saip.cli import app
    from saip.evaluate import budgets

    root = tmp_path / "data" / "detection"
    write_detection(root, "train", 2, 0)
    write_detection(root, "val", 2, 1)
    budget = TaskBudget("finetune", (64, 64), steps=2, batch_size=2, lr=1e-3)
    records = load_detection_split(tmp_path / "data", "val")
    scores, losses = evaluate_detection(create_backbone("vit_tiny"), MEAN, STD, records, records, budget)
    assert len(losses) == 2 and 0.0 <= scores["AP"] <= 1.0 and 0.0 < scores["MR-2"] <= 1.0
    monkeypatch.setitem(budgets.BUDGETS["quick"], "detection", budget)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "detection",
            "--backbone",
            "random:vit_tiny",
            "--data",
            str(tmp_path / "data"),
            "--format",
            "odgt",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert set(json.loads((out / "results.json").read_text())["tasks"]["detection"]["metrics"]) >= {
        "AP",
        "AP50",
        "MR-2",
    }
    bad = CliRunner().invoke(app, ["eval", "detection", "--backbone", "random:vit_tiny", "--format", "voc"])
    assert bad.exit_code != 0
