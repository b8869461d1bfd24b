"""Top-down pose geometry: person box → affine crop, and Gaussian heatmap encode/decode.

Follows the top-down recipe of SimpleBaseline / ViTPose as implemented in mmpose 1.x
(``bbox_xyxy2cs`` with padding 1.25, aspect-ratio fixing, ``get_warp_matrix``), with two
deliberate choices that make encode → decode unbiased:

* Coordinates are *continuous*: pixel ``i`` covers ``[i, i + 1)``, its centre is ``i + 0.5``.
  Pillow's affine resampling uses the same convention, so a keypoint ``p`` of the image lands
  at ``M @ p`` in the crop. Heatmap cell ``k`` has its centre at input coordinate
  ``(k + 0.5) * stride`` (the unbiased data processing of Huang et al., CVPR 2020, "UDP").
* Targets are Gaussians centred at the sub-pixel keypoint location (σ = 2 heatmap px, as
  SimpleBaseline/ViTPose), and decoding refines the arg-max with the second-order Taylor step on
  the log-heatmap of DARK (Zhang et al., CVPR 2020, "Distribution-Aware Coordinate
  Representation for Human Pose Estimation"). By default the step is taken on the raw
  log-heatmap ("DARK-lite"): for a Gaussian target it is exact (round trip < 1e-3 px), whereas
  DARK's Gaussian modulation (``blur_kernel=11``) biases keypoints within ~3 cells of the border.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def box_to_center_scale(
    bbox_xywh: np.ndarray | list[float], aspect_ratio: float, padding: float = 1.25
) -> tuple[np.ndarray, np.ndarray]:
    """Centre ``(2,)`` and size ``(2,)`` (w, h in image px) of the crop region for a COCO box.

    The box is enlarged to the crop's ``aspect_ratio`` (width / height), then by ``padding``
    (mmpose ``bbox_xywh2cs`` + ``fix_aspect_ratio``; ViTPose uses 1.25).
    """
    x, y, w, h = (float(v) for v in bbox_xywh)
    if w <= 0 or h <= 0:
        raise ValueError(f"person box must have positive width and height, got {list(bbox_xywh)}")
    center = np.array([x + w / 2.0, y + h / 2.0], dtype=np.float64)
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    else:
        w = h * aspect_ratio
    return center, np.array([w * padding, h * padding], dtype=np.float64)


def affine_matrix(
    center: np.ndarray, scale: np.ndarray, output_size: tuple[int, int], rotation_deg: float = 0.0
) -> np.ndarray:
    """``(2, 3)`` matrix mapping image coordinates to crop coordinates.

    The region of size ``scale`` (w, h) centred at ``center`` maps onto the crop of
    ``output_size`` (width, height), rotated by ``rotation_deg`` (counter-clockwise) about the
    centre: ``T(out_centre) · S · R · T(−center)``.
    """
    out_w, out_h = output_size
    sx, sy = out_w / float(scale[0]), out_h / float(scale[1])
    theta = math.radians(rotation_deg)
    cos, sin = math.cos(theta), math.sin(theta)
    linear = np.array([[sx * cos, sx * sin], [-sy * sin, sy * cos]], dtype=np.float64)
    translation = np.array([out_w / 2.0, out_h / 2.0]) - linear @ np.asarray(center, dtype=np.float64)
    return np.concatenate([linear, translation[:, None]], axis=1)


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a ``(2, 3)`` affine matrix."""
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a ``(2, 3)`` affine matrix to points ``(..., 2)``."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def warp_image(image: Image.Image, matrix: np.ndarray, output_size: tuple[int, int]) -> Image.Image:
    """Crop ``image`` with the image→crop affine ``matrix`` into ``output_size`` (w, h), bilinear.

    Pillow's ``AFFINE`` transform takes the crop→image mapping, so the inverse is passed. Areas
    outside the image are filled with black (as ``cv2.warpAffine`` in mmpose).
    """
    inverse = invert_affine(matrix)
    return image.transform(
        tuple(output_size),
        Image.Transform.AFFINE,
        data=tuple(inverse.reshape(-1)),
        resample=Image.Resampling.BILINEAR,
    )


