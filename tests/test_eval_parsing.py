"""Body-part segmentation: confusion-matrix metrics by hand, LIP reader, decoder training, CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from typer.testing import CliRunner

import saip  # noqa: F401  (installs the torchvision shim first)
from saip.backbones import create_backbone
from saip.evaluate.budgets import TaskBudget
from saip.evaluate.datasets.lip import ParsingDataset, list_lip_split, read_mask
from saip.evaluate.heads.finetune import DenseModel, fit
from saip.evaluate.heads.segmentation import SegmentationHead
from saip.evaluate.metrics.segmentation import confusion_matrix, per_class_iou, segmentation_scores
from saip.evaluate.parsing import evaluate_parsing

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
REAL = Path(
    os.environ.get(
        "SAIP_REAL_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "data" / "real-fixtures"
    )
)


def write_lip(root: Path, split: str, count: int, seed: int, id_file: bool = True) -> None:
    """Tiny LIP split: 64×32 images whose upper half is class 5 (red) and lower half class 9 (blue)."""
    rng = np.random.default_rng(seed)
    (root / f"{split}_images").mkdir(parents=True, exist_ok=True)
    (root / f"{split}_segmentations").mkdir(parents=True, exist_ok=True)
    ids = []
    for i in range(count):
        stem = f"{split}_{i:03d}"
        mask = np.zeros((64, 32), dtype=np.uint8)
        top = int(rng.integers(8, 24))
        mask[top:32, 6:26] = 5
        mask[32:60, 8:24] = 9
        mask[0, 0] = 255
        pixels = rng.integers(0, 40, (64, 32, 3), dtype=np.uint8)
        pixels[mask == 5] = (220, 30, 30)
        pixels[mask == 9] = (30, 30, 220)
        Image.fromarray(pixels).save(root / f"{split}_images" / f"{stem}.jpg")
        Image.fromarray(mask).save(root / f"{split}_segmentations" / f"{stem}.png")
        ids.append(stem)
    if id_file:
        (root / f"{split}_id.txt").write_text("\n".join(ids) + "\n")


def test_confusion_matrix_and_scores_hand_worked() -> None:
    target = torch.tensor([[0, 0, 1, 1], [2, 2, 255, 1]])
    prediction = torch.tensor([[0, 1, 1, 1], [2, 0, 2, 3]])
    hist = confusion_matrix(prediction, target, num_classes=4)
    expected = torch.tensor([[1, 1, 0, 0], [0, 2, 0, 1], [1, 0, 1, 0], [0, 0, 0, 0]])
    assert torch.equal(hist, expected)
    scores = segmentation_scores(hist)
    # tp = (1, 2, 1, 0); gt = (2, 3, 2, 0); pred = (2, 3, 1, 1); union = (3, 4, 2, 1)
    assert scores["pixel_acc"] == pytest.approx(4 / 7)
    assert scores["mean_acc"] == pytest.approx((1 / 2 + 2 / 3 + 1 / 2) / 3)
    assert scores["mIoU"] == pytest.approx((1 / 3 + 2 / 4 + 1 / 2 + 0) / 4)
    assert scores["mIoU_all"] == pytest.approx(scores["mIoU"])
    # A fifth class absent from both is skipped by mIoU but counts as 0 in the LIP script's mIoU_all.
    wide = segmentation_scores(confusion_matrix(prediction, target, num_classes=5))
    assert wide["mIoU"] == pytest.approx(scores["mIoU"])
    assert wide["mIoU_all"] == pytest.approx(scores["mIoU"] * 4 / 5)
    assert np.isnan(per_class_iou(confusion_matrix(prediction, target, 5))[4])


def test_perfect_prediction_and_errors() -> None:
    target = torch.randint(0, 6, (3, 8, 8))
    assert segmentation_scores(confusion_matrix(target, target, 6)) == pytest.approx(
        {"pixel_acc": 1.0, "mean_acc": 1.0, "mIoU": 1.0, "mIoU_all": 1.0}
    )
    with pytest.raises(ValueError, match="target labels"):
        confusion_matrix(target, target + 10, 6)
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix(target[0], target, 6)
    with pytest.raises(ValueError, match="empty"):
        segmentation_scores(torch.zeros(3, 3))


def test_lip_reader_with_and_without_id_file(tmp_path: Path) -> None:
    write_lip(tmp_path, "train", 3, 0, id_file=True)
    write_lip(tmp_path, "val", 2, 1, id_file=False)
    train, val = list_lip_split(tmp_path, "train"), list_lip_split(tmp_path, "val")
    assert [s.image_path.name for s in train] == ["train_000.jpg", "train_001.jpg", "train_002.jpg"]
    assert len(val) == 2
    dataset = ParsingDataset(train, (32, 16), MEAN, STD)
    item = dataset[0]
    assert item["image"].shape == (3, 32, 16) and item["mask"].shape == (32, 16)
    assert set(item["mask"].unique().tolist()) <= {0, 5, 9, 255}
    assert dataset.max_label() == 9
    with pytest.raises(FileNotFoundError, match="test_images"):
        list_lip_split(tmp_path, "test")
    (tmp_path / "train_id.txt").write_text("nope\n")
    with pytest.raises(FileNotFoundError, match="nope"):
        list_lip_split(tmp_path, "train")


def test_training_flip_swaps_left_right_labels(tmp_path: Path) -> None:
    write_lip(tmp_path, "train", 1, 0)
    dataset = ParsingDataset(list_lip_split(tmp_path, "train"), (32, 16), MEAN, STD, train=True)
    dataset.masks[0][:, :8] = 14  # left arm on the image's left half
    flipped = [dataset[0]["mask"] for _ in range(12)]
    assert any(bool((m[:, 8:] == 15).all()) for m in flipped)  # mirrored: right arm on the right half


@pytest.mark.skipif(not (REAL / "lip" / "train_images").is_dir(), reason="real LIP fixtures not present")
def test_real_lip_fixture_reads() -> None:
    train, val = list_lip_split(REAL / "lip", "train"), list_lip_split(REAL / "lip", "val")
    assert len(train) == 1 and len(val) == 1
    assert set(np.unique(read_mask(train[0].mask_path)).tolist()) <= set(range(20))
    dataset = ParsingDataset(train + val, (256, 128), MEAN, STD)  # the val image is greyscale: made RGB
    assert dataset[1]["image"].shape == (3, 256, 128)


def test_decoder_training_decreases_loss(tmp_path: Path) -> None:
    torch.manual_seed(0)
    write_lip(tmp_path, "train", 4, 0)
    dataset = ParsingDataset(list_lip_split(tmp_path, "train"), (64, 32), MEAN, STD)
    model = DenseModel(create_backbone("vit_tiny"), SegmentationHead(192, 20), freeze_backbone=True)

    def loss_fn(m: DenseModel, batch: dict) -> torch.Tensor:
        return F.cross_entropy(m(batch["image"], (64, 32)), batch["mask"], ignore_index=255)

    losses = fit(
        model, dataset, TaskBudget("frozen", None, steps=10, batch_size=4, lr=3e-3, warmup_steps=1), loss_fn
    )
    assert np.mean(losses[-3:]) < np.mean(losses[:3])


def test_evaluate_parsing_and_real_lip(tmp_path: Path) -> None:
    write_lip(tmp_path, "train", 4, 0)
    write_lip(tmp_path, "val", 2, 1)
    budget = TaskBudget("finetune", (64, 32), steps=2, batch_size=2, lr=1e-3)
    scores, losses = evaluate_parsing(
        create_backbone("vit_tiny"),
        MEAN,
        STD,
        list_lip_split(tmp_path, "train"),
        list_lip_split(tmp_path, "val"),
        budget,
    )
    assert len(losses) == 2 and 0.0 <= scores["mIoU"] <= 1.0 and 0.0 <= scores["pixel_acc"] <= 1.0
    with pytest.raises(ValueError, match="num_classes"):
        evaluate_parsing(
            create_backbone("vit_tiny"),
            MEAN,
            STD,
            list_lip_split(tmp_path, "train"),
            list_lip_split(tmp_path, "val"),
            budget,
            num_classes=5,
        )
    if (REAL / "lip" / "train_images").is_dir():
        scores, _ = evaluate_parsing(
            create_backbone("vit_tiny"),
            MEAN,
            STD,
            list_lip_split(REAL / "lip", "train"),
            list_lip_split(REAL / "lip", "val"),
            budget,
        )
        assert 0.0 <= scores["mIoU"] <= 1.0


def test_cli_parsing_writes_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from saip.cli import app
    from saip.evaluate import budgets

    write_lip(tmp_path / "data" / "parsing", "train", 2, 0)
    write_lip(tmp_path / "data" / "parsing", "val", 2, 1)
    monkeypatch.setitem(
        budgets.BUDGETS["quick"], "parsing", TaskBudget("frozen", (64, 32), steps=1, batch_size=2, lr=1e-3)
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "parsing",
            "--backbone",
            "random:vit_tiny",
            "--data",
            str(tmp_path / "data"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert set(json.loads((out / "results.json").read_text())["tasks"]["parsing"]["metrics"]) >= {
        "mIoU",
        "pixel_acc",
        "mean_acc",
    }
    assert (out / "parsing" / "parsing.json").is_file()
