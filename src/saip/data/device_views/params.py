"""Per-sample random view parameters of the device path, drawn exactly as the loader path draws them.

The loader path (:func:`saip.data.augment.make_view`) draws, for view ``v`` of sample ``index``
from ``numpy_rng(seed, epoch, index, STREAM_VIEWS, v)``: the crop box
(:func:`~saip.data.augment.random_resized_crop_box`), then flip, jitter on/off, a seed for the jitter
generator (4 factors, then the op order), grayscale, blur on/off, blur sigma, solarize — every
draw made whatever the probabilities (:func:`~saip.data.augment.photometric`). :func:`draw_view`
makes the same draws in the same order without touching pixels, so a device-path view has the very
crop, flip, jitter factors and order, grayscale, blur sigma and solarize decision of the loader
path's view of the same ``(seed, epoch, index)`` (tests/test_device_views.py checks it): views stay
a pure function of that key (method.md §1 item 1; DINO augmentations).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from saip.data.augment import PhotometricParams, random_resized_crop_box
from saip.data.multicrop import SAIPViewMaker
from saip.data.seeding import STREAM_VIEWS, numpy_rng

NO_JITTER = (1.0, 1.0, 1.0, 0.0)  # identity brightness, contrast, saturation, hue shift


@dataclass
class ViewDraw:
    """The random parameters of one view (pixel box in the source image's frame)."""

    box: tuple[int, int, int, int]  # top, left, height, width
    flip: bool
    jitter: bool
    factors: tuple[float, float, float, float]  # brightness, contrast, saturation, hue shift
    order: tuple[int, int, int, int]  # op ids 0..3 in the order they are applied
    gray: bool
    blur: bool
    sigma: float
    solarize: bool


def draw_view(
    rng: np.random.Generator,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    params: PhotometricParams,
) -> ViewDraw:
    """The draws of ``make_view(image, rng, size, scale, ratio, params)`` for an image of that size."""
    box = random_resized_crop_box(rng, height, width, scale, ratio)
    flip = bool(rng.random() < params.hflip_p)
    jitter = bool(rng.random() < params.jitter_p)
    jitter_seed = rng.integers(0, 2**63 - 1)
    factors, order = NO_JITTER, (0, 1, 2, 3)
    if jitter:  # as saip.data.augment.color_jitter: 4 factors, then the op order
        jitter_rng = np.random.default_rng(jitter_seed)
        b, c, s, h = params.jitter
        factors = (
            float(jitter_rng.uniform(max(0.0, 1 - b), 1 + b)),
            float(jitter_rng.uniform(max(0.0, 1 - c), 1 + c)),
            float(jitter_rng.uniform(max(0.0, 1 - s), 1 + s)),
            float(jitter_rng.uniform(-h, h)),
        )
        order = tuple(int(op) for op in jitter_rng.permutation(4))
    gray = bool(rng.random() < params.grayscale_p)
    blur = bool(rng.random() < params.blur_p)
    sigma = float(rng.uniform(params.blur_sigma[0], params.blur_sigma[1]))
    solarize = bool(rng.random() < params.solarize_p)
    return ViewDraw(box, flip, jitter, factors, order, gray, blur, sigma, solarize)


def draw_sample_views(
    maker: SAIPViewMaker, seed: int, epoch: int, index: int, height: int, width: int
) -> dict[str, list[ViewDraw]]:
    """``{"global": 2 draws, "local": n_local draws}`` for sample ``index`` of an ``height × width`` image."""
    c = maker.config
    ratio_g, ratio_l = c.crop_ratio("global"), c.crop_ratio("local")
    return {
        "global": [
            draw_view(
                numpy_rng(seed, epoch, index, STREAM_VIEWS, v),
                height,
                width,
                c.global_scale,
                ratio_g,
                maker.global_params[v],
            )
            for v in range(2)
        ],
        "local": [
            draw_view(
                numpy_rng(seed, epoch, index, STREAM_VIEWS, 2 + i),
                height,
                width,
                c.local_scale,
                ratio_l,
                maker.local_params,
            )
            for i in range(c.n_local)
        ],
    }


def pack_draws(draws: list[ViewDraw], scale_yx: tuple[float, float]) -> dict[str, np.ndarray]:
    """Arrays (V, ...) of one sample's views; boxes become float ``(x1, y1, x2, y2)`` in a frame
    scaled by ``scale_yx`` (the decoded image's size over the source image's)."""
    sy, sx = scale_yx
    boxes = [
        (left * sx, top * sy, (left + w) * sx, (top + h) * sy) for top, left, h, w in (d.box for d in draws)
    ]
    return {
        "box": np.asarray(boxes, dtype=np.float32).reshape(len(draws), 4),
        "flip": np.asarray([d.flip for d in draws], dtype=bool),
        "jitter": np.asarray([d.jitter for d in draws], dtype=bool),
        "factors": np.asarray([d.factors for d in draws], dtype=np.float32).reshape(len(draws), 4),
        "order": np.asarray([d.order for d in draws], dtype=np.int64).reshape(len(draws), 4),
        "gray": np.asarray([d.gray for d in draws], dtype=bool),
        "blur": np.asarray([d.blur for d in draws], dtype=bool),
        "sigma": np.asarray([d.sigma for d in draws], dtype=np.float32),
        "solarize": np.asarray([d.solarize for d in draws], dtype=bool),
    }
