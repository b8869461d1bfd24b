"""Part-level attribute parsing: decode of perfect outputs, the CLI end to end, Table III rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from saip.evaluate.box_ops import xyxy_to_xywh
from saip.evaluate.heads.attribute_detector import attribute_detector_loss, decode_attribute_detections
from saip.evaluate.heads.dense_detector import centernet_targets
from saip.evaluate.metrics.attribute_detection import fashionpedia_ap
from saip.synth.writer import write_synthetic_dataset

ATTRS = [3, 5, 8]


def test_perfect_outputs_decode_to_ground_truth() -> None:
    boxes = [torch.tensor([[8.0, 4.0, 40.0, 60.0], [44.0, 8.0, 60.0, 24.0]])]
    labels = [torch.tensor([0, 1])]
    attributes = [torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])]
    targets = centernet_targets(boxes, (16, 16), labels=labels, num_classes=2, values=attributes)
    heat = targets["heatmap"].clamp(1e-4, 1 - 1e-4)
    outputs = {
        "heatmap": torch.log(heat / (1 - heat)),
        "size": targets["size"],
        "offset": targets["offset"],
        "attributes": (targets["values"] * 2 - 1) * 10.0,
    }
    [(peaks, decided)] = decode_attribute_detections(outputs, score_threshold=0.5)
    assert sorted(peaks.labels.tolist()) == [0, 1]
    categories = [7, 23]  # class index → category id
    results = [
        {
            "image_id": 1,
            "category_id": categories[int(label)],
            "bbox": box,
            "score": float(score),
            "attribute_ids": [ATTRS[j] for j in torch.nonzero(row).flatten().tolist()],
        }
        for box, score, label, row in zip(
            xyxy_to_xywh(peaks.boxes).tolist(), peaks.scores, peaks.labels, decided, strict=True
        )
    ]
    gt = {
        "images": [{"id": 1, "file_name": "a.jpg", "height": 64, "width": 64}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 7, "bbox": [8, 4, 32, 56], "attribute_ids": [3, 8]},
            {"id": 2, "image_id": 1, "category_id": 23, "bbox": [44, 8, 16, 16], "attribute_ids": []},
        ],
        "categories": [{"id": 7, "name": "shorts"}, {"id": 23, "name": "shoe"}],
        "attributes": [{"id": a, "name": str(a)} for a in ATTRS],
    }
    for ann in gt["annotations"]:
        ann.update(area=float(ann["bbox"][2] * ann["bbox"][3]), iscrowd=0)
    scores = fashionpedia_ap(gt, results)
    assert scores["AP_iou_f1"] == pytest.approx(1.0) and scores["AP"] == pytest.approx(1.0)
    zeros = {k: torch.zeros_like(v) for k, v in outputs.items()}
    assert attribute_detector_loss(outputs, boxes, labels, attributes) < attribute_detector_loss(
        zeros, boxes, labels, attributes
    )


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pap")
    write_synthetic_dataset(
        out, identities=2, images_per_id=1, scenes=5, scene_size=(96, 128), tasks=("mhp", "pap")
    )
    return out


def test_cli_end_to_end_and_report_rows(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from saip.cli import app
    from saip.evaluate import budgets

    monkeypatch.setitem(budgets.BUDGETS["quick"], "pap", budgets.TaskBudget("frozen", (128, 128), 2, 2, 1e-3))
    monkeypatch.setitem(budgets.BUDGETS["quick"], "mhp", budgets.TaskBudget("frozen", (96, 128), 2, 2, 1e-3))
    out = tmp_path / "out"
    args = ["eval", "pap", "--backbone", "random:vit_tiny", "--data", str(data_root), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "results.json").read_text())["tasks"]["pap"]["metrics"]
    assert {"AP_iou_f1", "AP_iou50_f150", "AP", "AP50"} <= set(metrics)
    assert json.loads((out / "pap" / "pap.json").read_text())["protocol"] == "frozen"
    # saip eval all: both tasks as rows of the multi-person group (the paper's Table III layout).
    args = ["eval", "all", "--backbone", "random:vit_tiny", "--data", str(data_root), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--tasks", "mhp", "--tasks", "pap"])
    assert result.exit_code == 0, result.output
    table = (out / "results.md").read_text()
    assert "| multi-person | multi-human parsing | CIHP | mIoU |" in table
    assert "| multi-person | multi-human parsing | CIHP | APp_vol |" in table
    assert "| multi-person | part-level attribute parsing | Fashionpedia | AP_iou_f1 |" in table
    # Bad input: an annotation file without the attributes list; one line naming it, exit code 2.
    broken = tmp_path / "broken"
    (broken / "annotations").mkdir(parents=True)
    for split in ("train", "val"):
        (broken / "annotations" / f"instances_attributes_{split}2020.json").write_text(
            json.dumps({"images": [], "annotations": [], "categories": []})
        )
    bad = CliRunner().invoke(app, ["eval", "pap", "--backbone", "random:vit_tiny", "--data", str(broken)])
    assert bad.exit_code == 2 and "instances_attributes_train2020.json" in bad.output
    assert "no 'attributes' key" in bad.output


def test_random_box_crop_by_hand() -> None:
    from types import SimpleNamespace

    from saip.evaluate.datasets.box_crop import RandomBoxCrop

    image = torch.arange(3 * 8 * 8, dtype=torch.float32).reshape(3, 8, 8)
    boxes = torch.tensor([[0.0, 0.0, 4.0, 4.0], [4.0, 4.0, 8.0, 8.0], [3.0, 3.0, 5.0, 5.0]])
    crop = RandomBoxCrop([{"image": image, "boxes": boxes, "index": 0}], (4, 4))
    crop.rng = SimpleNamespace(integers=lambda n: 2)  # window x, y ∈ [2, 6)
    item = crop[0]
    # Centres (2, 2) and (4, 4) lie inside the window, (6, 6) does not; kept boxes are shifted and clipped.
    assert item["kept"].tolist() == [0, 2]
    assert item["boxes"].tolist() == [[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0]]
    assert torch.equal(item["image"], image[:, 2:6, 2:6])
