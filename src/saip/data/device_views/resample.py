"""Batched crop-and-resize as two matrix products: the device path's random resized crop and paste.

A separable resampling of an image ``(C, H, W)`` to ``(h, w)`` is ``Wy @ image @ Wx^T`` with one
row of weights per output pixel. Building ``Wy`` (B, h, H) and ``Wx`` (B, w, W) per sample lets two
batched matmuls crop, resize and flip one view of every sample of a batch, each with its own box
(method.md §1 item 1, DINO's ``RandomResizedCrop`` + ``RandomHorizontalFlip``), and paste one person
into every canvas at its own box (item 3) — Python loops run over views and persons, never samples.

The weights are those of Pillow's ``Image.resize(size, BICUBIC, box=...)`` (which the loader path
uses, :func:`saip.data.augment.make_view`) and of torch's ``F.interpolate(mode="bicubic",
antialias=True)`` (which :func:`saip.data.rescale.resize_batch` and :func:`saip.data.canvas.resize_person`
use): the cubic kernel with ``a = -0.5``, its support widened by the downscale factor
(antialiasing), output pixel ``o`` centred at ``start + (o + 0.5) * (end - start) / out_len``, weights
normalised per row. ``clip_to_box=False`` reads input pixels just outside the box, as Pillow does;
``clip_to_box=True`` reads only pixels inside it, as slicing the box out and interpolating does.

Why matrices rather than ``torchvision.ops.roi_align`` or ``F.grid_sample``: roi_align is bilinear
with box-average antialiasing and grid_sample is bilinear/bicubic without antialiasing, so neither
reproduces the reference (Pillow's antialiased bicubic) crop, and torchvision's compiled ops are not
even loadable on CPU-only installs (``saip._torchvision_compat``); kornia would add a dependency
whose random parameters come from its own generator. The matmuls are exact, run anywhere torch
runs, and cost ~0.35 G multiply-adds per sample at the paper's shapes (views, background, pastes).
"""

from __future__ import annotations

import torch

_A = -0.5  # cubic coefficient of Pillow's BICUBIC and of torch's antialiased bicubic


