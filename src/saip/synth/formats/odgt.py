"""CrowdHuman ``.odgt`` lines (one JSON object per image)."""

from __future__ import annotations

import json

import numpy as np


def _xywh(box: np.ndarray) -> list[float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return [round(x0, 1), round(y0, 1), round(x1 - x0, 1), round(y1 - y0, 1)]


def odgt_line(stem: str, full_boxes: np.ndarray, visible_boxes: np.ndarray, head_boxes: np.ndarray) -> str:
    """One odgt record; boxes are (N, 4) x0, y0, x1, y1 and written as x, y, w, h."""
    gtboxes = [
        {"tag": "person", "fbox": _xywh(f), "vbox": _xywh(v), "hbox": _xywh(h), "extra": {"ignore": 0}}
        for f, v, h in zip(full_boxes, visible_boxes, head_boxes, strict=True)
    ]
    return json.dumps({"ID": stem, "gtboxes": gtboxes})
