"""Place a posed figure in an image: scale and origin from a target height and foot position."""

from __future__ import annotations

from saip.synth.render import Projector
from saip.synth.skeleton import HEAD_TOP, L_TOE, R_TOE, Pose


def place(pose: Pose, center_x: float, bottom_y: float, height: float) -> tuple[float, tuple[float, float]]:
    """(scale, origin) so the figure spans ``height`` px from head top to soles ending at ``bottom_y``."""
    xy, _ = Projector(pose.yaw, pose.roll, 1.0, (0.0, 0.0))(pose.joints)
    top = float(xy[HEAD_TOP, 1])
    sole = float(max(xy[:, 1].max(), xy[L_TOE, 1], xy[R_TOE, 1])) + 0.03
    scale = height / max(sole - top, 1e-3)
    mid_x = float(xy[:, 0].min() + xy[:, 0].max()) / 2
    return scale, (center_x - mid_x * scale, bottom_y - sole * scale)
