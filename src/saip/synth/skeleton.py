"""The 17 COCO keypoints and a small 3-D articulated skeleton posed and projected to 2-D.

Body coordinates: x towards the person's left, y down, z forward (where the person faces);
unit = roughly the person's height. A yaw of 0 faces the camera, pi shows the back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KEYPOINT_NAMES: list[str] = [
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
]
# COCO skeleton (1-based keypoint indices, as in person_keypoints_*.json).
COCO_SKELETON: list[list[int]] = [
    [16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
    [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7],
]  # fmt: skip
KEYPOINT_FLIP_PAIRS: list[tuple[int, int]] = [
    (1, 2),
    (3, 4),
    (5, 6),
    (7, 8),
    (9, 10),
    (11, 12),
    (13, 14),
    (15, 16),
]

NOSE, L_EYE, R_EYE, L_EAR, R_EAR, L_SHO, R_SHO, L_ELB, R_ELB, L_WRI, R_WRI = range(11)
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANK, R_ANK = range(11, 17)
# Extra joints used for drawing only.
NECK, HEAD, L_TOE, R_TOE, HEAD_TOP, PELVIS = range(17, 23)
NUM_JOINTS = 23

VIEWS: tuple[str, ...] = ("front", "back", "left", "right")
ACTIONS: tuple[str, ...] = ("stand", "walk", "walk", "arms_up", "wave", "arms_out", "reach")
_VIEW_YAW = {"front": 0.0, "back": np.pi, "right": np.pi / 2, "left": -np.pi / 2}


@dataclass(frozen=True)
class Body:
    """Body proportions of one identity (in height units)."""

    shoulder: float = 0.115  # half shoulder width
    hip: float = 0.08  # half hip width
    torso: float = 0.30  # pelvis to shoulder line
    neck: float = 0.045
    head: float = 0.062  # head radius
    upper_arm: float = 0.17
    forearm: float = 0.15
    thigh: float = 0.24
    shin: float = 0.22
    girth: float = 1.0  # limb/torso thickness multiplier
    depth: float = 0.055  # half torso depth (front-back)


def sample_body(rng: np.random.Generator) -> Body:
    """Random plausible proportions."""
    g = float(rng.uniform(0.85, 1.25))
    leg = float(rng.uniform(0.95, 1.06))
    return Body(
        shoulder=float(rng.uniform(0.10, 0.13)) * (0.9 + 0.1 * g),
        hip=float(rng.uniform(0.07, 0.09)) * (0.9 + 0.1 * g),
        torso=float(rng.uniform(0.28, 0.32)),
        neck=float(rng.uniform(0.035, 0.05)),
        head=float(rng.uniform(0.056, 0.066)),
        upper_arm=float(rng.uniform(0.16, 0.18)),
        forearm=float(rng.uniform(0.14, 0.16)),
        thigh=0.24 * leg,
        shin=0.22 * leg,
        girth=g,
        depth=0.05 * g,
    )


@dataclass
class Pose:
    """A posed skeleton: 3-D joints (NUM_JOINTS, 3) in body coordinates plus the view yaw."""

    joints: np.ndarray
    yaw: float
    roll: float
    head_yaw: float
    view: str
    action: str

    def rotated(self) -> np.ndarray:
        """Joints rotated by the yaw: columns (image x, image y, depth towards camera)."""
        return rotate_yaw(self.joints, self.yaw)


def rotate_yaw(points: np.ndarray, yaw: float) -> np.ndarray:
    """Rotate body-frame points about the vertical axis; returns (x_img, y, depth)."""
    c, s = np.cos(yaw), np.sin(yaw)
    out = np.empty_like(points, dtype=np.float64)
    out[..., 0] = points[..., 0] * c + points[..., 2] * s
    out[..., 1] = points[..., 1]
    out[..., 2] = -points[..., 0] * s + points[..., 2] * c
    return out


def _arm(abduction: float, flexion: float, side: float) -> np.ndarray:
    ca = np.cos(abduction)
    return np.array([side * np.sin(abduction), ca * np.cos(flexion), ca * np.sin(flexion)])


def sample_pose(
    rng: np.random.Generator, body: Body, view: str | None = None, action: str | None = None
) -> Pose:
    """Sample a pose: a view (front/back/left/right with yaw noise) and an action."""
    view = view if view is not None else VIEWS[int(rng.integers(len(VIEWS)))]
    action = action if action is not None else ACTIONS[int(rng.integers(len(ACTIONS)))]
    yaw = _VIEW_YAW[view] + float(rng.normal(0.0, 0.22))
    b = body
    J = np.zeros((NUM_JOINTS, 3))
    J[L_SHO] = (b.shoulder, -b.torso, 0.0)
    J[R_SHO] = (-b.shoulder, -b.torso, 0.0)
    J[L_HIP] = (b.hip, 0.0, 0.0)
    J[R_HIP] = (-b.hip, 0.0, 0.0)
    J[NECK] = (0.0, -b.torso - 0.01, 0.0)
    r = b.head
    head = np.array([0.0, -b.torso - b.neck - r * 0.85, 0.008])
    J[HEAD] = head
    head_yaw = float(rng.normal(0.0, 0.18))
    local = np.array(
        [
            [0.0, 0.25 * r, 0.98 * r],  # nose
            [0.36 * r, -0.08 * r, 0.82 * r],  # left eye
            [-0.36 * r, -0.08 * r, 0.82 * r],
            [0.95 * r, 0.05 * r, -0.05 * r],  # left ear
            [-0.95 * r, 0.05 * r, -0.05 * r],
            [0.0, -1.05 * r, 0.0],  # head top
        ]
    )
    local = rotate_yaw(local, -head_yaw)  # rotate_yaw returns image-like columns; same maths
    J[[NOSE, L_EYE, R_EYE, L_EAR, R_EAR, HEAD_TOP]] = head + local

    # Limb angles: (abduction, flexion) of upper arm and forearm per side; leg flexion + knee bend.
    n = lambda s=0.08: float(rng.normal(0.0, s))  # noqa: E731
    arms = {1.0: [0.12 + abs(n()), n(0.12), 0.12 + abs(n()), n(0.12) + 0.15],
            -1.0: [0.12 + abs(n()), n(0.12), 0.12 + abs(n()), n(0.12) + 0.15]}  # fmt: skip
    legs = {
        1.0: [0.03 + n(0.03), n(0.06), 0.05 + abs(n(0.05))],
        -1.0: [0.03 + n(0.03), n(0.06), 0.05 + abs(n(0.05))],
    }
    if action == "walk":
        s = float(rng.uniform(0.25, 0.5))
        lead = 1.0 if rng.random() < 0.5 else -1.0
        legs[lead][1] += s
        legs[-lead][1] -= s
        legs[-lead][2] += float(rng.uniform(0.25, 0.6))
        arms[lead][1] -= 0.8 * s
        arms[-lead][1] += 0.8 * s
        arms[lead][3] += arms[lead][1]
        arms[-lead][3] += arms[-lead][1] + float(rng.uniform(0.1, 0.5))
    elif action == "arms_up":
        for side in (1.0, -1.0):
            a = float(rng.uniform(2.5, 2.95))
            arms[side] = [a, n(0.2), a + n(0.15), n(0.2)]
    elif action == "wave":
        side = 1.0 if rng.random() < 0.5 else -1.0
        arms[side] = [float(rng.uniform(1.1, 1.6)), n(0.2), float(rng.uniform(2.5, 3.0)), n(0.2)]
    elif action == "arms_out":
        for side in (1.0, -1.0):
            a = float(rng.uniform(1.2, 1.7))
            arms[side] = [a, n(0.2), a + n(0.3), n(0.3)]
    elif action == "reach":
        side = 1.0 if rng.random() < 0.5 else -1.0
        f = float(rng.uniform(0.9, 1.6))
        arms[side] = [0.2 + abs(n()), f, 0.2 + abs(n()), f + n(0.2)]
    for side, sho, elb, wri in ((1.0, L_SHO, L_ELB, L_WRI), (-1.0, R_SHO, R_ELB, R_WRI)):
        a1, f1, a2, f2 = arms[side]
        J[elb] = J[sho] + b.upper_arm * _arm(a1, f1, side)
        J[wri] = J[elb] + b.forearm * _arm(a2, f2, side)
    for side, hip, knee, ank, toe in (
        (1.0, L_HIP, L_KNEE, L_ANK, L_TOE),
        (-1.0, R_HIP, R_KNEE, R_ANK, R_TOE),
    ):
        a, f, k = legs[side]
        J[knee] = J[hip] + b.thigh * _arm(a, f, side)
        J[ank] = J[knee] + b.shin * _arm(a * 0.5, f - k, side)
        J[toe] = J[ank] + np.array([side * 0.01, 0.03, 0.075]) * (0.9 + 0.1 * b.girth)
    J[PELVIS] = (J[L_HIP] + J[R_HIP]) / 2
    roll = float(rng.normal(0.0, 0.04))
    return Pose(joints=J, yaw=yaw, roll=roll, head_yaw=head_yaw, view=view, action=action)


def project(pose: Pose, scale: float, origin: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Orthographic projection: returns (NUM_JOINTS, 2) pixel coordinates and per-joint depth."""
    R = pose.rotated()
    c, s = np.cos(pose.roll), np.sin(pose.roll)
    x = R[:, 0] * c - R[:, 1] * s
    y = R[:, 0] * s + R[:, 1] * c
    xy = np.stack([x * scale + origin[0], y * scale + origin[1]], axis=1)
    return xy, R[:, 2]
