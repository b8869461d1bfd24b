"""Box ops (IoU, NMS) and the IoU tracker (saip.sources.box_ops, saip.sources.tracking)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from saip.sources.box_ops import iou_matrix, nms
from saip.sources.tracking import IoUTracker, match_boxes


def naive_iou(a: list[float], b: list[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union


def random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    xy = rng.uniform(0, 100, (n, 2))
    return np.column_stack([xy, xy + rng.uniform(5, 60, (n, 2))])


def test_iou_matrix_matches_definition() -> None:
    rng = np.random.default_rng(0)
    a, b = random_boxes(rng, 7), random_boxes(rng, 5)
    expected = np.array([[naive_iou(list(x), list(y)) for y in b] for x in a])
    np.testing.assert_allclose(iou_matrix(a, b), expected)
    assert iou_matrix([[0, 0, 10, 10]], [[0, 0, 10, 10]])[0, 0] == 1.0
    assert iou_matrix([[0, 0, 10, 10]], [[0, 0, 10, 5]])[0, 0] == pytest.approx(0.5)
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 5)


def test_nms_against_naive_loop() -> None:
    rng = np.random.default_rng(1)
    boxes = random_boxes(rng, 40)
    scores = rng.uniform(size=40)
    kept: list[int] = []
    for i in sorted(range(40), key=lambda k: -scores[k]):  # Felzenszwalb-style greedy NMS
        if all(naive_iou(list(boxes[i]), list(boxes[j])) <= 0.3 for j in kept):
            kept.append(i)
    assert nms(boxes, scores, 0.3).tolist() == kept


def test_nms_suppresses_duplicates() -> None:
    boxes = np.array([[0, 0, 10, 20], [1, 0, 11, 20], [50, 50, 60, 70]], dtype=float)
    assert nms(boxes, np.array([0.5, 0.9, 0.1]), 0.5).tolist() == [1, 2]
    with pytest.raises(ValueError, match="scores"):
        nms(boxes, np.array([1.0]), 0.5)


def test_hungarian_beats_greedy_on_a_conflict() -> None:
    ious = np.array([[0.9, 0.8], [0.85, 0.0]])
    assert sorted(match_boxes(ious, 0.3, "hungarian")) == [(0, 1), (1, 0)]  # total 1.65
    assert match_boxes(ious, 0.3, "greedy") == [(0, 0)]  # takes 0.9, then row 1 has nothing left
    # the optimum over all one-to-one matchings, computed by brute force
    best = max(
        sum(ious[r, c] for r, c in zip(range(2), perm, strict=True))
        for perm in itertools.permutations(range(2))
    )
    assert sum(ious[r, c] for r, c in match_boxes(ious, 0.0, "hungarian")) == pytest.approx(best)
    with pytest.raises(ValueError, match="matcher"):
        match_boxes(ious, 0.3, "auction")


def walker(x0: float, step: float, frames: range) -> dict[int, list[float]]:
    return {f: [x0 + step * f, 10, x0 + step * f + 20, 60, 1.0] for f in frames}


@pytest.mark.parametrize("method", ["hungarian", "greedy"])
def test_tracker_links_two_walkers_and_closes_lost_tracks(method: str) -> None:
    left, right = walker(0, 4, range(10)), walker(200, -3, range(10))
    ghost = {3: [400, 400, 420, 450, 0.5]}  # a single spurious detection
    tracker = IoUTracker(iou_threshold=0.3, max_age=1, method=method)
    closed_at: dict[int, int] = {}
    for frame in range(12):
        detections = [d[frame] for d in (left, right, ghost) if frame in d]
        _updated, closed = tracker.update(frame, np.array(detections).reshape(-1, 5))
        for track in closed:
            closed_at[track.track_id] = frame
    tracks = tracker.finish()
    assert [len(t) for t in tracks] == [10, 10, 1]
    assert tracks[0].frames == list(range(10)) and tracks[0].boxes[5][0] == 20
    assert closed_at == {2: 5, 0: 11, 1: 11}  # ghost unmatched at frames 4 and 5 (> max_age=1)


def test_tracker_splits_on_a_jump() -> None:
    tracker = IoUTracker(iou_threshold=0.5)
    tracker.update(0, np.array([[0, 0, 10, 20]]))
    tracker.update(1, np.array([[8, 0, 18, 20]]))  # IoU 2/18: a different track
    assert [t.frames for t in tracker.finish()] == [[0], [1]]
