"""IoU tracking-by-detection: link per-frame person boxes into tracklets (pseudo-identities).

Follows the IOU tracker of Bochinski et al. (AVSS 2017) with an optimal assignment as in SORT
(Bewley et al., ICIP 2016, without the Kalman motion model): at each frame, detections are
matched to live tracks by maximising total IoU (Hungarian algorithm,
``scipy.optimize.linear_sum_assignment``; or greedily by descending IoU), pairs below
``iou_threshold`` are not matched, unmatched detections open new tracks and tracks unmatched for
more than ``max_age`` consecutive updates are closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from saip.sources.box_ops import as_xyxy, iou_matrix

MATCHERS = ("hungarian", "greedy")


@dataclass
class Track:
    """One tracklet: the frames it was seen in and its box (x1, y1, x2, y2, score) in each."""

    track_id: int
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    misses: int = 0

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def last_box(self) -> np.ndarray:
        return self.boxes[-1]


def match_boxes(ious: np.ndarray, iou_threshold: float, method: str = "hungarian") -> list[tuple[int, int]]:
    """Pairs ``(row, col)`` of an IoU matrix matched one-to-one, each with IoU >= ``iou_threshold``."""
    if ious.size == 0:
        return []
    if method == "hungarian":
        rows, cols = linear_sum_assignment(-ious)
        return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if ious[r, c] >= iou_threshold]
    if method == "greedy":
        pairs: list[tuple[int, int]] = []
        used_rows: set[int] = set()
        used_cols: set[int] = set()
        order = np.argsort(-ious, axis=None, kind="stable")
        for flat in order:
            r, c = divmod(int(flat), ious.shape[1])
            if ious[r, c] < iou_threshold:
                break
            if r not in used_rows and c not in used_cols:
                pairs.append((r, c))
                used_rows.add(r)
                used_cols.add(c)
        return pairs
    raise ValueError(f"unknown matcher {method!r} (use one of {', '.join(MATCHERS)})")


class IoUTracker:
    """Online IoU tracker; call :meth:`update` once per processed frame, then :meth:`finish`.

    Args:
        iou_threshold: minimum IoU to continue a track.
        max_age: consecutive updates a track may go unmatched before it is closed.
        method: ``hungarian`` (optimal) or ``greedy`` assignment.
    """

    def __init__(self, iou_threshold: float = 0.3, max_age: int = 1, method: str = "hungarian") -> None:
        if not 0.0 <= iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
        if method not in MATCHERS:
            raise ValueError(f"unknown matcher {method!r} (use one of {', '.join(MATCHERS)})")
        self.iou_threshold, self.max_age, self.method = iou_threshold, max_age, method
        self.active: list[Track] = []
        self.closed: list[Track] = []
        self._next_id = 0

    def update(
        self, frame: int, detections: np.ndarray
    ) -> tuple[list[tuple[Track, np.ndarray]], list[Track]]:
        """Assign ``detections (N, 5)`` of ``frame``.

        Returns ``(updated, closed)``: the ``(track, box)`` pairs seen in this frame (continued
        or new tracks) and the tracks closed by this update.
        """
        detections = as_xyxy(detections)
        if detections.shape[1] == 4:
            detections = np.column_stack([detections, np.ones(len(detections))])
        previous = np.stack([t.last_box for t in self.active]) if self.active else np.zeros((0, 5))
        pairs = match_boxes(iou_matrix(previous, detections), self.iou_threshold, self.method)
        matched_tracks = {r for r, _ in pairs}
        matched_dets = {c for _, c in pairs}
        updated: list[tuple[Track, np.ndarray]] = []
        for r, c in pairs:
            track = self.active[r]
            track.frames.append(frame)
            track.boxes.append(detections[c])
            track.misses = 0
            updated.append((track, detections[c]))
        newly_closed: list[Track] = []
        still_active: list[Track] = []
        for index, track in enumerate(self.active):
            if index not in matched_tracks:
                track.misses += 1
                if track.misses > self.max_age:
                    newly_closed.append(track)
                    continue
            still_active.append(track)
        for c in range(len(detections)):
            if c not in matched_dets:
                track = Track(track_id=self._next_id, frames=[frame], boxes=[detections[c]])
                self._next_id += 1
                still_active.append(track)
                updated.append((track, detections[c]))
        self.active = still_active
        self.closed.extend(newly_closed)
        return updated, newly_closed

    def finish(self) -> list[Track]:
        """Close all live tracks; returns every track ever made, by id."""
        self.closed.extend(self.active)
        self.active = []
        return sorted(self.closed, key=lambda t: t.track_id)
