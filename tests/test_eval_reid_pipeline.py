"""ReID data loading (Market-1501 / MSMT17 layouts), PK sampling, losses, fine-tuning and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import saip.cli
from saip.evaluate.backbone_loader import load_backbone
from saip.evaluate.budgets import TaskBudget
from saip.evaluate.datasets.market import load_reid_dataset, parse_market_name, pk_batches
from saip.evaluate.reid import batch_hard_triplet_loss, finetune, reid_augment

COLORS = [(220, 30, 30), (30, 200, 30), (30, 30, 220), (220, 220, 30), (200, 30, 200), (30, 200, 200)]


def write_market(root: Path, n_ids: int = 6, per_split: int = 3, size=(32, 16)) -> Path:
    """Tiny Market-1501 folder: identity p is a solid colour with noise; cameras differ per image."""
    rng = np.random.default_rng(0)
    for folder, offset in (("bounding_box_train", 0), ("query", 100), ("bounding_box_test", 100)):
        (root / folder).mkdir(parents=True)
        for p in range(1, n_ids + 1):
            for k in range(per_split):
                cam = (k + (folder == "bounding_box_test")) % 6 + 1
                pixels = np.clip(
                    np.array(COLORS[(p - 1) % len(COLORS)]) + rng.normal(0, 25, (*size, 3)), 0, 255
                )
                Image.fromarray(pixels.astype(np.uint8)).save(
                    root / folder / f"{p + offset:04d}_c{cam}s1_{k:06d}_00.jpg"
                )
    Image.new("RGB", size[::-1]).save(root / "bounding_box_test" / "-1_c1s1_000000_00.jpg")
    Image.new("RGB", size[::-1]).save(root / "bounding_box_test" / "0000_c2s1_000000_00.jpg")
    return root


def test_parse_market_names():
    assert parse_market_name("0002_c1s1_000451_03.jpg") == (2, 1)
    assert parse_market_name("-1_c3s2_000001_00.jpg") == (-1, 3)
    with pytest.raises(ValueError, match="Market-1501"):
        parse_market_name("img_0001.jpg")


def test_market_loader_reads_fixture(tmp_path):
    data = load_reid_dataset(write_market(tmp_path / "market"))
    assert len(data.train) == 18 and data.train.num_ids == 6
    assert len(data.query) == 18 and len(data.gallery) == 20
    assert -1 in data.gallery.pids and 0 in data.gallery.pids
    # a saip data root with a reid/ subfolder resolves to the same data
    write_market(tmp_path / "root" / "reid")
    assert len(load_reid_dataset(tmp_path / "root").gallery) == 20
    with pytest.raises(FileNotFoundError, match="no ReID data"):
        load_reid_dataset(tmp_path / "nothing")


def test_msmt17_list_layout(tmp_path):
    for folder in ("train/0001", "test/0002"):
        (tmp_path / folder).mkdir(parents=True)
    for rel, top in (
        ("0001/0001_000_01_0303morning_0015_0.jpg", "train"),
        ("0002/0002_001_05_0303noon_0020_1.jpg", "test"),
    ):
        Image.new("RGB", (16, 32)).save(tmp_path / top / rel)
    (tmp_path / "list_train.txt").write_text("0001/0001_000_01_0303morning_0015_0.jpg 0\n")
    (tmp_path / "list_query.txt").write_text("0002/0002_001_05_0303noon_0020_1.jpg 2\n")
    (tmp_path / "list_gallery.txt").write_text("0002/0002_001_05_0303noon_0020_1.jpg 2\n")
    data = load_reid_dataset(tmp_path)
    assert data.query.camids.tolist() == [5] and data.query.pids.tolist() == [2]
    assert data.train.paths[0].is_file()


def test_pk_batches_have_p_ids_times_k():
    labels = np.repeat(np.arange(5), [2, 4, 6, 4, 3])
    for batch in pk_batches(labels, p=3, k=4, num_batches=10, rng=np.random.default_rng(0)):
        ids, counts = np.unique(labels[batch], return_counts=True)
        assert len(ids) == 3 and (counts == 4).all()


def test_triplet_loss_matches_naive_batch_hard():
    torch.manual_seed(0)
    feats, labels = torch.randn(8, 5), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    expected_hard, expected_soft = [], []
    for i in range(8):
        d = [float((feats[i] - feats[j]).norm()) for j in range(8)]
        d_ap = max(d[j] for j in range(8) if labels[j] == labels[i] and j != i)
        d_an = min(d[j] for j in range(8) if labels[j] != labels[i])
        expected_hard.append(max(0.0, d_ap - d_an + 0.3))
        expected_soft.append(float(np.log1p(np.exp(d_ap - d_an))))
    assert float(batch_hard_triplet_loss(feats, labels, 0.3)) == pytest.approx(
        np.mean(expected_hard), rel=1e-5
    )
    assert float(batch_hard_triplet_loss(feats, labels, None)) == pytest.approx(
        np.mean(expected_soft), rel=1e-5
    )


def test_augment_keeps_shape_and_is_seeded():
    x = torch.randn(4, 3, 32, 16)
    a = reid_augment(x, torch.Generator().manual_seed(1))
    b = reid_augment(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)


def test_finetune_loss_decreases(tmp_path):
    data = load_reid_dataset(write_market(tmp_path / "m"))
    backbone, info = load_backbone("random:vit_tiny", img_size=(32, 16), seed=0)
    budget = TaskBudget("finetune", (32, 16), steps=20, batch_size=12, lr=3e-4, warmup_steps=3)
    metrics, losses = finetune(backbone, info, data, budget, seed=0)
    assert len(losses) == 20 and all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    assert 0 <= metrics["mAP"] <= 100 and "rank1" in metrics


def test_cli_eval_reid_writes_results(tmp_path):
    root = write_market(tmp_path / "market")
    result = CliRunner().invoke(
        saip.cli.app,
        [
            "eval",
            "reid",
            "--backbone",
            "random:vit_tiny",
            "--data",
            str(root),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "out" / "results.json").read_text())["tasks"]["reid"]["metrics"]
    assert {"mAP", "rank1", "rank5", "rank10"} <= set(metrics)
    record = json.loads((tmp_path / "out" / "reid" / "reid.json").read_text())
    assert record["protocol"] == "knn" and record["metrics"]["mAP"] == metrics["mAP"]


def test_cli_eval_reid_rejects_bad_protocol(tmp_path):
    root = write_market(tmp_path / "market")
    result = CliRunner().invoke(
        saip.cli.app,
        ["eval", "reid", "--backbone", "random:vit_tiny", "--data", str(root), "--protocol", "magic"],
    )
    assert result.exit_code != 0 and "--protocol" in result.output
