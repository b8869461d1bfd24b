"""A picture of the synthetic data: identities x views, plus one scene with its labels overlaid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from saip.synth.parts import PART_COLORS
from saip.synth.person_image import render_person_image
from saip.synth.scene import render_scene
from saip.synth.skeleton import COCO_SKELETON

_INSTANCE_COLORS = np.array(
    [(0, 0, 0), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
     (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 190), (0, 128, 128)], dtype=np.uint8,
)  # fmt: skip


def _blend(image: Image.Image, colors: np.ndarray, where: np.ndarray, alpha: float = 0.55) -> Image.Image:
    arr = np.asarray(image, dtype=np.float32)
    arr[where] = arr[where] * (1 - alpha) + colors[where].astype(np.float32) * alpha
    return Image.fromarray(arr.astype(np.uint8))


def draw_keypoints(image: Image.Image, keypoints: np.ndarray, radius: float = 2.0) -> None:
    """Draw COCO skeletons in place: green = visible, orange = occluded."""
    draw = ImageDraw.Draw(image)
    for kp in keypoints.reshape(-1, 17, 3):
        for a, b in COCO_SKELETON:
            if kp[a - 1, 2] > 0 and kp[b - 1, 2] > 0:
                draw.line((*kp[a - 1, :2], *kp[b - 1, :2]), fill=(255, 255, 255), width=1)
        for x, y, v in kp:
            if v > 0:
                color = (0, 255, 0) if v == 2 else (255, 140, 0)
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=color)


def make_preview(
    seed: int = 0,
    identities: int = 4,
    views: int = 6,
    size: tuple[int, int] = (256, 128),
    scene_index: int = 0,
) -> Image.Image:
    """Grid: one row per identity (views of it), then a scene, its instance masks + keypoints, its parts."""
    H, W = size
    grid = Image.new("RGB", (W * views, H * identities), (255, 255, 255))
    for r in range(identities):
        for c in range(views):
            grid.paste(render_person_image(seed, r, c, size).image, (c * W, r * H))
    scene = render_scene(seed, scene_index)
    sh, sw = scene.image.height, scene.image.width
    inst = scene.instances
    colors = _INSTANCE_COLORS[1 + (inst.astype(np.int64) - 1) % (len(_INSTANCE_COLORS) - 1)]
    overlay = _blend(scene.image, colors, inst > 0)
    draw_keypoints(overlay, scene.keypoints)
    d = ImageDraw.Draw(overlay)
    for box in scene.boxes:
        d.rectangle(tuple(float(v) for v in box), outline=(255, 255, 255))
    parts = Image.fromarray(np.asarray(PART_COLORS, dtype=np.uint8)[scene.parts])
    panel_w = grid.width
    k = panel_w / (3 * sw)
    tiles = [im.resize((int(sw * k), int(sh * k)), Image.BILINEAR) for im in (scene.image, overlay, parts)]
    out = Image.new("RGB", (panel_w, grid.height + tiles[0].height), (255, 255, 255))
    out.paste(grid, (0, 0))
    for i, t in enumerate(tiles):
        out.paste(t, (i * t.width, grid.height))
    return out


def save_preview(path: Path | str, max_bytes: int = 290_000, **kwargs: object) -> Path:
    """Save :func:`make_preview` as a palette PNG, with fewer colours until it is <= ``max_bytes``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = make_preview(**kwargs)  # type: ignore[arg-type]
    for colors in (256, 128, 96, 64, 32):
        image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            path, optimize=True
        )
        if path.stat().st_size <= max_bytes:
            break
    return path
