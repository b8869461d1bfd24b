"""Multi-person scenes: several people at different depths, painted back to front."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from saip.synth.cameras import apply_camera, make_camera, render_background
from saip.synth.identity import make_identity
from saip.synth.painter import Painter
from saip.synth.palette import jitter
from saip.synth.placement import place
from saip.synth.render import render_person
from saip.synth.skeleton import sample_pose

_SCENE_STREAM = 4
SCENE_ID_OFFSET = 1 << 42  # identities in scenes never collide with ReID identities
MAX_SCENE_PERSONS = 254
DEFAULT_HEIGHTS = (0.18, 0.9)  # person heights as fractions of the image height (far to near)


@dataclass
class SceneSample:
    """A rendered scene; per-person arrays are ordered back (far) to front (near)."""

    image: Image.Image
    camid: int
    pids: np.ndarray  # (N,) int64
    boxes: np.ndarray  # (N, 4) float32 x0, y0, x1, y1: tight box of the visible instance mask
    full_boxes: np.ndarray  # (N, 4) float32 whole-body box (may extend beyond the image)
    head_boxes: np.ndarray  # (N, 4) float32
    keypoints: np.ndarray  # (N, 17, 3) float32, COCO visibility
    instances: np.ndarray | None  # (H, W) uint8: 0 background, k + 1 person k
    parts: np.ndarray | None  # (H, W) uint8 part classes

    @property
    def masks(self) -> np.ndarray:
        """(N, H, W) bool instance masks (disjoint)."""
        assert self.instances is not None, "scene rendered without labels"
        return self.instances[None] == np.arange(1, len(self.pids) + 1)[:, None, None]


def render_scene(
    seed: int,
    index: int,
    size: tuple[int, int] = (384, 512),
    min_persons: int = 2,
    max_persons: int = 6,
    num_cameras: int = 6,
    labels: bool = True,
    heights: tuple[float, float] = DEFAULT_HEIGHTS,
) -> SceneSample:
    """Render scene ``index``: a pure function of its arguments.

    ``heights`` bounds each person's height as a fraction of the image height; taller persons stand
    nearer (their feet lower in the frame) and are painted later.
    """
    if not 1 <= min_persons <= max_persons <= MAX_SCENE_PERSONS:
        raise ValueError(f"need 1 <= min_persons <= max_persons <= {MAX_SCENE_PERSONS}")
    if not 0 < heights[0] <= heights[1] <= 1.2:
        raise ValueError(f"need 0 < heights[0] <= heights[1] <= 1.2, got {heights}")
    rng = np.random.default_rng([seed, _SCENE_STREAM, index])
    H, W = size
    camid = int(rng.integers(num_cameras))
    cam = make_camera(seed, camid)
    hy = H * float(rng.uniform(0.35, 0.6))
    image = render_background(rng, cam, size, horizon=hy)
    n = int(rng.integers(min_persons, max_persons + 1))
    fracs = np.sort(rng.uniform(heights[0], heights[1], size=n))  # far (small) first
    instances = Image.new("L", (W, H), 0)  # always kept: visibility needs it
    parts = Image.new("L", (W, H), 0) if labels else None
    pids, full_boxes, head_boxes, kps = [], [], [], []
    for k, frac in enumerate(fracs):
        pid = SCENE_ID_OFFSET + int(rng.integers(1 << 32))
        ident = make_identity(seed, pid)
        pose = sample_pose(rng, ident.body)
        height = float(frac) * H
        feet = hy + (H * 1.05 - hy) * (frac - 0.1) / 0.85 + float(rng.normal(0.0, 0.02 * H))
        scale, origin = place(pose, float(rng.uniform(-0.05, 1.05)) * W, feet, height)
        out = render_person(Painter(image, parts, instances, k + 1), ident, pose, scale, origin)
        pids.append(pid)
        full_boxes.append(out.full_box)
        head_boxes.append(out.head_box)
        kps.append(out.keypoints)
    if rng.random() < 0.3:  # a pole in front of everybody
        w = float(rng.uniform(0.01, 0.04)) * W
        x = float(rng.uniform(0, W - w))
        color = jitter(rng, cam.clutter[0], 20)
        Painter(image, parts, instances, 0, part_override=0).polygon(
            np.array([[x, -1.0], [x + w, -1.0], [x + w, H + 1.0], [x, H + 1.0]]), color, 0
        )
    image = apply_camera(rng, cam, image)

    inst = np.asarray(instances)
    areas = np.bincount(inst.ravel(), minlength=n + 1)[1:]
    keep = np.flatnonzero(areas > 0)
    lut = np.zeros(256, dtype=np.uint8)
    lut[keep + 1] = np.arange(1, len(keep) + 1)
    inst = lut[inst]
    boxes = np.zeros((len(keep), 4), dtype=np.float32)
    keypoints = np.stack(kps)[keep] if len(keep) else np.zeros((0, 17, 3), dtype=np.float32)
    ys, xs = np.nonzero(inst)
    labels_at = inst[ys, xs]
    for j in range(len(keep)):
        sel = labels_at == j + 1
        boxes[j] = (xs[sel].min(), ys[sel].min(), xs[sel].max() + 1, ys[sel].max() + 1)
        kp = keypoints[j]
        xi, yi = np.floor(kp[:, 0]).astype(int), np.floor(kp[:, 1]).astype(int)
        inside = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H)
        hidden = np.zeros(17, dtype=bool)
        hidden[inside] = inst[yi[inside], xi[inside]] != j + 1
        kp[hidden & (kp[:, 2] > 1), 2] = 1
        kp[~inside] = 0
    full = np.asarray(full_boxes, dtype=np.float32).reshape(-1, 4)
    if len(keep):  # the whole-body box always contains the visible box
        full[keep, :2] = np.minimum(full[keep, :2], boxes[:, :2])
        full[keep, 2:] = np.maximum(full[keep, 2:], boxes[:, 2:])
    return SceneSample(
        image=image,
        camid=camid,
        pids=np.asarray(pids, dtype=np.int64)[keep],
        boxes=boxes,
        full_boxes=full[keep],
        head_boxes=np.asarray(head_boxes, dtype=np.float32).reshape(-1, 4)[keep],
        keypoints=keypoints.astype(np.float32),
        instances=inst if labels else None,
        parts=np.asarray(parts) if parts is not None else None,
    )
