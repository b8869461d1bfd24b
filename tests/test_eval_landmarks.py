"""Whole-body landmarks: COCO-WholeBody keypoint set, per-part OKS AP (GT-as-prediction on the real
fixture through the decode path, a shifted prediction scored by hand), loader, synthetic layout, CLI."""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import saip.cli
from saip.evaluate.budgets import BUDGETS
from saip.evaluate.datasets.coco_keypoints import TopDownDataset
from saip.evaluate.datasets.coco_wholebody import (
    WHOLEBODY_FLIP_PAIRS,
    WHOLEBODY_NAMES,
    WHOLEBODY_SIGMAS,
    load_coco_wholebody,
)
from saip.evaluate.metrics.wholebody import wholebody_keypoint_ap
from saip.evaluate.pose import heatmaps_to_keypoints, keypoint_results
from saip.synth.formats.coco_wholebody import WHOLEBODY_PARTS
from saip.synth.writer import write_synthetic_dataset

REAL = Path(
    os.environ.get(
        "SAIP_REAL_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "data" / "real-fixtures"
    )
)
WHOLEBODY_FIXTURE = REAL / "coco" / "test_coco_wholebody.json"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def test_wholebody_keypoint_set() -> None:
    assert len(WHOLEBODY_NAMES) == 133 == sum(n for _, _, n in WHOLEBODY_PARTS)
    assert [len(WHOLEBODY_SIGMAS[p]) for p, _, _ in WHOLEBODY_PARTS] == [17, 6, 68, 21, 21]
    index = {n: i for i, n in enumerate(WHOLEBODY_NAMES)}
    pairs = dict(WHOLEBODY_FLIP_PAIRS) | {b: a for a, b in WHOLEBODY_FLIP_PAIRS}
    assert len(pairs) == 2 * len(WHOLEBODY_FLIP_PAIRS)  # every point in at most one pair
    assert pairs[index["left_hand_root"]] == index["right_hand_root"]
    assert pairs[index["left_heel"]] == index["right_heel"] and pairs[index["face-36"]] == index["face-45"]
    assert index["face-8"] not in pairs and index["face-30"] not in pairs  # chin and nose tip are central
    sig = [s for p, _, _ in WHOLEBODY_PARTS for s in WHOLEBODY_SIGMAS[p]]
    # mirrored body and hand points share their sigma (the official foot/face lists are not symmetric)
    assert all(sig[a] == sig[b] for a, b in WHOLEBODY_FLIP_PAIRS if b < 17 or a >= 91)


@pytest.mark.skipif(
    not WHOLEBODY_FIXTURE.is_file(),
    reason=f"real fixture not found: {WHOLEBODY_FIXTURE} (set SAIP_REAL_FIXTURES)",
)
def test_ground_truth_through_encode_decode_scores_ap_one_on_the_real_fixture() -> None:
    data = load_coco_wholebody(WHOLEBODY_FIXTURE, WHOLEBODY_FIXTURE.parent)
    assert len(data.instances) > 0 and all(i.keypoints.shape == (133, 3) for i in data.instances)
    dataset = TopDownDataset(data.instances, (256, 192), MEAN, STD, data.flip_pairs, train=False)
    heatmaps = torch.stack([dataset[i]["heatmaps"] for i in range(len(dataset))])
    matrices = torch.stack([dataset[i]["matrix"] for i in range(len(dataset))])
    keypoints = heatmaps_to_keypoints(heatmaps, matrices)
    scores = wholebody_keypoint_ap(data.dataset, keypoint_results(data.instances, keypoints))
    for key in ("AP", "body_AP", "foot_AP", "face_AP", "lefthand_AP", "righthand_AP", "hand_AP", "AR"):
        assert scores[key] == pytest.approx(1.0), key


def _one_person(area: float) -> dict:
    rng = np.random.default_rng(0)
    body = np.stack([rng.uniform(20, 60, 17), rng.uniform(10, 90, 17), np.full(17, 2.0)], 1)
    foot = np.stack([rng.uniform(20, 60, 6), rng.uniform(85, 95, 6), np.full(6, 2.0)], 1)
    ann = {
        "id": 1,
        "image_id": 1,
        "category_id": 1,
        "iscrowd": 0,
        "bbox": [15.0, 5.0, 50.0, 95.0],
        "area": area,
        "num_keypoints": 17,
        "keypoints": body.ravel().tolist(),
        "foot_kpts": foot.ravel().tolist(),
        "face_kpts": [0.0] * 204,  # face and hands unlabelled: ignored for those parts
        "lefthand_kpts": [0.0] * 63,
        "righthand_kpts": [0.0] * 63,
    }
    return {
        "images": [{"id": 1, "file_name": "a.jpg", "height": 100, "width": 80}],
        "annotations": [ann],
        "categories": [{"id": 1, "name": "person", "keypoints": WHOLEBODY_NAMES[:17]}],
    }


