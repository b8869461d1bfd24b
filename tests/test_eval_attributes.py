"""Attribute recognition: hand-worked metrics, DeepMAR weights, the CSV table, probe and fine-tuning."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import saip.cli
from saip.evaluate.attributes import finetune, fit_linear_probe, predict_linear, weighted_bce
from saip.evaluate.backbone_loader import load_backbone
from saip.evaluate.budgets import TaskBudget
from saip.evaluate.datasets.attribute_table import load_attribute_table
from saip.evaluate.metrics.attributes import attribute_metrics, positive_ratio_weights


def test_hand_worked_metrics():
    target = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 0]])
    pred = np.array([[1, 0, 0], [0, 1, 1], [0, 1, 1], [0, 1, 0]])
    # attr 0: positives rows 0,2 -> TP 1 (TPR 1/2); negatives rows 1,3 -> TN 2 (TNR 1)  -> 0.75
    # attr 1: positives rows 1,2 -> TP 2 (TPR 1);   negatives rows 0,3 -> TN 1 (TNR 1/2) -> 0.75
    # attr 2: positives rows 0,1 -> TP 1 (TPR 1/2); negatives rows 2,3 -> TN 1 (TNR 1/2) -> 0.5
    # mA = (0.75 + 0.75 + 0.5) / 3 = 2/3
    # instances: row0 P={0} Y={0,2}: acc 1/2, prec 1, rec 1/2; row1 P=Y={1,2}: 1, 1, 1;
    # row2 P={1,2} Y={0,1}: acc 1/3, prec 1/2, rec 1/2; row3 P={1} Y={}: acc 0, prec 0, rec 0 (empty -> 0)
    # acc = (1/2 + 1 + 1/3 + 0)/4 = 11/24; prec = 2.5/4 = 0.625; rec = 2/4 = 0.5; F1 = 2*.625*.5/1.125 = 5/9
    out = attribute_metrics(pred, target)
    assert out["mA"] == pytest.approx(100 * 2 / 3)
    assert out["accuracy"] == pytest.approx(100 * 11 / 24)
    assert out["precision"] == pytest.approx(62.5)
    assert out["recall"] == pytest.approx(50.0)
    assert out["F1"] == pytest.approx(100 * 5 / 9)
    assert out["num_attributes_scored"] == 3


def test_attribute_without_positives_is_not_scored():
    target = np.array([[1, 0], [0, 0]])
    out = attribute_metrics(np.array([[1, 1], [0, 0]]), target)
    assert out["num_attributes_scored"] == 1 and out["mA"] == pytest.approx(100.0)


def test_positive_ratio_weights_and_weighted_bce():
    targets = np.array([[1, 0], [0, 0], [0, 0], [0, 1]])  # p = [0.25, 0.25]
    w_pos, w_neg = positive_ratio_weights(targets)
    assert w_pos == pytest.approx([math.exp(0.75)] * 2) and w_neg == pytest.approx([math.exp(0.25)] * 2)
    logits = torch.tensor([[0.0, 2.0]])
    y = torch.tensor([[1.0, 0.0]])
    # element 0: positive, BCE log 2 weighted e^0.75; element 1: negative, BCE log(1+e^2) weighted e^0.25
    expected = (math.exp(0.75) * math.log(2) + math.exp(0.25) * math.log1p(math.exp(2))) / 2
    got = weighted_bce(
        logits, y, torch.tensor(w_pos, dtype=torch.float32), torch.tensor(w_neg, dtype=torch.float32)
    )
    assert float(got) == pytest.approx(expected, rel=1e-5)


def write_table(root: Path, n: int = 24, size=(32, 16)) -> Path:
    """Attribute 'red' = red image, 'bright' = bright image; split by row."""
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = ["image,split,red,bright"]
    for i in range(n):
        red, bright = i % 2, (i // 2) % 2
        base = np.array([200 if red else 40, 60, 60]) + (50 if bright else 0)
        pixels = np.clip(base + rng.normal(0, 10, (*size, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / "images" / f"{i:04d}.jpg")
        split = "train" if i < n // 2 else ("val" if i < 3 * n // 4 else "test")
        rows.append(f"{i:04d}.jpg,{split},{red},{bright}")
    (root / "attributes.csv").write_text("\n".join(rows) + "\n")
    return root


def test_table_loader_and_errors(tmp_path):
    data = load_attribute_table(write_table(tmp_path / "attributes"))
    assert data.attributes == ["red", "bright"]
    assert (len(data.train), len(data.val), len(data.test)) == (12, 6, 6)
    assert data.train.paths[0].is_file() and data.train.targets.shape == (12, 2)
    assert len(load_attribute_table(tmp_path).train) == 12  # saip data root with attributes/
    bad = tmp_path / "bad.csv"
    bad.write_text("image,split,a\nx.jpg,train,2\n")
    with pytest.raises(ValueError, match=r"bad.csv:2: .*0/1"):
        load_attribute_table(bad)
    bad.write_text("file,a\n")
    with pytest.raises(ValueError, match="header"):
        load_attribute_table(bad)


def test_linear_probe_separates_separable_features():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 2, (200, 3))
    feats = torch.tensor(targets * 2.0 - 1 + rng.normal(0, 0.3, (200, 3)), dtype=torch.float32)
    feats = torch.cat([feats, torch.randn(200, 5)], dim=1)
    layer, mean, std = fit_linear_probe(feats[:150], targets[:150], steps=200)
    out = attribute_metrics(predict_linear(layer, mean, std, feats[150:]), targets[150:])
    assert out["mA"] > 95


def test_finetune_loss_decreases(tmp_path):
    data = load_attribute_table(write_table(tmp_path / "attributes"))
    backbone, info = load_backbone("random:vit_tiny", img_size=(32, 16), seed=0)
    budget = TaskBudget("finetune", (32, 16), steps=20, batch_size=12, lr=3e-4, warmup_steps=3)
    metrics, losses = finetune(backbone, info, data, budget, seed=0)
    assert len(losses) == 20 and np.mean(losses[-5:]) < np.mean(losses[:5])
    assert 0 <= metrics["mA"] <= 100


def test_cli_eval_attributes_linear(tmp_path):
    root = write_table(tmp_path / "attributes")
    result = CliRunner().invoke(
        saip.cli.app,
        [
            "eval",
            "attributes",
            "--backbone",
            "random:vit_tiny",
            "--data",
            str(root),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "out" / "results.json").read_text())["tasks"]["attributes"]["metrics"]
    assert {"mA", "accuracy", "precision", "recall", "F1"} <= set(metrics)
