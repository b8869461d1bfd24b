"""Draw each primitive at once into the RGB image, the part-class mask and the instance mask."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from saip.synth.geometry import tapered_quad
from saip.synth.palette import RGB


class Painter:
    """Paints primitives into up to three aligned layers.

    ``image`` gets the colour, ``parts`` (mode 'L') the part class id and ``instances`` (mode 'L')
    the fixed ``instance_value``. ``part_override`` replaces every class id (e.g. 0 to erase the
    part mask under an occluder). Tracks the bounding box of everything drawn.
    """

    def __init__(
        self,
        image: Image.Image,
        parts: Image.Image | None = None,
        instances: Image.Image | None = None,
        instance_value: int = 255,
        part_override: int | None = None,
    ) -> None:
        self.rgb = ImageDraw.Draw(image)
        self.parts = ImageDraw.Draw(parts) if parts is not None else None
        self.instances = ImageDraw.Draw(instances) if instances is not None else None
        self.instance_value = instance_value
        self.part_override = part_override
        self.bounds = [np.inf, np.inf, -np.inf, -np.inf]

    def reset_bounds(self) -> None:
        """Forget the tracked bounding box."""
        self.bounds = [np.inf, np.inf, -np.inf, -np.inf]

    def _track(self, x0: float, y0: float, x1: float, y1: float) -> None:
        b = self.bounds
        b[0], b[1], b[2], b[3] = min(b[0], x0), min(b[1], y0), max(b[2], x1), max(b[3], y1)

    def _cls(self, cls: int) -> int:
        return cls if self.part_override is None else self.part_override

    def polygon(self, pts: np.ndarray, color: RGB, cls: int) -> None:
        """Filled polygon from (N, 2) points."""
        if len(pts) < 3:
            return
        xy = pts.ravel().tolist()
        self.rgb.polygon(xy, fill=color)
        if self.parts is not None:
            self.parts.polygon(xy, fill=self._cls(cls))
        if self.instances is not None:
            self.instances.polygon(xy, fill=self.instance_value)
        self._track(*pts.min(0), *pts.max(0))

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, color: RGB, cls: int) -> None:
        """Filled axis-aligned ellipse."""
        box = (cx - rx, cy - ry, cx + rx, cy + ry)
        if rx < 0.5 or ry < 0.5:
            return
        self.rgb.ellipse(box, fill=color)
        if self.parts is not None:
            self.parts.ellipse(box, fill=self._cls(cls))
        if self.instances is not None:
            self.instances.ellipse(box, fill=self.instance_value)
        self._track(*box)

    def chord(
        self, cx: float, cy: float, rx: float, ry: float, start: float, end: float, color: RGB, cls: int
    ) -> None:
        """Filled ellipse segment between two angles (degrees, clockwise from 3 o'clock)."""
        box = (cx - rx, cy - ry, cx + rx, cy + ry)
        if rx < 0.5 or ry < 0.5:
            return
        self.rgb.chord(box, start, end, fill=color)
        if self.parts is not None:
            self.parts.chord(box, start, end, fill=self._cls(cls))
        if self.instances is not None:
            self.instances.chord(box, start, end, fill=self.instance_value)
        self._track(*box)

    def line(self, pts: np.ndarray, color: RGB, cls: int, width: float) -> None:
        """Poly-line of the given width."""
        w = max(1, int(round(width)))
        xy = pts.ravel().tolist()
        self.rgb.line(xy, fill=color, width=w)
        if self.parts is not None:
            self.parts.line(xy, fill=self._cls(cls), width=w)
        if self.instances is not None:
            self.instances.line(xy, fill=self.instance_value, width=w)
        self._track(*(pts.min(0) - w / 2), *(pts.max(0) + w / 2))

    def capsule(self, p1: np.ndarray, p2: np.ndarray, r1: float, r2: float, color: RGB, cls: int) -> None:
        """A tapered limb: quad between two round ends."""
        quad = tapered_quad(p1, p2, r1, r2)
        self.ellipse(p1[0], p1[1], r1, r1, color, cls)
        self.ellipse(p2[0], p2[1], r2, r2, color, cls)
        if quad is not None:
            self.polygon(quad, color, cls)
