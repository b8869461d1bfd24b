"""Fashionpedia AP^box with the IoU + F1 criterion, on hand-worked cases."""

from __future__ import annotations

import pytest

from saip.evaluate.metrics.attribute_detection import F1_THRESHOLDS, attribute_f1, fashionpedia_ap
from saip.evaluate.metrics.detection import coco_box_ap

ATTRS = [10, 11, 12, 13]


def test_attribute_f1_binary_macro_by_hand() -> None:
    assert attribute_f1([10, 11], [10, 11], ATTRS) == 1.0
    assert attribute_f1([], [], ATTRS) == 1.0  # only "absent" occurs, predicted perfectly
    # truth 1100, prediction 1000: present-F1 = 2·1/(2·1+0+1) = 2/3; absent-F1 = 2·2/(2·2+1+0) = 4/5.
    assert attribute_f1([10, 11], [10], ATTRS) == pytest.approx((2 / 3 + 4 / 5) / 2)
    # truth 1000, prediction 0100: present-F1 = 0; absent-F1 = 2·2/(2·2+1+1) = 2/3.
    assert attribute_f1([10], [11], ATTRS) == pytest.approx((0 + 2 / 3) / 2)
    with pytest.raises(ValueError, match="not in the dataset"):
        attribute_f1([99], [], ATTRS)


def _ground_truth() -> dict:
    """One image: two garments of category 1 (with attributes) and a shoe (category 23, none)."""
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 20, 40], "attribute_ids": [10, 11]},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [40, 0, 20, 40], "attribute_ids": [10, 11]},
        {"id": 3, "image_id": 1, "category_id": 23, "bbox": [5, 50, 10, 8], "attribute_ids": []},
    ]
    for ann in annotations:
        ann.update(area=float(ann["bbox"][2] * ann["bbox"][3]), iscrowd=0)
    return {
        "images": [{"id": 1, "file_name": "a.jpg", "height": 64, "width": 64}],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "top"}, {"id": 23, "name": "shoe"}],
        "attributes": [{"id": a, "name": f"attr{a}"} for a in ATTRS],
    }


def _detection(box: list[float], category: int, score: float, attributes: list[int]) -> dict:
    return {"image_id": 1, "category_id": category, "bbox": box, "score": score, "attribute_ids": attributes}


def test_ground_truth_as_prediction_gives_one() -> None:
    gt = _ground_truth()
    results = [_detection(a["bbox"], a["category_id"], 1.0, a["attribute_ids"]) for a in gt["annotations"]]
    assert fashionpedia_ap(gt, results) == pytest.approx(
        {"AP_iou_f1": 1.0, "AP_iou50_f150": 1.0, "AP": 1.0, "AP50": 1.0, "AP75": 1.0}
        | {"AP50/top": 1.0, "AP50/shoe": 1.0}
    )


def test_per_category_ap50() -> None:
    """Only the shoe is found: shoe AP50 1, top AP50 0, and the plain AP50 is their mean."""
    gt = _ground_truth()
    scores = fashionpedia_ap(gt, [_detection([5, 50, 10, 8], 23, 0.7, [])])
    assert scores["AP50/shoe"] == pytest.approx(1.0) and scores["AP50/top"] == pytest.approx(0.0)
    assert scores["AP50"] == pytest.approx(0.5)


def test_iou_and_f1_must_both_pass() -> None:
    gt = _ground_truth()
    results = [
        _detection([0, 0, 20, 40], 1, 0.9, [10, 11]),  # exact box, F1 1
        _detection([40, 0, 20, 40], 1, 0.8, [10]),  # exact box, F1 (2/3 + 4/5)/2 ≈ 0.733
        _detection([5, 50, 10, 8], 23, 0.7, [12]),  # shoe: no attributes in the GT → IoU only
    ]
    scores = fashionpedia_ap(gt, results)
    # Category 1: for t_F1 ≤ 0.70 (5 thresholds) both detections are TPs (AP 1); for t_F1 ≥ 0.75 the
    # second is an FP and its garment is missed: precision 1 up to recall 0.5 = 51 of the 101 recall
    # points. The shoe has AP 1 (one slice). Every IoU is 1, so all IoU thresholds agree.
    assert F1_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
    assert scores["AP_iou_f1"] == pytest.approx((5 * 1.0 + 5 * 51 / 101 + 1.0) / 11)
    assert scores["AP_iou50_f150"] == pytest.approx(1.0)
    assert scores["AP"] == pytest.approx(1.0)  # boxes alone are perfect
    plain = coco_box_ap(gt, [{k: v for k, v in r.items() if k != "attribute_ids"} for r in results])
    assert scores["AP"] == pytest.approx(plain["AP"]) and scores["AP50"] == pytest.approx(plain["AP50"])


def test_f1_failure_lets_a_lower_scored_detection_match() -> None:
    gt = _ground_truth()
    results = [
        _detection([0, 0, 20, 40], 1, 0.9, [12, 13]),  # right box, wrong attributes: F1 = 0 + 0 → 0
        _detection([0, 0, 20, 40], 1, 0.8, [10, 11]),  # same box, right attributes: takes the garment
        _detection([40, 0, 20, 40], 1, 0.7, [10, 11]),
        _detection([5, 50, 10, 8], 23, 0.6, []),
    ]
    scores = fashionpedia_ap(gt, results)
    # Category 1 under every F1 threshold: FP, TP, TP → precision envelope 2/3 for all recalls.
    assert attribute_f1([10, 11], [12, 13], ATTRS) == 0.0
    assert scores["AP_iou_f1"] == pytest.approx((10 * 2 / 3 + 1.0) / 11, abs=1e-3)
    # Plain box AP: the first detection already matches: TP, FP, TP → precision 1 up to recall 0.5,
    # then 2/3: (51·1 + 50·2/3)/101 for the garments, 1 for the shoe.
    assert scores["AP"] == pytest.approx(((51 + 50 * 2 / 3) / 101 + 1.0) / 2, abs=1e-3)