def test_shifted_foot_prediction_gives_the_hand_computed_oks() -> None:
    gt = _one_person(area=2500.0)
    ann = gt["annotations"][0]
    pred = np.zeros((133, 3))
    pred[:17] = np.asarray(ann["keypoints"]).reshape(17, 3)
    pred[17:23] = np.asarray(ann["foot_kpts"]).reshape(6, 3) + [3.6, 4.8, 0.0]  # moved by d = 6 px
    pred[:23, 2] = 0.9
    results = [{"image_id": 1, "category_id": 1, "keypoints": pred.ravel().tolist(), "score": 0.9}]
    # OKS = mean over labelled points of exp(-d² / (2 · area · (2σ)²)); by hand with d² = 36, area 2500:
    #   σ 0.068: exp(-36 / (5000 · 0.018496)) = exp(-0.38927) = 0.67755
    #   σ 0.066: exp(-36 / (5000 · 0.017424)) = exp(-0.41322) = 0.66151 (twice)
    #   σ 0.092: exp(-36 / (5000 · 0.033856)) = exp(-0.21267) = 0.80843
    #   σ 0.094: exp(-36 / (5000 · 0.035344)) = exp(-0.20371) = 0.81570 (twice)
    terms = [0.67755, 0.66151, 0.66151, 0.80843, 0.81570, 0.81570]
    foot_oks = sum(terms) / 6  # 0.74007: matched at OKS thresholds 0.50 ... 0.70 of 0.50:0.05:0.95
    whole_oks = (17 * 1.0 + sum(terms)) / 23  # 0.93219: matched at 0.50 ... 0.90
    sigmas = WHOLEBODY_SIGMAS["foot"]
    assert [math.exp(-36 / (2 * 2500 * (2 * s) ** 2)) for s in sigmas] == pytest.approx(terms, abs=1e-5)
    thresholds = np.linspace(0.5, 0.95, 10)
    scores = wholebody_keypoint_ap(gt, results)
    assert scores["foot_AP"] == pytest.approx(float((thresholds <= foot_oks).mean())) == pytest.approx(0.5)
    assert scores["AP"] == pytest.approx(float((thresholds <= whole_oks).mean())) == pytest.approx(0.9)
    assert scores["body_AP"] == pytest.approx(1.0)
    assert scores["face_AP"] == 0.0 and scores["hand_AP"] == 0.0  # no labelled face/hand: nothing to score


def test_loader_names_the_file_when_a_part_is_missing(tmp_path) -> None:
    gt = _one_person(area=2500.0)
    del gt["annotations"][0]["face_kpts"]
    ann = tmp_path / "coco_wholebody_val_v1.0.json"
    ann.write_text(json.dumps(gt))
    with pytest.raises(ValueError, match=r"coco_wholebody_val_v1\.0\.json: annotation 1 has no 'face_kpts'"):
        load_coco_wholebody(ann, tmp_path)


def test_synthetic_landmarks_layout_and_cli_end_to_end(tmp_path, monkeypatch) -> None:
    data = tmp_path / "data"
    write_synthetic_dataset(data, identities=4, images_per_id=3, seed=0, scenes=0, tasks=("landmarks",))
    train = load_coco_wholebody(
        data / "landmarks" / "annotations" / "coco_wholebody_train_v1.0.json",
        data / "landmarks" / "images" / "train",
    )
    labelled = np.stack([i.keypoints[:, 2] > 0 for i in train.instances])
    assert labelled[:, :17].any() and labelled[:, 17:23].any() and labelled[:, 23:91].any()
    assert labelled[:, 91:].any() and not labelled[:, 23:91].all()  # unlocatable face points: v = 0
    fast = replace(BUDGETS["quick"]["landmarks"], steps=2, batch_size=4, img_size=(64, 48))
    monkeypatch.setitem(BUDGETS["quick"], "landmarks", fast)
    out = tmp_path / "out"
    args = ["eval", "landmarks", "--backbone", "random:vit_tiny", "--data", str(data), "--out", str(out)]
    result = CliRunner().invoke(saip.cli.app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "results.json").read_text())["tasks"]["landmarks"]["metrics"]
    assert set(metrics) >= {"AP", "AR", "body_AP", "foot_AP", "face_AP", "hand_AP"}
    assert all(0.0 <= metrics[k] <= 100.0 for k in ("AP", "body_AP", "hand_AP"))
    assert len(json.loads((out / "landmarks" / "landmarks.json").read_text())["train_loss"]) == 2
    (data / "landmarks" / "annotations" / "coco_wholebody_val_v1.0.json").unlink()
    bad = CliRunner().invoke(saip.cli.app, args)
    assert bad.exit_code == 2 and "coco_wholebody_val_v1.0.json" in bad.output
