"""Tests of CSS (cross-scale search): mask downsampling, loss, decoder."""

from __future__ import annotations

import math

import pytest
import torch

import saip  # noqa: F401  (torchvision shim before timm)
from saip.objectives import CSSDecoder, css_loss, downsample_masks


def _naive_bce(logits: torch.Tensor, targets: torch.Tensor) -> float:
    vals = []
    for x, y in zip(logits.flatten().tolist(), targets.flatten().tolist(), strict=True):
        p = 1 / (1 + math.exp(-x))
        vals.append(-(y * math.log(p) + (1 - y) * math.log(1 - p)))
    return sum(vals) / len(vals)


def _naive_dice(logits: torch.Tensor, targets: torch.Tensor) -> float:
    B, Q = logits.shape[:2]
    total = 0.0
    for b in range(B):
        for q in range(Q):
            ps = [1 / (1 + math.exp(-x)) for x in logits[b, q].flatten().tolist()]
            ys = targets[b, q].flatten().tolist()
            inter = sum(p * y for p, y in zip(ps, ys, strict=True))
            total += 1 - (2 * inter + 1) / (sum(ps) + sum(ys) + 1)
    return total / (B * Q)


def test_area_downsampling_of_a_box_by_hand() -> None:
    m = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    m[0, 0, 0:4, 0:3] = True  # 4x3 box in the top-left corner
    y = downsample_masks(m, (4, 4))  # 2x2 pixels per cell
    expected = torch.zeros(4, 4)
    expected[0:2, 0] = 1.0  # fully covered cells
    expected[0:2, 1] = 0.5  # column 2 only: half of the cell
    torch.testing.assert_close(y[0, 0], expected)


def test_css_loss_matches_naive_bce_and_dice() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 2, 3, 4, generator=g) * 2
    masks = torch.rand(2, 2, 3, 4, generator=g) > 0.6
    assert css_loss(logits, masks).item() == pytest.approx(_naive_bce(logits, masks.float()), rel=1e-5)
    # Soft targets after area downsampling (6x8 canvas -> 3x4 grid).
    big = torch.rand(2, 2, 6, 8, generator=g) > 0.5
    soft = downsample_masks(big, (3, 4))
    assert ((soft > 0) & (soft < 1)).any()
    expected = _naive_bce(logits, soft) + 0.5 * _naive_dice(logits, soft)
    assert css_loss(logits, big, dice_weight=0.5).item() == pytest.approx(expected, rel=1e-5)


def _tiny_decoder(**kw: object) -> CSSDecoder:
    return CSSDecoder(16, **{"canvas_dim": 12, "hidden_dim": 32, "num_heads": 4, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize("Q", [1, 2])
def test_decoder_shape(Q: int) -> None:
    dec = _tiny_decoder()
    out = dec(torch.randn(3 * Q, 7, 16), torch.randn(3, 12, 6, 5), queries_per_canvas=Q)
    assert out.shape == (3, Q, 6, 5)
    with pytest.raises(ValueError):
        dec(torch.randn(3 * Q + 1, 7, 16), torch.randn(3, 12, 6, 5), queries_per_canvas=Q)


def test_decoder_default_config_shape() -> None:
    out = CSSDecoder(192)(torch.randn(4, 51, 192), torch.randn(2, 192, 14, 14), queries_per_canvas=2)
    assert out.shape == (2, 2, 14, 14)


def test_several_queries_equal_separate_calls() -> None:
    torch.manual_seed(0)
    dec = _tiny_decoder().eval()
    B, Q = 2, 3
    queries = torch.randn(B * Q, 5, 16)
    canvas = torch.randn(B, 12, 4, 3)
    together = dec(queries, canvas, queries_per_canvas=Q)
    for b in range(B):
        for q in range(Q):
            alone = dec(queries[b * Q + q : b * Q + q + 1], canvas[b : b + 1])
            torch.testing.assert_close(together[b, q], alone[0, 0], rtol=1e-5, atol=1e-5)


def test_grad_reaches_every_parameter() -> None:
    torch.manual_seed(0)
    dec = _tiny_decoder()
    logits = dec(torch.randn(4, 5, 16), torch.randn(2, 12, 4, 3), queries_per_canvas=2)
    masks = torch.rand(2, 2, 8, 6) > 0.5
    css_loss(logits, masks, dice_weight=1.0).backward()
    for name, prm in dec.named_parameters():
        assert prm.grad is not None and prm.grad.abs().sum() > 0, name


def test_css_loss_decreases() -> None:
    torch.manual_seed(0)
    B, Q = 2, 2
    canvas = torch.randn(B, 12, 6, 4)  # expert canvas tokens (fixed)
    query_in = torch.randn(B * Q, 5, 16)
    masks = torch.zeros(B, Q, 12, 8, dtype=torch.bool)  # boxes aligned to the 6x4 cells: binary targets
    masks[0, 0, 0:6, 0:4] = True
    masks[0, 1, 4:12, 4:8] = True
    masks[1, 0, 2:8, 2:6] = True
    masks[1, 1, 8:12, 0:8] = True
    encoder = torch.nn.Linear(16, 16)
    dec = _tiny_decoder()
    opt = torch.optim.Adam([*encoder.parameters(), *dec.parameters()], lr=3e-3)
    losses = []
    for _ in range(50):
        loss = css_loss(dec(encoder(query_in), canvas, queries_per_canvas=Q), masks)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses
