"""CIHP instance-level parsing metrics (AP^p, AP^p_vol) on hand-worked two-person cases."""

from __future__ import annotations

import numpy as np
import pytest

from saip.evaluate.metrics.instance_parsing import (
    ImagePersons,
    parsing_ap,
    parsing_ap_summary,
    part_iou,
    split_persons,
    voc_ap,
)

# A 2×4 image, classes 0 (background), 1, 2: person A fills columns 0–1, person B columns 2–3.
CATEGORY = np.array([[1, 1, 1, 1], [2, 2, 2, 2]])
HUMAN = np.array([[1, 1, 2, 2], [1, 1, 2, 2]])
A = np.array([[1, 1, 0, 0], [2, 2, 0, 0]])
B = np.array([[0, 0, 1, 1], [0, 0, 2, 2]])
# B's prediction spills one class-1 pixel into A and labels one class-2 pixel of B as class 1.
B_SPILL = np.array([[0, 1, 1, 1], [0, 0, 2, 1]])


def test_split_persons() -> None:
    persons = split_persons(CATEGORY, HUMAN)
    assert len(persons) == 2
    np.testing.assert_array_equal(persons[0], A)
    np.testing.assert_array_equal(persons[1], B)


def test_part_iou_by_hand() -> None:
    assert part_iou(A, A, 3) == 1.0
    # vs B: background 3/4 (3 predicted of B's 4), class 1: 2 of 4 in the union, class 2: 1 of 2.
    assert part_iou(B_SPILL, B, 3) == pytest.approx((3 / 4 + 2 / 4 + 1 / 2) / 3)
    # vs A: background 0/7, class 1: 1 of 5 in the union, class 2: 0/3.
    assert part_iou(B_SPILL, A, 3) == pytest.approx((0 + 1 / 5 + 0) / 3)


def test_voc_ap_by_hand() -> None:
    # Recall 0.5 at precision 1, then two false positives: AP = 0.5.
    assert voc_ap(np.array([0.5, 0.5, 0.5]), np.array([1.0, 0.5, 1 / 3])) == pytest.approx(0.5)
    assert voc_ap(np.array([0.5, 1.0]), np.array([1.0, 1.0])) == pytest.approx(1.0)


def test_parsing_ap_two_persons_with_overlap() -> None:
    # Ranking: A (TP), B_SPILL (part IoU 7/12 ≈ 0.583 with B: TP while t < 7/12), a duplicate of A
    # (its best person A is taken: FP, no fall-back to B).
    image = ImagePersons(split_persons(CATEGORY, HUMAN), [A, B_SPILL, A.copy()], [0.9, 0.8, 0.7])
    ap = parsing_ap([image], 3)
    for t in (0.1, 0.2, 0.3, 0.4, 0.5):
        assert ap[t] == pytest.approx(1.0)  # recall 1 reached at precision 1
    for t in (0.6, 0.7, 0.8, 0.9):
        assert ap[t] == pytest.approx(0.5)  # only A found; recall stops at 0.5
    summary = parsing_ap_summary([image], 3)
    assert summary["APp50"] == pytest.approx(1.0)
    assert summary["APp_vol"] == pytest.approx((5 * 1.0 + 4 * 0.5) / 9)


def test_ranking_by_score_and_missed_person() -> None:
    # The duplicate now ranks first and takes A; the true A prediction becomes the FP; B is missed.
    image = ImagePersons(split_persons(CATEGORY, HUMAN), [A, A.copy()], [0.5, 0.9])
    ap = parsing_ap([image], 3, thresholds=(0.5,))
    assert ap[0.5] == pytest.approx(0.5)
    empty = ImagePersons([], [A], [0.3])  # a prediction in an image without persons is an FP
    assert parsing_ap([image, empty], 3, thresholds=(0.5,))[0.5] == pytest.approx(0.5)


def test_ground_truth_as_prediction_gives_one() -> None:
    persons = split_persons(CATEGORY, HUMAN)
    image = ImagePersons(persons, [p.copy() for p in persons], [0.6, 0.4])
    assert parsing_ap_summary([image], 3) == {"APp50": 1.0, "APp_vol": 1.0}


def test_errors() -> None:
    with pytest.raises(ValueError, match="without ground-truth persons"):
        parsing_ap([ImagePersons([], [A], [0.1])], 3)
    with pytest.raises(ValueError, match="differ in shape"):
        part_iou(A, A[:, :2], 3)
