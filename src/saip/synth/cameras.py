"""Cameras: background/lighting domains (wall and floor colours, clutter style, colour cast, blur, noise)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from saip.synth.palette import RGB, jitter, shade

_CAMERA_STREAM = 2
CLUTTER_STYLES = ("windows", "stripes", "foliage", "tiles", "shops")


@dataclass(frozen=True)
class Camera:
    """A capture domain shared by all images of one camera id."""

    cam_id: int
    wall: RGB
    floor: RGB
    horizon: float  # fraction of image height where the floor starts
    style: str
    clutter: tuple[RGB, ...]
    gain: tuple[float, float, float]  # per-channel colour cast
    brightness: float
    contrast: float
    blur: float  # max Gaussian blur radius (pixels at 128 px width)
    noise: float  # Gaussian noise std (0-255 scale)


def make_camera(seed: int, cam_id: int) -> Camera:
    """Camera ``cam_id`` (0-based) of the synthetic world ``seed``."""
    rng = np.random.default_rng([seed, _CAMERA_STREAM, cam_id])
    base = rng.integers(60, 200, size=3)
    wall = tuple(int(v) for v in base)
    floor = shade(jitter(rng, wall, 40), float(rng.uniform(0.5, 0.9)))  # type: ignore[arg-type]
    clutter = tuple(jitter(rng, tuple(int(v) for v in rng.integers(20, 235, size=3)), 0) for _ in range(5))  # type: ignore[arg-type]
    cast = rng.uniform(0.82, 1.15, size=3)
    return Camera(
        cam_id=cam_id,
        wall=wall,  # type: ignore[arg-type]
        floor=floor,
        horizon=float(rng.uniform(0.55, 0.8)),
        style=CLUTTER_STYLES[int(rng.integers(len(CLUTTER_STYLES)))],
        clutter=clutter,  # type: ignore[arg-type]
        gain=tuple(float(v) for v in cast / cast.mean()),  # type: ignore[arg-type]
        brightness=float(rng.uniform(0.7, 1.2)),
        contrast=float(rng.uniform(0.75, 1.1)),
        blur=float(rng.uniform(0.3, 1.3)),
        noise=float(rng.uniform(2.0, 8.0)),
    )


def render_background(
    rng: np.random.Generator, cam: Camera, size: tuple[int, int], horizon: float | None = None
) -> Image.Image:
    """A cluttered background of ``size`` (H, W) in the style of ``cam``; floor starts at ``horizon`` px."""
    H, W = size
    hy = int(horizon) if horizon is not None else int(H * (cam.horizon + rng.uniform(-0.06, 0.06)))
    t = np.linspace(0.0, 1.0, H, dtype=np.float32)[:, None]
    wall = np.asarray(jitter(rng, cam.wall, 14), dtype=np.float32)
    floor = np.asarray(jitter(rng, cam.floor, 14), dtype=np.float32)
    col = wall * (1.1 - 0.3 * t) * (t < hy / H) + floor * (0.8 + 0.3 * t) * (t >= hy / H)
    arr = np.broadcast_to(np.clip(col, 0, 255).astype(np.uint8)[:, None, :], (H, W, 3))
    img = Image.fromarray(np.ascontiguousarray(arr))
    draw = ImageDraw.Draw(img)
    s = min(W / 128.0, H / 256.0)
    c = cam.clutter
    k = lambda: jitter(rng, c[int(rng.integers(len(c)))], 18)  # noqa: E731
    if cam.style == "windows":
        cw, ch = rng.uniform(18, 36) * s, rng.uniform(20, 44) * s
        x0, y0 = rng.uniform(-cw, 0), rng.uniform(-ch, 0)
        color = k()
        for yy in np.arange(y0, hy - 4, ch * 1.35):
            for xx in np.arange(x0, W, cw * 1.4):
                draw.rectangle((xx, yy, xx + cw, min(yy + ch, hy - 2)), fill=jitter(rng, color, 10))
    elif cam.style == "stripes":
        period = rng.uniform(6, 20) * s
        color = k()
        vertical = rng.random() < 0.5
        for p in np.arange(rng.uniform(0, period), W if vertical else hy, period):
            box = (p, 0, p + period * 0.45, hy) if vertical else (0, p, W, p + period * 0.45)
            draw.rectangle(box, fill=color)
    elif cam.style == "foliage":
        for _ in range(int(rng.integers(6, 14))):
            x, y, r = rng.uniform(0, W), rng.uniform(0, hy), rng.uniform(8, 30) * s
            draw.ellipse((x - r, y - r * 0.8, x + r, y + r * 0.8), fill=jitter(rng, (60, 110, 50), 30))
    elif cam.style == "shops":
        x = rng.uniform(-40, 0) * s
        while x < W:
            w = rng.uniform(30, 70) * s
            top = rng.uniform(0.05, 0.4) * hy
            draw.rectangle((x, top, x + w, hy), fill=k())
            draw.rectangle((x + 4 * s, top + 6 * s, x + w - 4 * s, top + 14 * s), fill=k())
            x += w + rng.uniform(2, 10) * s
    # floor pattern
    fcolor = shade(cam.floor, 0.75 if cam.style != "tiles" else 0.6)
    for p in np.arange(rng.uniform(0, 12), W * 2, rng.uniform(14, 40) * s):
        draw.line((p - W * 0.5, H, (p - W * 0.5) * 0.6 + W * 0.2, hy), fill=fcolor, width=1)
    # generic clutter shapes
    for _ in range(int(rng.integers(2, 7))):
        x, y = rng.uniform(0, W), rng.uniform(0, H)
        w, h = rng.uniform(4, 40) * s, rng.uniform(4, 40) * s
        shape = int(rng.integers(3))
        if shape == 0:
            draw.rectangle((x, y, x + w, y + h), fill=k())
        elif shape == 1:
            draw.ellipse((x, y, x + w, y + h), fill=k())
        else:
            pts = rng.uniform(-1, 1, size=(3, 2)) * (w, h) + (x, y)
            draw.polygon(pts.ravel().tolist(), fill=k())
    return img


def apply_camera(rng: np.random.Generator, cam: Camera, image: Image.Image) -> Image.Image:
    """Lighting (colour cast, brightness, contrast, a light gradient), blur and sensor noise."""
    H, W = image.height, image.width
    blur = float(rng.uniform(0.0, cam.blur)) * min(W / 128.0, H / 256.0)
    if blur > 0.35:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    arr = np.asarray(image, dtype=np.float32)
    gain = np.asarray(cam.gain, dtype=np.float32) * cam.brightness * float(rng.uniform(0.85, 1.15))
    # light falls off across the frame in a random direction
    ang = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(ang) * np.linspace(-1, 1, W, dtype=np.float32)[None, :]
            + np.sin(ang) * np.linspace(-1, 1, H, dtype=np.float32)[:, None])  # fmt: skip
    light = 1.0 + float(rng.uniform(0.0, 0.25)) * ramp
    mean = 118.0
    arr = ((arr - mean) * cam.contrast + mean) * gain[None, None, :] * light[:, :, None]
    noise = rng.standard_normal((H, W, 1), dtype=np.float32) * cam.noise
    arr += noise
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
