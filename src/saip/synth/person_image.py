"""One labelled single-person image (a ReID-style pedestrian crop)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from saip.synth.attributes import attribute_vector
from saip.synth.cameras import apply_camera, make_camera, render_background
from saip.synth.identity import make_identity
from saip.synth.occluders import draw_occluder
from saip.synth.painter import Painter
from saip.synth.placement import place
from saip.synth.render import render_person
from saip.synth.skeleton import sample_pose

_PERSON_STREAM = 3
# Identities drawn as distractors (other people partly in the frame) live far from real ids.
DISTRACTOR_OFFSET = 1 << 40


@dataclass
class PersonSample:
    """A rendered pedestrian crop and its labels."""

    image: Image.Image
    pid: int
    camid: int
    attributes: np.ndarray  # (A,) uint8
    keypoints: np.ndarray  # (17, 3) float32, COCO visibility 0/1/2
    parts: np.ndarray | None  # (H, W) uint8 part classes (None when rendered without labels)
    view: str
    action: str
    wholebody: np.ndarray | None = None  # (133, 3) float32: COCO-WholeBody order, v = 0 unlabelled


def camera_of(pid: int, frame: int, num_cameras: int) -> int:
    """Camera (0-based) that takes image ``frame`` of identity ``pid``: cycles over all cameras."""
    return (pid + frame) % num_cameras


def render_person_image(
    seed: int,
    pid: int,
    frame: int,
    size: tuple[int, int] = (256, 128),
    num_cameras: int = 6,
    labels: bool = True,
    hard: bool = True,
) -> PersonSample:
    """Render image ``frame`` of identity ``pid``: a pure function of all arguments.

    ``hard=False`` switches off occluders, crop cut-offs and distractor persons (clean labels).
    """
    rng = np.random.default_rng([seed, _PERSON_STREAM, pid, frame])
    ident = make_identity(seed, pid)
    camid = camera_of(pid, frame, num_cameras)
    cam = make_camera(seed, camid)
    H, W = size
    image = render_background(rng, cam, size)
    parts = Image.new("L", (W, H), 0) if labels else None
    occ = Image.new("L", (W, H), 0) if labels else None

    if hard and rng.random() < 0.15:  # another person partly visible behind
        other = make_identity(seed, DISTRACTOR_OFFSET + int(rng.integers(1 << 30)))
        opose = sample_pose(rng, other.body)
        shift = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.45, 0.8) * W)
        oscale, oorigin = place(opose, W / 2 + shift, H * rng.uniform(0.9, 1.0), H * rng.uniform(0.75, 0.95))
        render_person(Painter(image), other, opose, oscale, oorigin)

    pose = sample_pose(rng, ident.body)
    zoom = float(rng.uniform(0.78, 0.95))
    if hard and rng.random() < 0.1:
        zoom = float(rng.uniform(1.0, 1.2))  # tight crop: feet or head cut off
    height = zoom * H
    bottom = H - (H - height) / 2 + float(rng.normal(0.0, 0.03 * H))
    if zoom > 1.0:
        bottom = H + (height - H) * float(rng.uniform(0.3, 1.0))
    cx = W / 2 + float(rng.normal(0.0, 0.05 * W))
    scale, origin = place(pose, cx, bottom, height)
    out = render_person(Painter(image, parts), ident, pose, scale, origin)

    if hard and rng.random() < 0.35:
        draw_occluder(rng, Painter(image, parts, occ, 255, part_override=0), seed, (H, W), scale)
    image = apply_camera(rng, cam, image)

    kp = np.concatenate([out.keypoints, out.extra_keypoints]).astype(np.float32)  # (133, 3)
    xi, yi = np.floor(kp[:, 0]).astype(int), np.floor(kp[:, 1]).astype(int)
    inside = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H)
    if occ is not None:
        occ_np = np.asarray(occ)
        covered = np.zeros(len(kp), dtype=bool)
        covered[inside] = occ_np[yi[inside], xi[inside]] > 0
        kp[covered & (kp[:, 2] > 0), 2] = 1
    kp[~inside | (kp[:, 2] == 0)] = 0
    return PersonSample(
        image=image,
        pid=pid,
        camid=camid,
        attributes=attribute_vector(ident),
        keypoints=kp[:17].copy(),
        parts=np.asarray(parts) if parts is not None else None,
        view=pose.view,
        action=pose.action,
        wholebody=kp,
    )
