"""Things in front of a person: poles, street furniture, other passers-by."""

from __future__ import annotations

import numpy as np

from saip.synth.identity import make_identity
from saip.synth.painter import Painter
from saip.synth.palette import jitter
from saip.synth.placement import place
from saip.synth.render import render_person
from saip.synth.skeleton import sample_pose

OCCLUDER_ID_OFFSET = 1 << 41


def draw_occluder(
    rng: np.random.Generator, painter: Painter, seed: int, size: tuple[int, int], person_scale: float
) -> str:
    """Draw one random occluder with ``painter`` (which should erase part labels); returns its kind."""
    H, W = size
    kind = ("pole", "box", "person")[int(rng.choice(3, p=[0.4, 0.3, 0.3]))]
    color = jitter(rng, tuple(int(v) for v in rng.integers(30, 220, size=3)), 0)  # type: ignore[arg-type]
    if kind == "pole":
        w = float(rng.uniform(0.04, 0.12)) * W
        x = float(rng.uniform(0.0, W - w))
        painter.polygon(np.array([[x, -1.0], [x + w, -1.0], [x + w, H + 1.0], [x, H + 1.0]]), color, 0)
    elif kind == "box":
        y = float(rng.uniform(0.65, 0.85)) * H
        x0, x1 = sorted(rng.uniform(-0.3, 1.3, size=2) * W)
        x1 = max(x1, x0 + 0.3 * W)
        painter.polygon(np.array([[x0, y], [x1, y], [x1, H + 1.0], [x0, H + 1.0]]), color, 0)
    else:
        other = make_identity(seed, OCCLUDER_ID_OFFSET + int(rng.integers(1 << 30)))
        pose = sample_pose(rng, other.body)
        side = float(rng.choice([-1.0, 1.0]))
        height = H * float(rng.uniform(0.9, 1.2))
        scale, origin = place(pose, W / 2 + side * float(rng.uniform(0.55, 0.8)) * W, H * 1.05, height)
        render_person(painter, other, pose, scale, origin)
    return kind
