"""Foot, face and hand landmarks of a rendered synthetic person (the 116 non-body COCO-WholeBody points).

The renderer draws shoes as capsules from ankle to toe, hands as ellipses beyond the wrists, and a
face with eyes and a mouth; the points that lie on those drawn shapes are placed, every other
point stays unlabelled (``0, 0, 0``), exactly as COCO-WholeBody leaves points its annotators could
not locate:

* feet (6): big toe, small toe and heel of each shoe, placed on the 3-D foot and projected; they
  inherit the ankle's visibility;
* face (10 of 68, iBUG numbering): chin (8), nose tip (30), the eye corners (36, 39, 42, 45) of
  each drawn eye (not behind sunglasses), and the mouth corners and lip centres (48, 51, 54, 57)
  when the mouth is drawn; labelled only while the nose is visible;
* hands (3 of 21 each): root (0, the wrist), middle-finger base (9, the hand's centre) and tip
  (12, where the forearm's direction leaves the hand ellipse); they inherit the wrist's visibility.
"""

from __future__ import annotations

import numpy as np

from saip.synth.identity import Identity
from saip.synth.skeleton import (
    HEAD,
    L_ANK,
    L_ELB,
    L_EYE,
    L_TOE,
    L_WRI,
    NOSE,
    R_ANK,
    R_ELB,
    R_EYE,
    R_TOE,
    R_WRI,
    Pose,
    rotate_yaw,
)

FOOT, FACE, HAND = 6, 68, 21
NUM_EXTRA = FOOT + FACE + 2 * HAND  # 116
EYE_HALF_WIDTH = 0.09  # head radii: the drawn eye's radius
HAND_OFFSET, HAND_RX, HAND_RY = 0.022, 0.026, 0.03  # height units, as drawn by render_person
MOUTH_DROP, MOUTH_RX, MOUTH_RY = 0.38, 0.2, 0.06  # head radii


def locate_wholebody_points(
    project, pose: Pose, ident: Identity, scale: float, xy: np.ndarray, dep: np.ndarray, body: np.ndarray
) -> np.ndarray:
    """``(116, 3)`` foot, face, left-hand and right-hand points (x, y, v) in the image.

    Args:
        project: the renderer's body-frame → pixel projector (returns ``(xy, depth)``).
        pose, ident: the posed identity; ``scale`` pixels per height unit.
        xy, dep: projected joints ``(NUM_JOINTS, 2)`` and their depths.
        body: the 17 body keypoints ``(17, 3)`` with their visibility (2 visible, 1 occluded).
    """
    out = np.zeros((NUM_EXTRA, 3), dtype=np.float32)
    J, g, S, r = pose.joints, ident.body.girth, scale, ident.body.head
    for k, (side, ank, toe) in enumerate(((1.0, L_ANK, L_TOE), (-1.0, R_ANK, R_TOE))):
        points = np.array(
            [
                J[toe] + np.array([-side * 0.012 * g, 0.0, 0.02]),  # big toe: medial, at the tip
                J[toe] + np.array([side * 0.014 * g, 0.0, 0.0]),  # small toe: lateral
                J[ank] + np.array([0.0, 0.02, -0.015]),  # heel: below and behind the ankle
            ]
        )
        out[3 * k : 3 * k + 3, :2] = project(points)[0]
        out[3 * k : 3 * k + 3, 2] = body[ank, 2]
    face = out[FOOT : FOOT + FACE]
    if body[NOSE, 2] == 2:
        fz = float(dep[NOSE] - dep[HEAD]) / r
        face[30] = (*xy[NOSE], 2)
        head_axis = rotate_yaw(np.array([[EYE_HALF_WIDTH * r, 0.0, 0.0]]), -pose.head_yaw)[0]
        if not ident.glasses:
            for eye, outer, inner, outward in ((R_EYE, 36, 39, -1.0), (L_EYE, 45, 42, 1.0)):
                if dep[eye] - dep[HEAD] > 0.3 * r:
                    corners = project(np.stack([J[eye] + outward * head_axis, J[eye] - outward * head_axis]))[
                        0
                    ]
                    face[outer] = (*corners[0], 2)
                    face[inner] = (*corners[1], 2)
        if fz > 0.4:
            mouth = xy[NOSE] + np.array([0.0, MOUTH_DROP * r * S])
            face[48] = (mouth[0] - MOUTH_RX * r * S, mouth[1], 2)
            face[54] = (mouth[0] + MOUTH_RX * r * S, mouth[1], 2)
            face[51] = (mouth[0], mouth[1] - MOUTH_RY * r * S, 2)
            face[57] = (mouth[0], mouth[1] + MOUTH_RY * r * S, 2)
            face[8] = (xy[HEAD, 0], xy[HEAD, 1] + r * S, 2)  # chin: bottom of the drawn face
    for k, (elb, wri) in enumerate(((L_ELB, L_WRI), (R_ELB, R_WRI))):
        hand = out[FOOT + FACE + HAND * k : FOOT + FACE + HAND * (k + 1)]
        direction = xy[wri] - xy[elb]
        direction = direction / max(float(np.hypot(*direction)), 1e-6)
        centre = xy[wri] + direction * HAND_OFFSET * S
        reach = 1.0 / np.sqrt((direction[0] / (HAND_RX * S)) ** 2 + (direction[1] / (HAND_RY * S)) ** 2)
        v = body[wri, 2]
        hand[0] = (*xy[wri], v)
        hand[9] = (*centre, v)
        hand[12] = (*(centre + direction * reach), v)
    out[out[:, 2] == 0] = 0.0
    return out
