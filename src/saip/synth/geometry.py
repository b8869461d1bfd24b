"""Small 2-D geometry helpers for drawing: convex hulls, tapered capsules, clipping, hit tests."""

from __future__ import annotations

import numpy as np


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Convex hull (counter-clockwise, Andrew's monotone chain) of (N, 2) points."""
    pts = np.unique(np.round(np.asarray(points, dtype=np.float64), 4), axis=0)
    if len(pts) < 3:
        return pts
    pts = pts[np.lexsort((pts[:, 1], pts[:, 0]))]

    def cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[np.ndarray] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[np.ndarray] = []
    for p in pts[::-1]:
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def tapered_quad(p1: np.ndarray, p2: np.ndarray, r1: float, r2: float) -> np.ndarray | None:
    """The 4-corner polygon of a limb segment from p1 (half-width r1) to p2 (half-width r2)."""
    d = p2 - p1
    n = float(np.hypot(d[0], d[1]))
    if n < 1e-6:
        return None
    perp = np.array([-d[1], d[0]]) / n
    return np.array([p1 + perp * r1, p2 + perp * r2, p2 - perp * r2, p1 - perp * r1])


def clip_band(poly: np.ndarray, y0: float, y1: float) -> np.ndarray:
    """Clip a convex polygon to the horizontal band y0 <= y <= y1 (Sutherland-Hodgman)."""

    def clip(pts: np.ndarray, y: float, keep_below: bool) -> np.ndarray:
        out = []
        n = len(pts)
        for i in range(n):
            a, b = pts[i], pts[(i + 1) % n]
            ina = a[1] >= y if keep_below else a[1] <= y
            inb = b[1] >= y if keep_below else b[1] <= y
            if ina:
                out.append(a)
            if ina != inb:
                t = (y - a[1]) / (b[1] - a[1])
                out.append(a + t * (b - a))
        return np.array(out).reshape(-1, 2)

    pts = clip(np.asarray(poly, dtype=np.float64), y0, True)
    if len(pts) >= 3:
        pts = clip(pts, y1, False)
    return pts


def inside_convex(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Boolean (N,) : which points lie inside the convex counter-clockwise polygon ``poly``."""
    if len(poly) < 3:
        return np.zeros(len(points), dtype=bool)
    a = poly
    b = np.roll(poly, -1, axis=0)
    e = b - a  # (M, 2)
    rel = points[:, None, :] - a[None, :, :]  # (N, M, 2)
    cross = e[None, :, 0] * rel[..., 1] - e[None, :, 1] * rel[..., 0]
    return np.all(cross >= 0, axis=1) | np.all(cross <= 0, axis=1)


def near_segment(points: np.ndarray, p1: np.ndarray, p2: np.ndarray, radius: float) -> np.ndarray:
    """Boolean (N,): which points are within ``radius`` of the segment p1-p2."""
    d = p2 - p1
    L2 = float(d @ d)
    t = np.zeros(len(points)) if L2 < 1e-9 else np.clip((points - p1) @ d / L2, 0.0, 1.0)
    closest = p1 + t[:, None] * d
    return np.hypot(*(points - closest).T) <= radius