def cubic_kernel(x: torch.Tensor) -> torch.Tensor:
    """Keys' cubic convolution kernel with ``a = -0.5`` (zero for ``|x| >= 2``)."""
    x = x.abs()
    near = ((_A + 2.0) * x - (_A + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * _A
    return torch.where(x < 1.0, near, torch.where(x < 2.0, far, torch.zeros_like(x)))


def resample_weights(
    start: torch.Tensor,
    end: torch.Tensor,
    in_len: int,
    out_len: int,
    out_start: torch.Tensor | None = None,
    out_end: torch.Tensor | None = None,
    flip: torch.Tensor | None = None,
    clip_to_box: bool = False,
) -> torch.Tensor:
    """``(N, out_len, in_len)`` float32 weights mapping input segment ``[start, end)`` to the output.

    Args:
        start, end: (N,) float input segment per row of the batch (pixel edges, end > start).
        in_len, out_len: input and output lengths.
        out_start, out_end: (N,) integer-valued output segment the input lands in (default the whole
            output); output pixels outside it get all-zero rows (used to paste into a canvas).
        flip: (N,) bool; reverses the output segment (a horizontal flip after the resize).
        clip_to_box: read only input pixels inside ``[start, end)`` (slicing semantics) instead of
            every pixel of the image the kernel reaches (Pillow's box semantics).
    """
    device = start.device
    start, end = start.to(torch.float32), end.to(torch.float32)
    n = start.shape[0]
    if out_start is None:
        out_start = torch.zeros(n, device=device)
    if out_end is None:
        out_end = torch.full((n,), float(out_len), device=device)
    out_start, out_end = out_start.to(torch.float32), out_end.to(torch.float32)
    scale = (end - start) / (out_end - out_start)  # input pixels per output pixel
    support = scale.clamp(min=1.0)  # kernel widened when downscaling (antialias)
    out = torch.arange(out_len, device=device, dtype=torch.float32)
    local = out[None, :] - out_start[:, None]  # output index inside its segment
    if flip is not None:
        length = out_end - out_start
        local = torch.where(flip[:, None], length[:, None] - 1.0 - local, local)
    center = start[:, None] + (local + 0.5) * scale[:, None]  # (N, out)
    pixel = torch.arange(in_len, device=device, dtype=torch.float32) + 0.5
    weights = cubic_kernel((pixel[None, None, :] - center[:, :, None]) / support[:, None, None])
    if clip_to_box:
        inside = (pixel[None, :] > start[:, None]) & (pixel[None, :] < end[:, None])
        weights = weights * inside[:, None, :]
    total = weights.sum(-1, keepdim=True)
    weights = weights / torch.where(total == 0, torch.ones_like(total), total)
    rows = (out[None, :] >= out_start[:, None]) & (out[None, :] < out_end[:, None])
    return weights * rows[:, :, None]


def apply_weights(images: torch.Tensor, wy: torch.Tensor, wx: torch.Tensor) -> torch.Tensor:
    """``wy @ image @ wx^T`` per sample: (B, C, H, W), (B, h, H), (B, w, W) → (B, C, h, w).

    The vertical pass, then the horizontal one, each one batched matmul.
    """
    B, C = images.shape[:2]
    h, w = wy.shape[1], wx.shape[1]
    columns = torch.einsum("byh,bchw->bcyw", wy, images).reshape(B, C * h, -1)
    return torch.bmm(columns, wx.transpose(1, 2)).view(B, C, h, w)


def crop_resize(
    images: torch.Tensor,
    boxes: torch.Tensor,
    size: tuple[int, int],
    flip: torch.Tensor | None = None,
    clip_to_box: bool = False,
) -> torch.Tensor:
    """Crop box ``(x1, y1, x2, y2)`` (float pixel edges) of the images, resized to ``size`` = (h, w).

    ``images`` (B, C, H, W) float; ``boxes`` (V·B, 4) and ``flip`` (V·B,) bool, view-major (box
    ``v·B + b`` is cut from image ``b``; V = 1 for one box per image) → (V·B, C, h, w), not clamped.
    With the default ``clip_to_box=False`` this is ``PIL.Image.resize((w, h), BICUBIC, box=box)``
    (then a horizontal flip where ``flip``), up to Pillow's 8-bit rounding between its two passes.
    One view index at a time, so the weights and intermediates stay at one view's size.
    """
    B, C, H, W = images.shape
    V = boxes.shape[0] // B
    boxes = boxes.to(device=images.device, dtype=torch.float32)
    images = images.to(torch.float32)
    out = images.new_empty(V * B, C, *size)
    for v in range(V):
        rows = slice(v * B, (v + 1) * B)
        box = boxes[rows]
        wy = resample_weights(box[:, 1], box[:, 3], H, size[0], clip_to_box=clip_to_box)
        wx = resample_weights(
            box[:, 0],
            box[:, 2],
            W,
            size[1],
            flip=None if flip is None else flip[rows],
            clip_to_box=clip_to_box,
        )
        out[rows] = apply_weights(images, wy, wx)
    return out


def paste_resized(
    canvas: torch.Tensor, sources: torch.Tensor, boxes: torch.Tensor, alpha: float = 1.0
) -> torch.Tensor:
    """Each whole source resized into its integer box ``(x1, y1, x2, y2)`` of the canvas (half-open).

    ``canvas`` (N, C, Hc, Wc), ``sources`` (N, C, h, w) → new canvas with
    ``alpha * resized + (1 - alpha) * canvas`` inside each box, the canvas elsewhere; the resized
    person equals ``F.interpolate(source, box size, mode="bicubic", antialias=True)``.
    """
    N, _, Hc, Wc = canvas.shape
    h, w = sources.shape[-2:]
    boxes = boxes.to(device=canvas.device, dtype=torch.float32)
    zeros, heights, widths = (
        boxes.new_zeros(N),
        boxes.new_full((N,), float(h)),
        boxes.new_full((N,), float(w)),
    )
    wy = resample_weights(zeros, heights, h, Hc, out_start=boxes[:, 1], out_end=boxes[:, 3])
    wx = resample_weights(zeros, widths, w, Wc, out_start=boxes[:, 0], out_end=boxes[:, 2])
    pasted = apply_weights(sources, wy, wx)
    inside = box_masks(boxes[:, None].long(), (Hc, Wc))[:, 0, None]  # (N, 1, Hc, Wc)
    blended = pasted if alpha >= 1.0 else canvas * (1.0 - alpha) + pasted * alpha
    return torch.where(inside, blended, canvas)


def box_masks(boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, K, 4) integer boxes ``(x1, y1, x2, y2)``, half-open → (B, K, H, W) bool rectangles."""
    ys = torch.arange(size[0], device=boxes.device)
    xs = torch.arange(size[1], device=boxes.device)
    in_y = (ys >= boxes[..., 1, None]) & (ys < boxes[..., 3, None])  # (B, K, H)
    in_x = (xs >= boxes[..., 0, None]) & (xs < boxes[..., 2, None])  # (B, K, W)
    return in_y[..., :, None] & in_x[..., None, :]