def encode_heatmaps(
    keypoints: np.ndarray,
    visible: np.ndarray,
    heatmap_size: tuple[int, int],
    stride: float,
    sigma: float = 2.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian target heatmaps ``(K, h, w)`` and target weights ``(K,)`` for crop keypoints ``(K, 2)``.

    ``heatmap_size`` is (w, h). Each visible keypoint (``visible > 0``) gets an unnormalised
    Gaussian ``exp(-d² / 2σ²)`` centred at its sub-pixel heatmap location ``x / stride - 0.5``;
    keypoints whose 3σ support lies fully outside the heatmap get weight 0 (mmpose convention).
    """
    w, h = heatmap_size
    k = len(keypoints)
    heatmaps = np.zeros((k, h, w), dtype=np.float32)
    weights = (np.asarray(visible) > 0).astype(np.float32)
    xs, ys = np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
    radius = 3 * sigma
    for j in range(k):
        if weights[j] == 0:
            continue
        mx, my = keypoints[j] / stride - 0.5
        if mx + radius < 0 or my + radius < 0 or mx - radius > w - 1 or my - radius > h - 1:
            weights[j] = 0
            continue
        gx = np.exp(-((xs - mx) ** 2) / (2 * sigma**2))
        gy = np.exp(-((ys - my) ** 2) / (2 * sigma**2))
        heatmaps[j] = gy[:, None] * gx[None, :]
    return heatmaps, weights


def _gaussian_blur(heatmaps: torch.Tensor, kernel: int) -> torch.Tensor:
    """DARK modulation: blur each map with a Gaussian (σ = 0.3((k−1)/2 − 1) + 0.8, as cv2), keep its max."""
    sigma = 0.3 * ((kernel - 1) * 0.5 - 1) + 0.8
    coords = torch.arange(kernel, dtype=heatmaps.dtype, device=heatmaps.device) - (kernel - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    b, k, h, w = heatmaps.shape
    x = heatmaps.reshape(b * k, 1, h, w)
    pad = kernel // 2
    x = F.conv2d(x, g.view(1, 1, 1, -1), padding=(0, pad))
    x = F.conv2d(x, g.view(1, 1, -1, 1), padding=(pad, 0))
    x = x.reshape(b, k, h, w)
    original_max = heatmaps.amax(dim=(2, 3), keepdim=True)
    return x * original_max / x.amax(dim=(2, 3), keepdim=True).clamp(min=1e-12)


def decode_heatmaps(
    heatmaps: torch.Tensor, stride: float, blur_kernel: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keypoints ``(B, K, 2)`` in crop coordinates and scores ``(B, K)`` from heatmaps ``(B, K, h, w)``.

    Arg-max, then DARK's Taylor refinement ``μ = m − H⁻¹ ∇`` of the log-heatmap at the maximum
    (after DARK's Gaussian modulation when ``blur_kernel > 1``), then heatmap → crop coordinates
    ``(k + 0.5) · stride``. The result is clamped to ±0.5 cell around the arg-max (the cell
    nearest to a unimodal peak) and the step is skipped where the log-heatmap is not concave.
    Heatmaps must be at least 3×3. Scores are the heatmap maxima before modulation.
    """
    b, k, h, w = heatmaps.shape
    if h < 3 or w < 3:
        raise ValueError(f"decode_heatmaps needs heatmaps of at least 3x3, got {h}x{w}")
    heatmaps = heatmaps.float()
    flat = heatmaps.reshape(b, k, -1)
    scores, index = flat.max(dim=-1)
    px = (index % w).float()
    py = torch.div(index, w, rounding_mode="floor").float()
    smooth = _gaussian_blur(heatmaps, blur_kernel) if blur_kernel > 1 else heatmaps
    log = torch.log(smooth.clamp(min=1e-10)).reshape(b, k, -1)
    # Newton step from the arg-max, moved one cell inwards at the border: for a Gaussian the
    # log-heatmap is quadratic, so the step is exact from any stencil centre.
    cx, cy = px.clamp(1, w - 2).long(), py.clamp(1, h - 2).long()

    def at(dy: int, dx: int) -> torch.Tensor:
        return log.gather(-1, ((cy + dy) * w + cx + dx).unsqueeze(-1)).squeeze(-1)

    c = at(0, 0)
    dx = 0.5 * (at(0, 1) - at(0, -1))
    dy = 0.5 * (at(1, 0) - at(-1, 0))
    dxx = at(0, 1) - 2 * c + at(0, -1)
    dyy = at(1, 0) - 2 * c + at(-1, 0)
    dxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    det = dxx * dyy - dxy**2
    valid = (det > 1e-8) & (dxx < 0) & (dyy < 0)
    safe_det = torch.where(valid, det, torch.ones_like(det))
    x = cx.float() - (dyy * dx - dxy * dy) / safe_det
    y = cy.float() - (dxx * dy - dxy * dx) / safe_det
    x = torch.where(valid, torch.minimum(torch.maximum(x, px - 0.5), px + 0.5), px)
    y = torch.where(valid, torch.minimum(torch.maximum(y, py - 0.5), py + 0.5), py)
    coords = torch.stack([x, y], dim=-1)
    return (coords + 0.5) * stride, scores


def flip_heatmaps(heatmaps: torch.Tensor, flip_pairs: list[tuple[int, int]]) -> torch.Tensor:
    """Mirror heatmaps ``(B, K, h, w)`` of a horizontally flipped crop back and swap left/right joints."""
    flipped = heatmaps.flip(-1)
    order = list(range(heatmaps.shape[1]))
    for a, b in flip_pairs:
        order[a], order[b] = b, a
    return flipped[:, order]
