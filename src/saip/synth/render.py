"""Draw one articulated, clothed person (RGB + part classes + instance) from a posed skeleton."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from saip.synth import parts as P
from saip.synth.geometry import clip_band, convex_hull, inside_convex, near_segment
from saip.synth.identity import Identity
from saip.synth.painter import Painter
from saip.synth.palette import shade
from saip.synth.skeleton import (
    HEAD,
    L_ANK,
    L_ELB,
    L_EYE,
    L_HIP,
    L_KNEE,
    L_SHO,
    L_TOE,
    L_WRI,
    NECK,
    NOSE,
    R_ANK,
    R_ELB,
    R_EYE,
    R_HIP,
    R_KNEE,
    R_SHO,
    R_TOE,
    R_WRI,
    Pose,
    rotate_yaw,
)
from saip.synth.wholebody import locate_wholebody_points


@dataclass
class PersonRender:
    """What drawing a person produced: keypoints with self-occlusion, head and full-body boxes, and
    the foot/face/hand points of COCO-WholeBody (:mod:`saip.synth.wholebody`)."""

    keypoints: np.ndarray  # (17, 3) float32: x, y, v (2 visible, 1 self-occluded)
    head_box: tuple[float, float, float, float]  # x0, y0, x1, y1
    full_box: tuple[float, float, float, float]  # x0, y0, x1, y1 (whole figure, may exceed the image)
    extra_keypoints: np.ndarray | None = None  # (116, 3) float32: foot, face, hands; v = 0 unlabelled


class Projector:
    """Body-frame 3-D points -> pixel coordinates and depth (towards the camera)."""

    def __init__(self, yaw: float, roll: float, scale: float, origin: tuple[float, float]) -> None:
        self.yaw, self.scale, self.origin = yaw, scale, origin
        self.c, self.s = np.cos(roll), np.sin(roll)

    def __call__(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        R = rotate_yaw(np.asarray(points, dtype=np.float64).reshape(-1, 3), self.yaw)
        x = R[:, 0] * self.c - R[:, 1] * self.s
        y = R[:, 0] * self.s + R[:, 1] * self.c
        xy = np.stack([x * self.scale + self.origin[0], y * self.scale + self.origin[1]], axis=1)
        return xy, R[:, 2]


def _box_points(x: tuple[float, float], y: tuple[float, float], z: tuple[float, float]) -> np.ndarray:
    return np.array([[a, b, c] for a in x for b in y for c in z])


def render_person(
    painter: Painter, ident: Identity, pose: Pose, scale: float, origin: tuple[float, float]
) -> PersonRender:
    """Draw ``ident`` in ``pose`` at ``scale`` pixels per height unit, pelvis at ``origin``.

    Parts are painted back to front (by depth), so later parts correctly hide earlier ones in all
    layers of ``painter``.
    """
    b, S = ident.body, scale
    g = b.girth
    proj = Projector(pose.yaw, pose.roll, scale, origin)
    J3 = pose.joints
    xy, dep = proj(J3)
    items: list[tuple[float, Callable[[], None]]] = []
    shapes: list[tuple[str, object, float, frozenset[int]]] = []  # self-occlusion tests
    cos_yaw = float(np.cos(pose.yaw))
    facing_camera = cos_yaw > 0.25
    top_cls = P.COAT if ident.top_type == "coat" else P.UPPER_CLOTHES
    d = b.depth

    def far(color: tuple, depth: float) -> tuple:
        return shade(color, 0.82) if depth < -0.04 else color

    # ---- arms -------------------------------------------------------------------------------
    for side, sho, elb, wri, cls in (
        (1.0, L_SHO, L_ELB, L_WRI, P.LEFT_ARM),
        (-1.0, R_SHO, R_ELB, R_WRI, P.RIGHT_ARM),
    ):
        depth = float(dep[[sho, elb, wri]].mean()) + 0.01
        r = np.array([0.036, 0.029, 0.029, 0.023]) * g * S

        root = proj(J3[sho] + np.array([-side * 0.012, 0.02, 0.0]))[0][0]

        def draw_arm(root=root, elb=elb, wri=wri, cls=cls, depth=depth, r=r) -> None:
            skin, top = far(ident.skin, depth), far(ident.top_color, depth)
            a, e, w = root, xy[elb], xy[wri]
            if ident.top_type in ("longsleeve", "coat"):
                painter.capsule(a, e, r[0] * 1.1, r[1] * 1.1, top, top_cls)
                painter.capsule(e, w, r[2] * 1.1, r[3] * 1.1, top, top_cls)
            else:
                painter.capsule(a, e, r[0], r[1], skin, cls)
                painter.capsule(e, w, r[2], r[3], skin, cls)
                if ident.top_type == "tshirt":
                    painter.capsule(a, a + 0.5 * (e - a), r[0] * 1.15, r[0] * 1.12, top, top_cls)
            v = w - e
            n = max(float(np.hypot(*v)), 1e-6)
            hand = w + v / n * 0.022 * S
            color, hcls = (far(ident.glove_color, depth), P.GLOVE) if ident.gloves else (skin, cls)
            painter.ellipse(hand[0], hand[1], 0.026 * S, 0.03 * S, color, hcls)

        items.append((depth, draw_arm))
        shapes.append(("seg", (xy[sho], xy[elb], r[0]), depth, frozenset({sho, elb, wri})))
        shapes.append(("seg", (xy[elb], xy[wri], r[2]), depth, frozenset({sho, elb, wri})))

    # ---- legs -------------------------------------------------------------------------------
    for hip, knee, ank, toe, lcls, scls in (
        (L_HIP, L_KNEE, L_ANK, L_TOE, P.LEFT_LEG, P.LEFT_SHOE),
        (R_HIP, R_KNEE, R_ANK, R_TOE, P.RIGHT_LEG, P.RIGHT_SHOE),
    ):
        depth = min(float(dep[[hip, knee, ank]].mean()) - 0.03, -0.006)
        r = np.array([0.054, 0.041, 0.039, 0.028]) * g * S

        def draw_leg(hip=hip, knee=knee, ank=ank, toe=toe, lcls=lcls, scls=scls, depth=depth, r=r) -> None:
            skin, bottom = far(ident.skin, depth), far(ident.bottom_color, depth)
            h, k, a = xy[hip], xy[knee], xy[ank]
            if ident.bottom_type == "trousers":
                painter.capsule(h, k, r[0], r[1], bottom, P.PANTS)
                painter.capsule(k, a, r[2], r[3] * 1.15, bottom, P.PANTS)
                if ident.bottom_pattern == "stripe":
                    painter.line(np.stack([h, k, a]), far(ident.bottom_color2, depth), P.PANTS, 0.008 * S)
            else:
                painter.capsule(h, k, r[0] * 0.92, r[1] * 0.92, skin, lcls)
                painter.capsule(k, a, r[2] * 0.92, r[3], skin, lcls)
                if ident.socks:
                    painter.capsule(a + 0.3 * (k - a), a, r[3] * 1.05, r[3] * 1.05, ident.sock_color, P.SOCKS)
                if ident.bottom_type == "shorts":
                    painter.capsule(h, h + 0.55 * (k - h), r[0] * 1.12, r[1] * 1.2, bottom, P.PANTS)
                    if ident.bottom_pattern == "stripe":
                        painter.line(
                            np.stack([h, h + 0.55 * (k - h)]), ident.bottom_color2, P.PANTS, 0.012 * S
                        )
            painter.capsule(a, xy[toe], 0.03 * g * S, 0.027 * g * S, far(ident.shoe_color, depth), scls)

        items.append((depth, draw_leg))
        shapes.append(("seg", (xy[hip], xy[knee], r[0]), depth, frozenset({hip, knee, ank})))
        shapes.append(("seg", (xy[knee], xy[ank], r[2]), depth, frozenset({hip, knee, ank})))

    if ident.bottom_type != "skirt":
        thigh_l = J3[L_HIP] + 0.3 * (J3[L_KNEE] - J3[L_HIP]) + np.array([0.03, 0, 0])
        thigh_r = J3[R_HIP] + 0.3 * (J3[R_KNEE] - J3[R_HIP]) - np.array([0.03, 0, 0])
        pelvis3 = np.vstack(
            [_box_points((-(b.hip + 0.022) * g, (b.hip + 0.022) * g), (-0.02,), (-d, d)),
             thigh_l, thigh_r, [0.0, 0.07, 0.0]]
        )  # fmt: skip
        pelvis = convex_hull(proj(pelvis3)[0])
        items.append((-0.005, lambda: painter.polygon(pelvis, ident.bottom_color, P.PANTS)))

    # ---- torso ------------------------------------------------------------------------------
    sw, T = b.shoulder, b.torso
    wx = (b.hip + 0.018) * g
    torso3 = [
        _box_points((-sw, sw), (-T + 0.012,), (-d * 0.9, d * 0.9)),
        _box_points((-sw * 0.7, sw * 0.7), (-T - 0.018,), (-d * 0.7, d * 0.7)),
        _box_points((-wx, wx), (-T * 0.4,), (-d, d)),
        _box_points((-wx - 0.004, wx + 0.004), (0.02,), (-d, d)),
    ]
    if ident.top_type == "coat":
        torso3.append(_box_points((-wx - 0.04, wx + 0.04), (0.5 * b.thigh,), (-d - 0.02, d + 0.02)))
    torso = convex_hull(proj(np.vstack(torso3))[0])
    shapes.append(("poly", torso, 0.0, frozenset()))

    def draw_torso() -> None:
        painter.polygon(torso, ident.top_color, top_cls)
        y0, y1 = float(torso[:, 1].min()), float(torso[:, 1].max())
        if ident.top_pattern == "stripes":
            period = max(3.0, 0.045 * S)
            y = y0 + period * 0.5
            while y < y1:
                painter.polygon(clip_band(torso, y, y + period * 0.5), ident.top_color2, top_cls)
                y += period
        elif ident.top_pattern == "twotone":
            painter.polygon(clip_band(torso, y0, y0 + 0.28 * (y1 - y0)), ident.top_color2, top_cls)
        elif ident.top_pattern == "logo" and facing_camera:
            c, _ = proj(np.array([0.0, -T * 0.68, d]))
            painter.ellipse(c[0, 0], c[0, 1], 0.028 * S * abs(cos_yaw), 0.028 * S, ident.top_color2, top_cls)

    items.append((0.0, draw_torso))
    neck_r = 0.026 * S * g
    items.append(
        (-0.001, lambda: painter.capsule(xy[NECK], xy[HEAD], neck_r, neck_r, shade(ident.skin, 0.92), P.FACE))
    )

    if ident.scarf:
        scarf, _ = proj(np.array([[sw * 0.5, -T - 0.012, d * 0.6], [-sw * 0.5, -T - 0.012, d * 0.6]]))
        items.append(
            (
                0.003,
                lambda: painter.capsule(scarf[0], scarf[1], 0.024 * S, 0.024 * S, ident.scarf_color, P.SCARF),
            )
        )

    if ident.bottom_type == "skirt":
        hem = 0.55 * b.thigh
        skirt3 = np.vstack(
            [_box_points((-wx - 0.004, wx + 0.004), (-0.02,), (-d, d)),
             _box_points((-wx - 0.07, wx + 0.07), (hem,), (-d - 0.04, d + 0.04))]
        )  # fmt: skip
        skirt = convex_hull(proj(skirt3)[0])
        shapes.append(("poly", skirt, 0.004, frozenset()))

        def draw_skirt() -> None:
            painter.polygon(skirt, ident.bottom_color, P.SKIRT)
            if ident.bottom_pattern == "stripe":
                y1 = float(skirt[:, 1].max())
                painter.polygon(clip_band(skirt, y1 - 0.025 * S, y1), ident.bottom_color2, P.SKIRT)

        items.append((0.004, draw_skirt))

    # ---- head -------------------------------------------------------------------------------
    r = b.head
    hc = J3[HEAD]
    cx, cy = xy[HEAD]
    rx, ry = 0.86 * r * S, r * S
    fz = float(dep[NOSE] - dep[HEAD]) / r  # +1 looking at the camera, -1 away
    sx = float(xy[NOSE, 0] - cx) / (r * S)  # + looking to the image right
    face_visible = fz > -0.3

    def draw_head() -> None:
        hair = ident.hair_color
        if face_visible:
            painter.ellipse(cx, cy, rx, ry, ident.skin, P.FACE)
            if ident.hair_style != "buzz" or ident.hat is None:
                lift = 0.35 if ident.hair_style == "buzz" else 0.12
                start = 180 - 80 * max(sx, 0.0) - (40 if fz < 0.5 else 0)
                end = 360 + 80 * max(-sx, 0.0) + (40 if fz < 0.5 else 0)
                painter.chord(cx, cy - lift * r * S, rx * 1.06, ry * 1.02, start, end, hair, P.HAIR)
            for eye in (L_EYE, R_EYE):
                if dep[eye] - dep[HEAD] > 0.3 * r:
                    ex, ey = xy[eye]
                    if ident.glasses:
                        painter.ellipse(ex, ey, 0.24 * r * S, 0.17 * r * S, (20, 20, 24), P.SUNGLASSES)
                    else:
                        painter.ellipse(ex, ey, 0.09 * r * S, 0.09 * r * S, (35, 25, 20), P.FACE)
            if ident.glasses and dep[L_EYE] - dep[HEAD] > 0.3 * r and dep[R_EYE] - dep[HEAD] > 0.3 * r:
                painter.line(xy[[L_EYE, R_EYE]], (20, 20, 24), P.SUNGLASSES, 0.05 * r * S)
            if fz > 0.4:
                m = xy[NOSE] + np.array([0.0, 0.38 * r * S])
                painter.ellipse(m[0], m[1], 0.2 * r * S, 0.06 * r * S, shade(ident.skin, 0.7), P.FACE)
        else:
            painter.ellipse(cx, cy, rx, ry, hair, P.HAIR)
        if ident.hat == "cap":
            painter.chord(cx, cy - 0.22 * r * S, rx * 1.1, ry * 1.02, 180, 360, ident.hat_color, P.HAT)
            if fz > -0.5:
                brim, _ = proj(hc + np.array([0.0, -0.3 * r, 1.0 * r]))
                bw = (0.45 + 0.5 * abs(sx)) * r * S
                painter.ellipse(brim[0, 0], brim[0, 1], bw, 0.16 * r * S, shade(ident.hat_color, 0.8), P.HAT)
        elif ident.hat == "beanie":
            painter.chord(cx, cy - 0.05 * r * S, rx * 1.08, ry * 1.08, 180, 360, ident.hat_color, P.HAT)
            painter.ellipse(cx, cy - 1.05 * ry, 0.2 * r * S, 0.2 * r * S, ident.hat_color, P.HAT)

    items.append((0.002, draw_head))
    shapes.append(("ellipse", (cx, cy, rx, ry), 0.002, frozenset({0, 1, 2, 3, 4})))

    if ident.hair_style == "long":
        hair3 = hc + np.array(
            [[1.0 * r, -0.3 * r, -0.2 * r], [-1.0 * r, -0.3 * r, -0.2 * r], [1.08 * r, 1.9 * r, -0.5 * r],
             [-1.08 * r, 1.9 * r, -0.5 * r], [0.75 * r, 2.7 * r, -0.8 * r], [-0.75 * r, 2.7 * r, -0.8 * r],
             [0.0, 0.0, -1.05 * r], [0.0, 2.6 * r, -1.0 * r]]
        )  # fmt: skip
        hpts, hdep = proj(hair3)
        long_hair = convex_hull(hpts)
        items.append(
            (
                min(float(hdep.mean() - dep[HEAD]), 0.0015),
                lambda: painter.polygon(long_hair, ident.hair_color, P.HAIR),
            )
        )
    elif ident.hair_style == "ponytail":
        tail, tdep = proj(hc + np.array([[0.0, -0.3 * r, -1.05 * r], [0.0, 1.5 * r, -1.35 * r]]))
        key = min(float(tdep.mean() - dep[HEAD]), 0.0015)
        items.append(
            (
                key,
                lambda: painter.capsule(
                    tail[0], tail[1], 0.35 * r * S, 0.18 * r * S, ident.hair_color, P.HAIR
                ),
            )
        )

    # ---- bags -------------------------------------------------------------------------------
    if ident.bag == "backpack":
        pack3 = _box_points((-sw * 0.75, sw * 0.75), (-T + 0.03, -0.05), (-d - 0.012, -d - 0.09))
        ppts, pdep = proj(pack3)
        pack = convex_hull(ppts)
        key = float(pdep.mean())
        items.append((key, lambda: painter.polygon(pack, ident.bag_color, P.BAG)))
        shapes.append(("poly", pack, key, frozenset()))
        if facing_camera:
            straps, _ = proj(np.array([[sw * 0.55, -T, d], [sw * 0.62, -T * 0.35, d],
                                       [-sw * 0.55, -T, d], [-sw * 0.62, -T * 0.35, d]]))  # fmt: skip

            def draw_straps() -> None:
                painter.line(straps[:2], shade(ident.bag_color, 0.8), P.BAG, 0.014 * S)
                painter.line(straps[2:], shade(ident.bag_color, 0.8), P.BAG, 0.014 * S)

            items.append((0.003, draw_straps))
    elif ident.bag == "handbag":
        s = ident.bag_side
        xs = (s * (b.hip * g + 0.055), s * (b.hip * g + 0.075))
        bag3 = _box_points(xs, (-0.04, 0.1), (-0.04, 0.05))
        bpts, bdep = proj(bag3)
        bag = convex_hull(bpts)
        strap, _ = proj(np.array([[s * sw * 0.7, -T, 0.0], [xs[0], -0.04, 0.0]]))
        key = float(bdep.mean()) + 0.02

        def draw_handbag() -> None:
            painter.line(strap, shade(ident.bag_color, 0.7), P.BAG, 0.01 * S)
            painter.polygon(bag, ident.bag_color, P.BAG)

        items.append((key, draw_handbag))
        shapes.append(("poly", bag, key, frozenset()))

    painter.reset_bounds()
    for _, draw in sorted(items, key=lambda item: item[0]):
        draw()
    full_box = tuple(float(v) for v in painter.bounds)

    # ---- keypoint visibility (self-occlusion) ----------------------------------------------
    kp = np.zeros((17, 3), dtype=np.float32)
    kp[:, :2] = xy[:17]
    visible = np.ones(17, dtype=bool)
    rel = (dep[:5] - dep[HEAD]) / r
    visible[:3] &= rel[:3] > -0.2  # nose, eyes turn away
    visible[3:5] &= rel[3:5] > -0.5  # far ear hidden
    pts = xy[:17]
    for kind, geom, key, owners in shapes:
        cand = np.array([(j not in owners) and dep[j] < key - 0.015 for j in range(17)])
        if not cand.any():
            continue
        if kind == "seg":
            p1, p2, rad = geom  # type: ignore[misc]
            hit = near_segment(pts, p1, p2, rad * 0.9)
        elif kind == "poly":
            hit = inside_convex(pts, geom)  # type: ignore[arg-type]
        else:
            ex, ey, erx, ery = geom  # type: ignore[misc]
            hit = ((pts[:, 0] - ex) / erx) ** 2 + ((pts[:, 1] - ey) / ery) ** 2 < 0.8
        visible &= ~(hit & cand)
    kp[:, 2] = np.where(visible, 2, 1)
    head_box = (cx - rx * 1.1, cy - ry * 1.15, cx + rx * 1.1, cy + ry * 1.05)
    extra = locate_wholebody_points(proj, pose, ident, scale, xy, dep, kp)
    return PersonRender(kp, head_box, full_box, extra)  # type: ignore[arg-type]
